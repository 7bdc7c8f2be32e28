"""Every training config parses, names a registered method/view/backbone, and its model options bind."""

from __future__ import annotations

import inspect
import re

import pytest
from mmengine.config import Config

from mcr_train.cli import check_backbone
from mcr_train.methods.registry import get_method
from mcr_train.views import VIEW_RECIPES
from tests.train.conftest import CONFIGS, METHOD_NAMES

ALL = sorted(p for p in CONFIGS.glob("*.py") if "-" not in p.name.split("_")[0])  # base methods only
DATASETS = ["scenes", "cifar10", "cifar100", "stl10", "tiny-imagenet", "imagenet100", "imagenet"]


def test_one_config_per_method_and_dataset():
    names = [p.name for p in ALL]
    for method in METHOD_NAMES:
        for dataset in DATASETS:
            assert sum(n.startswith(f"{method}_") and n.endswith(f"_{dataset}.py") for n in names) == 1, (
                method,
                dataset,
            )


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_config_is_consistent(path):
    cfg = Config.fromfile(str(path))
    method = cfg.model.type
    assert path.name.startswith(f"{method}_")
    cls = get_method(method)
    kwargs = {k: v for k, v in cfg.model.items() if k != "type"}
    inspect.signature(cls.__init__).bind(None, **kwargs)
    check_backbone(cfg.model.backbone)
    assert cfg.data.views in VIEW_RECIPES and cfg.data.views.split("_")[0] == method
    assert (cfg.data.views.endswith("_cifar")) == (cfg.model.backbone.stem == "cifar")
    assert cfg.optimizer.type in ("SGD", "LARS") and cfg.optimizer.lr > 0
    epochs = int(re.search(r"-(\d+)e_", path.name).group(1))
    assert cfg.schedule.epochs == epochs
