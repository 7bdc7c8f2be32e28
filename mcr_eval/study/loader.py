"""Build a :class:`~mcr_eval.study.types.Study` from a study config: an mmengine config under ``configs/studies``
(shared blocks inherited through ``_base_``) and the Markdown prose beside it.

The run grid is data. Each entry of ``runs`` expands to methods x regularizers x seeds x variants (x lr_factors)::

    runs = [dict(methods=['simclr'], regularizers=['none', 'mcr'], seeds=[0, 1, 2], variants=['{lr}-2x'],
                 lr_chosen_by='lr-selection/scenes-full-lr', options=['schedule.epochs=60'])]

A group may set ``iters`` (default ``scale.iters``), ``lr_factors`` (tried on every side; default ``[1.0]``) or
``lr_chosen_by`` (the selection study whose ``chosen.json`` gives each side's factor), ``monitor`` (default True:
prefix the study's online-kNN ``monitor`` options), ``options`` (more ``--cfg-options``) and ``config`` (a training
config template; default the study's ``train_config``). ``{lr}`` in a variant is the factor's tag (``lr0p5``).

``borrow`` takes runs trained by another study without retraining them: ``dict(study='scenes', runs=SELECTOR)``.
A SELECTOR is a dict of run fields (method, regularizer, seed, variant, iters), each a value or a list of values;
``attribution``, ``tables`` rows and ``spread`` name runs the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcr_eval.study.lr_selection import read_chosen
from mcr_eval.study.paths import STUDY_CONFIGS, study_name
from mcr_eval.study.types import Run, Scale, Study, Table
from mcr_train.errors import ConfigError

DEFAULT_TRAIN_CONFIG = "configs/train/{recipe}_resnet18-cifar_1xb128-30e_{dataset}.py"
_SELECTABLE = ("method", "regularizer", "seed", "variant", "iters")


def resolve_config(spec: str | Path) -> Path:
    """A study config path, or a study's name under ``configs/studies`` (``scenes``, ``lr-selection/...``)."""
    path = Path(spec)
    if path.is_file():
        return path.resolve()
    named = STUDY_CONFIGS / f"{spec}.py"
    if named.is_file():
        return named
    known = sorted(p.relative_to(STUDY_CONFIGS).with_suffix("").as_posix() for p in STUDY_CONFIGS.rglob("*.py")
                   if "_base_" not in p.parts)
    raise ConfigError(f"study config {spec} not found; pass a config file or one of: {', '.join(known)}")


def _lr_tag(factor: float) -> str:
    return f"lr{factor:g}".replace(".", "p")


def _expand(group: Mapping[str, Any], cfg: Any, scale: Scale) -> list[Run]:
    unknown = set(group) - {"methods", "regularizers", "seeds", "variants", "lr_factors", "lr_chosen_by", "iters",
                            "monitor", "options", "config"}
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)} in a runs group; allowed: methods, regularizers, seeds, "
                          "variants, lr_factors, lr_chosen_by, iters, monitor, options, config")
    chosen = read_chosen(group["lr_chosen_by"]) if "lr_chosen_by" in group else None
    options = (*(cfg.get("monitor", []) if group.get("monitor", True) else []), *group.get("options", []))
    template = group.get("config", cfg.get("train_config", DEFAULT_TRAIN_CONFIG))
    runs = []
    for seed in group["seeds"]:
        for method in group["methods"]:
            for regularizer in group.get("regularizers", ["none", "mcr"]):
                if chosen is not None:
                    if (method, regularizer) not in chosen:
                        raise ConfigError(f"the '{group['lr_chosen_by']}' selection chose no rate for {method} with "
                                          f"regularizer {regularizer}; run that selection for it first")
                    factors = [chosen[(method, regularizer)]]
                else:
                    factors = group.get("lr_factors", [1.0])
                for variant in group.get("variants", [""]):
                    for factor in factors:
                        fields = dict(method=method, regularizer=regularizer, seed=seed,
                                      variant=variant.format(lr=_lr_tag(factor)),
                                      recipe=method + ("-mcr" if regularizer == "mcr" else ""),
                                      dataset=cfg.get("dataset", ""))
                        runs.append(Run(method, regularizer, seed, fields["variant"], template.format(**fields),
                                        int(group.get("iters", scale.iters)), tuple(options), float(factor),
                                        group.get("lr_chosen_by", "")))
    return runs


def select(runs: list[Run] | tuple[Run, ...], selector: Mapping[str, Any], where: str) -> list[Run]:
    """The runs whose fields match a selector (a value, or a list of accepted values, per field)."""
    bad = set(selector) - set(_SELECTABLE)
    if bad:
        raise ConfigError(f"{where}: runs are selected by {', '.join(_SELECTABLE)}, not {sorted(bad)}")

    def matches(run: Run) -> bool:
        return all(getattr(run, k) in (v if isinstance(v, (list, tuple)) else [v]) for k, v in selector.items())

    chosen = [r for r in runs if matches(r)]
    if not chosen:
        raise ConfigError(f"{where}: no run matches {dict(selector)}; runs: {', '.join(r.name for r in runs)}")
    return chosen


def _prose(config: Path) -> tuple[str, str]:
    """(title, body) of the Markdown beside a config: its first ``# `` line is the title."""
    md = config.with_suffix(".md")
    if not md.is_file():
        return config.stem, ""
    lines = md.read_text().strip().splitlines()
    if lines and lines[0].startswith("# "):
        return lines[0][2:].strip(), "\n".join(lines[1:]).strip()
    return config.stem, "\n".join(lines).strip()


def load_study(spec: str | Path, _seen: tuple[Path, ...] = ()) -> Study:
    """The study a config describes, its borrowed runs taken from the studies that own them."""
    from mmengine.config import Config

    path = resolve_config(spec)
    if path in _seen:
        raise ConfigError(f"study {path} borrows from itself through {', '.join(map(str, _seen))}; remove the cycle")
    cfg = Config.fromfile(str(path))
    name = study_name(path)
    scale = Scale(**cfg.get("scale", {}))
    runs: list[Run] = []
    for group in cfg.get("runs", []):
        runs += _expand(group, cfg, scale)
    for borrowed in cfg.get("borrow", []):
        home = load_study(borrowed["study"], (*_seen, path))
        for run in select(home.runs, borrowed.get("runs", {}), f"{name}: borrow from {borrowed['study']}"):
            runs.append(Run(**{**run.__dict__, "home": run.home or home.name}))
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{name}: two runs share a name ({sorted({n for n in names if names.count(n) > 1})}); "
                          "give them different variants")

    def names_of(selector: Mapping[str, Any], where: str) -> tuple[str, ...]:
        return tuple(r.name for r in select(runs, selector, f"{name}: {where}"))

    tables = tuple(Table(t["title"], tuple((label, names_of(sel, f"table '{t['title']}' row '{label}'"))
                                           for label, sel in t["rows"]))
                   for t in cfg.get("tables", []))
    spread = cfg.get("spread")
    title, prose = _prose(path)
    report = cfg.get("report", "grid")
    return Study(
        name=name, config=path, title=title, prose=prose, runs=tuple(runs), train_data=cfg.train_data,
        eval_data=cfg.eval_data, audit=cfg.get("audit", "none"), scale=scale, audit_n=cfg.get("audit_n", 1000),
        counterfactuals=cfg.get("counterfactuals", 100), test_data=cfg.get("test_data"),
        attribution=tuple(n for sel in cfg.get("attribution", []) for n in names_of(sel, "attribution")),
        report=report, tables=tables,
        spread=(spread["label"], names_of(spread["runs"], "spread")) if spread else None,
        contrasts=tuple(tuple(c) for c in cfg.get("contrasts", [])),
        parts=tuple(tuple(p) for p in cfg.get("parts", [])),
        references=bool(cfg.get("references", report == "grid")),
        out=str(cfg.get("out", "")))

