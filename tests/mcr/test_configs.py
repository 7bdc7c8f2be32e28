"""Every ``*-mcr_*`` config is its baseline plus a valid MCR block; ablation configs change one option."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from mmengine.config import Config

from mcr_train.mcr import MCRSettings, regularized_model_class
from mcr_train.methods.registry import get_method

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"
MCR_CONFIGS = sorted(CONFIGS.glob("*-mcr_*.py"))
ABLATIONS = sorted((CONFIGS / "ablations").glob("*.py"))


def test_every_baseline_has_an_mcr_variant():
    baselines = {p.name for p in CONFIGS.glob("*.py") if "-mcr_" not in p.name}
    variants = {p.name.replace("-mcr_", "_", 1) for p in MCR_CONFIGS}
    assert baselines and baselines == variants


@pytest.mark.parametrize("path", MCR_CONFIGS, ids=lambda p: p.stem)
def test_mcr_config_is_the_baseline_plus_the_block(path):
    cfg = Config.fromfile(str(path))
    base = Config.fromfile(str(CONFIGS / path.name.replace("-mcr_", "_", 1)))
    extra = set(cfg.keys()) - set(base.keys())
    assert extra == {"regularizer"}
    for key in base:
        assert cfg[key] == base[key], key
    MCRSettings.from_config(cfg.regularizer)


@pytest.mark.parametrize("path", [p for p in MCR_CONFIGS if p.name.endswith("_scenes.py")], ids=lambda p: p.stem)
def test_scenes_mcr_configs_build(path):
    cfg = Config.fromfile(str(path))
    model_kwargs = {k: v for k, v in cfg.model.items() if k != "type"}
    model = regularized_model_class(get_method(cfg.model.type), cfg.regularizer)(**model_kwargs)
    assert model.compmod.out_dim == model.method.embed_dim


def inherited_config(path: Path) -> Path:
    """The one config in ``path``'s ``_base_`` list (ablations inherit an MCR config or another ablation)."""
    tree = ast.parse(path.read_text())
    bases = [node.value for node in tree.body if isinstance(node, ast.Assign)
             and any(isinstance(t, ast.Name) and t.id == "_base_" for t in node.targets)]
    assert len(bases) == 1, "an ablation config inherits exactly one config"
    (base,) = ast.literal_eval(bases[0])
    return (path.parent / base).resolve()


@pytest.mark.parametrize("path", ABLATIONS, ids=lambda p: p.stem)
def test_ablation_changes_one_option(path):
    cfg = Config.fromfile(str(path))
    parent = inherited_config(path)
    assert parent.name.startswith(path.name.split("-mcr-")[0] + "-mcr")  # same method
    main = Config.fromfile(str(parent))
    settings, reference = MCRSettings.from_config(cfg.regularizer), MCRSettings.from_config(main.regularizer)
    changed = [k for k, v in vars(settings).items() if v != vars(reference)[k]]
    assert len(changed) == 1, changed
    assert cfg.model == main.model
