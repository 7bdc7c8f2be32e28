"""Load a detection config and apply a transfer run's settings (weights, data root, schedule, seed).

Protocol (MoCo detection transfer, He et al., 2020; MMSelfSup ``configs/benchmarks/mmdetection``): the
configs in ``configs/detection/`` fix the model side (SyncBN, ``frozen_stages=-1``, ``norm_eval=False``,
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``). This module only fills in what
varies per run (including the backbone stem and the strides that follow from it) and refuses settings that
would download weights or train on missing data.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mmengine.config import Config

from mcr_eval.transfer.coco_json import check_coco_instances
from mcr_train.errors import ConfigError, DataError

REMOTE_SCHEMES = ("torchvision://", "open-mmlab://", "mmcls://", "http://", "https://", "modelzoo://")
RUNTIME_HOOKS = ("VerifyPretrainedHook",)
# Input pixels per feature cell after the stem: 7x7 stride-2 conv + stride-2 max-pool, or the CIFAR stem's
# stride-1 3x3 conv without max-pool (mcr_train.models.backbone).
STEM_STRIDES = {"imagenet": 4, "cifar": 1}
RESNET_TYPES = ("ResNet", "mmdet.ResNet")
CIFAR_RESNET_TYPES = ("CifarStemResNet", "mmdet.CifarStemResNet")
MMDET_FINEST_SCALE = 56  # SingleRoIExtractor's default RoI size for the first level (FPN paper, eq. 1)


def load_config(path: str | Path, cfg_options: dict | None = None) -> Config:
    """``Config.fromfile`` with a user-facing error for a missing or broken file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"detection config '{path}' does not exist; pass one of configs/detection/*.py")
    try:
        cfg = Config.fromfile(str(path))
    except Exception as exc:  # noqa: BLE001 - mmengine raises many types for a broken config
        raise ConfigError(f"cannot load detection config '{path}' ({str(exc).splitlines()[0][:200]}); fix the "
                          "file or pass one of configs/detection/*.py") from None
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def walk_dicts(node: Any) -> Iterator[dict]:
    """Every dict inside a config value (depth first, the node itself included)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk_dicts(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from walk_dicts(value)


def pretrained_inits(model_cfg: dict) -> list[dict]:
    """The ``init_cfg`` dicts of type ``Pretrained`` in the model (backbone, C4 shared head)."""
    found = []
    for node in walk_dicts(model_cfg):
        init = node.get("init_cfg")
        if isinstance(init, dict) and init.get("type") == "Pretrained":
            found.append(init)
    return found


def set_pretrained(cfg: Config, checkpoint: str | None) -> None:
    """Point every ``Pretrained`` init (and the verify hook) at ``checkpoint``; None = random init."""
    for node in walk_dicts(cfg.model):
        init = node.get("init_cfg")
        if isinstance(init, dict) and init.get("type") == "Pretrained":
            if checkpoint is None:
                node["init_cfg"] = None
            else:
                init["checkpoint"] = checkpoint
    hooks = [dict(h) for h in cfg.get("custom_hooks", [])]
    if checkpoint is None:
        hooks = [h for h in hooks if h.get("type") not in RUNTIME_HOOKS]
    else:
        for hook in hooks:
            if hook.get("type") == "VerifyPretrainedHook":
                hook["checkpoint"] = checkpoint
    cfg.custom_hooks = hooks


def backbone_stem(backbone: dict) -> str:
    """``cifar`` for a :class:`~mcr_eval.transfer.mmdet_modules.CifarStemResNet` backbone, else ``imagenet``."""
    return "cifar" if backbone.get("type") in CIFAR_RESNET_TYPES else "imagenet"


def level_strides(backbone: dict, stem: str, levels: int, start_level: int = 0) -> list[int]:
    """Input strides of the backbone's ``out_indices`` outputs (from the neck's ``start_level``), extended by
    2x per extra (FPN) level."""
    strides = list(backbone.get("strides", (1, 2, 2, 2)))
    stride, per_stage = STEM_STRIDES[stem], []
    for step in strides[: int(backbone.get("num_stages", 4))]:
        stride *= int(step)
        per_stage.append(stride)
    out = [per_stage[i] for i in backbone.get("out_indices", (0, 1, 2, 3))][start_level:]
    while len(out) < levels:  # FPN num_outs > inputs: each extra level halves the resolution again
        out.append(out[-1] * 2)
    return out[:levels]


def set_backbone_stem(cfg: Config, stem: str) -> None:
    """Fit the detector to the encoder's stem: backbone type, and every stride that follows from it.

    A CIFAR-stem encoder keeps full resolution in its stem, so its stage outputs are at strides 1, 2, 4, 8
    instead of 4, 8, 16, 32 (the FPN's max-pooled extra level at 16 instead of 64; C4's res4 at 4 instead of
    16). Anchor placement (``AnchorGenerator.strides``) and RoIAlign's spatial scale (RoI extractors'
    ``featmap_strides``) must use the real strides. Pixel-sized settings derived from the strides
    (anchor ``base_sizes``, the extractors' ``finest_scale``) shrink by the same factor, so that every
    anchor and RoI keeps its size in feature cells: the CIFAR stem is meant for images that are that much
    smaller (32 px scenes instead of 128 px). Idempotent: strides are derived from the backbone, not divided.
    """
    if stem not in STEM_STRIDES:
        raise ConfigError(f"unknown encoder stem {stem!r}; detection transfer supports {sorted(STEM_STRIDES)}")
    backbone = cfg.model.backbone
    kind = backbone.get("type")
    if stem == "imagenet":
        if kind in CIFAR_RESNET_TYPES:
            raise ConfigError(f"the config's backbone is {kind} (3x3 stride-1 stem) but the encoder has the imagenet "
                              "stem; use a config with model.backbone.type='ResNet'")
        return
    if kind in RESNET_TYPES:
        if backbone.get("deep_stem") or backbone.get("avg_down"):
            raise ConfigError("the encoder has a cifar stem but the config's ResNet uses deep_stem/avg_down "
                              "(ResNetV1d); use a plain ResNet config (configs/detection/)")
        backbone.type = "CifarStemResNet"
    elif kind not in CIFAR_RESNET_TYPES:
        raise ConfigError(f"the encoder has a cifar stem, which needs a ResNet backbone, but the config's backbone is "
                          f"{kind}; use a ResNet config from configs/detection/")
    # Registers CifarStemResNet now (custom_imports is only read by Config.fromfile), and in the dumped config.
    import mcr_eval.transfer.mmdet_modules  # noqa: F401

    imports = dict(cfg.get("custom_imports") or {"imports": [], "allow_failed_imports": False})
    if "mcr_eval.transfer.mmdet_modules" not in imports["imports"]:
        imports["imports"] = [*imports["imports"], "mcr_eval.transfer.mmdet_modules"]
        cfg.custom_imports = imports
    neck = cfg.model.get("neck")
    start = int(neck.get("start_level", 0)) if isinstance(neck, dict) else 0
    adapted = 0
    for node in walk_dicts(cfg.model):
        if "AnchorGenerator" in str(node.get("type", "")) and node.get("strides"):
            new = level_strides(backbone, stem, len(node["strides"]), start)
            ratio = _first_stride(node["strides"][0]) / new[0]  # old / new, the same on every level
            node["strides"] = new
            if node.get("base_sizes"):
                node["base_sizes"] = [max(1, round(b / ratio)) for b in node["base_sizes"]]
            adapted += 1
        elif node.get("featmap_strides"):
            new = level_strides(backbone, stem, len(node["featmap_strides"]), start)
            ratio = _first_stride(node["featmap_strides"][0]) / new[0]
            node["featmap_strides"] = new
            if "finest_scale" in node or str(node.get("type", "")).endswith("SingleRoIExtractor"):
                node["finest_scale"] = max(1, round(float(node.get("finest_scale", MMDET_FINEST_SCALE)) / ratio))
            adapted += 1
    if not adapted:
        raise ConfigError("the encoder has a cifar stem but the config has no anchor generator or RoI extractor "
                          "strides to adapt; use a two-stage config from configs/detection/")


def _first_stride(value: Any) -> float:
    return float(value[0] if isinstance(value, (list, tuple)) else value)


def check_offline(cfg: Config) -> None:
    """Refuse configs whose weights would be downloaded (mmdet's shipped ``torchvision://resnet50``)."""
    sources = [str(i.get("checkpoint")) for i in pretrained_inits(cfg.model)]
    sources += [str(cfg.get("load_from") or "")]
    remote = [s for s in sources if s.startswith(REMOTE_SCHEMES)]
    if remote:
        raise ConfigError(f"config would download weights from '{remote[0]}'; override init_cfg with "
                          "dict(type='Pretrained', checkpoint=LOCAL_PATH, prefix='backbone.') as in configs/detection/")


def _datasets(cfg: Config) -> Iterator[dict]:
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        loader = cfg.get(key)
        if loader:
            yield from (d for d in walk_dicts(loader.get("dataset")) if "ann_file" in d)


def _evaluators(cfg: Config) -> Iterator[dict]:
    for key in ("val_evaluator", "test_evaluator"):
        yield from (d for d in walk_dicts(cfg.get(key)) if d.get("ann_file"))


def set_data_root(cfg: Config, root: str) -> None:
    """Replace the config's ``data_root`` in every dataset and evaluator annotation path."""
    old = str(cfg.get("data_root") or "")
    new = root if root.endswith("/") else root + "/"
    for dataset in _datasets(cfg):
        dataset["data_root"] = new
    for evaluator in _evaluators(cfg):
        if old and str(evaluator["ann_file"]).startswith(old):
            evaluator["ann_file"] = new + str(evaluator["ann_file"])[len(old):]
    cfg.data_root = new


def check_annotations(cfg: Config) -> None:
    """Fail early, with the fix, when an annotation file the run needs is missing."""
    paths = []
    for dataset in _datasets(cfg):
        ann = str(dataset["ann_file"])
        paths.append(ann if os.path.isabs(ann) else os.path.join(str(dataset.get("data_root") or ""), ann))
    paths += [str(e["ann_file"]) for e in _evaluators(cfg)]
    for path in paths:
        if not os.path.isfile(path):
            raise DataError(f"annotation file '{path}' not found; pass --data-root with the dataset folder the config "
                            "expects (see docs/transfer.md), e.g. COCO's annotations/instances_val2017.json")
    # COCO instances files are read (once each) now: a corrupt one would otherwise fail inside the dataloader.
    for path in dict.fromkeys(os.path.normpath(p) for p in paths if p.endswith(".json")):
        check_coco_instances(path)


def _scaled_milestones(scheduler: dict, fraction_of: float, max_iters: int) -> list[int]:
    return sorted({max(1, min(max_iters, round(m / fraction_of * max_iters))) for m in scheduler["milestones"]})


def set_max_iters(cfg: Config, max_iters: int) -> None:
    """Run ``max_iters`` iterations (validating once at the end), scaling LR milestones proportionally."""
    if not isinstance(max_iters, int) or max_iters < 1:
        raise ConfigError(f"--max-iters must be a positive integer, got {max_iters!r}; omit it to run the config's "
                          "own schedule")
    old = dict(cfg.train_cfg)
    if old.get("type") == "EpochBasedTrainLoop":
        length = float(old.get("max_epochs", 12))
    else:
        length = float(old.get("max_iters", max_iters))
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
    schedulers = []
    for scheduler in copy.deepcopy(list(cfg.get("param_scheduler") or [])):
        if scheduler.get("type") == "LinearLR":
            scheduler.update(by_epoch=False, begin=0, end=min(int(scheduler.get("end", 500)), max_iters))
        elif scheduler.get("type") == "MultiStepLR":
            scheduler.update(by_epoch=False, begin=0, end=max_iters,
                             milestones=_scaled_milestones(scheduler, length, max_iters))
        schedulers.append(scheduler)
    cfg.param_scheduler = schedulers
    cfg.default_hooks.logger.interval = min(int(cfg.default_hooks.logger.get("interval", 50)), max_iters)
    if cfg.default_hooks.get("checkpoint"):
        cfg.default_hooks.checkpoint.update(by_epoch=False, interval=max_iters)
    cfg.log_processor = dict(cfg.get("log_processor", {}), by_epoch=False)


def set_workers(cfg: Config, workers: int) -> None:
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        if cfg.get(key):
            cfg[key].num_workers = workers
            cfg[key].persistent_workers = workers > 0


def set_pixel_norm(cfg: Config, mean: list[float] | None, std: list[float] | None) -> None:
    """Use the encoder's training normalization (encoder.json, RGB on a 0..1 scale) in the preprocessor."""
    if mean is None or std is None:
        return
    preprocessor = cfg.model.data_preprocessor
    preprocessor.mean = [round(float(m) * 255.0, 4) for m in mean]
    preprocessor.std = [round(float(s) * 255.0, 4) for s in std]
    preprocessor.bgr_to_rgb = True


def schedule_name(cfg: Config) -> str:
    loop = cfg.train_cfg
    if loop.get("type") == "EpochBasedTrainLoop":
        return f"{loop.get('max_epochs')}e"
    return f"{loop.get('max_iters')}i"


def protocol_of(cfg: Config, config_path: str | Path, seed: int, init: str) -> dict[str, Any]:
    """The settings that define a transfer number (stated in every table header)."""
    backbone = cfg.model.backbone
    norm = backbone.get("norm_cfg", {}).get("type", "BN")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return {
        "config": Path(config_path).stem,
        "schedule": schedule_name(cfg),
        "batch_size": int(cfg.train_dataloader.batch_size) * world,
        "lr": float(cfg.optim_wrapper.optimizer.lr),
        "norm": norm,
        "norm_eval": bool(backbone.get("norm_eval", True)),
        "frozen_stages": int(backbone.get("frozen_stages", -1)),
        "init": init,
        "pixel_mean": list(cfg.model.data_preprocessor.get("mean", [])),
        "pixel_std": list(cfg.model.data_preprocessor.get("std", [])),
        "evaluator": str((cfg.get("val_evaluator") or {}).get("type", "")),
        "seed": int(seed),
    }
