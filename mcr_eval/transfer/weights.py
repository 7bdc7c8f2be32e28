"""Encoder checkpoint -> MMDetection initialization, and the check that it fits a config's backbone.

Any checkpoint ``mcr_eval.checkpoints.load_encoder`` reads (our ``encoder.safetensors`` + ``encoder.json``,
torchvision, solo-learn, MMPretrain/MMSelfSup, lightly, MoCo) is rebuilt, and its backbone tensors are
written in MMSelfSup's benchmark layout: a plain ``{"state_dict": {"backbone." + torchvision name: tensor},
"meta": {...}}`` file of tensors and strings, which mmengine's ``Pretrained`` init reads with
``torch.load(weights_only=True)`` through ``init_cfg=dict(type='Pretrained', checkpoint=PATH,
prefix='backbone.')``. MMDetection's ``ResNet`` (``style='pytorch'``) and the C4 ``ResLayer`` use
torchvision's parameter names, so no renaming is needed. CIFAR-stem encoders (3x3 stride-1 ``conv1``, no
max-pool) go into :class:`~mcr_eval.transfer.mmdet_modules.CifarStemResNet`, whose stem keeps those names
(``conv1``, ``bn1``); :func:`mcr_eval.transfer.config.set_backbone_stem` switches the config to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mcr_eval.checkpoints import encoder_state, load_encoder
from mcr_eval.checkpoints.convert import MMDET_PREFIX, to_mmdet
from mcr_eval.checkpoints.safe_io import atomic_write
from mcr_eval.transfer.config import STEM_STRIDES, backbone_stem
from mcr_train.errors import CheckpointError

RANDOM_INIT = "random"
TRACKED_SUFFIX = "num_batches_tracked"
MMDET_DEPTHS = {18: "resnet18", 34: "resnet34", 50: "resnet50"}


@dataclass
class PretrainedWeights:
    """Backbone weights ready for mmdet: the converted file, its tensors and the encoder's metadata."""

    path: Path | None  # None for the random-init baseline
    state: dict[str, torch.Tensor] = field(default_factory=dict)  # torchvision names
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_random(self) -> bool:
        return self.path is None


def record_method(meta: dict[str, Any]) -> str:
    """The ``method`` of result records: the SSL method, or ``supervised`` for a torchvision state dict."""
    if meta.get("method"):
        return str(meta["method"])
    return "supervised" if meta.get("source_format") == "torchvision" else str(meta.get("source_format", "unknown"))


def prepare_pretrained(checkpoint: str | Path, out_dir: str | Path, format: str | None = None,
                       quiet: bool = False) -> PretrainedWeights:
    """Load ``checkpoint`` and write ``out_dir/encoder_mmdet.pth`` for ``init_cfg`` (atomic; rank-safe)."""
    report = (lambda line: None) if quiet else None
    model, meta = load_encoder(checkpoint, format=format, report=report)
    if meta.get("stem") not in STEM_STRIDES:
        raise CheckpointError(f"encoder '{checkpoint}' has stem {meta.get('stem')!r}, which no detection backbone "
                              f"holds; detection transfer needs an encoder with a stem in {sorted(STEM_STRIDES)}")
    state = encoder_state(model)
    meta = {**meta, "method": record_method(meta)}
    info = {k: str(meta[k]) for k in ("arch", "stem", "width", "source_format", "checkpoint_sha256")}
    payload = {"state_dict": {k: v.contiguous() for k, v in to_mmdet(state).items()}, "meta": info}
    path = atomic_write(Path(out_dir) / "encoder_mmdet.pth", lambda tmp: torch.save(payload, tmp))
    return PretrainedWeights(path=path, state=state, meta=meta)


def random_init_weights(model_cfg: dict) -> PretrainedWeights:
    """The random-init baseline: no file; metadata describing the config's own backbone (its stem included)."""
    backbone = model_cfg.get("backbone", {})
    depth = int(backbone.get("depth", 50))
    width = int(backbone.get("base_channels", 64))
    meta = {"run": "random-init", "method": "random-init", "regularizer": {"type": "none"},
            "arch": MMDET_DEPTHS.get(depth, f"resnet{depth}"), "stem": backbone_stem(backbone), "width": width,
            "pretrain_data": "none", "epochs": 0, "seed": None, "source_format": "none"}
    return PretrainedWeights(path=None, meta=meta)


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items() if not k.endswith(TRACKED_SUFFIX)}


def config_backbone_shapes(model_cfg: dict) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of the config's backbone plus a C4 shared head (``layer4`` in torchvision names)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.registry import DefaultScope

    import mcr_eval.transfer.mmdet_modules  # noqa: F401 - registers CifarStemResNet and ResLayerExtraNorm

    register_all_modules(init_default_scope=False)

    def build(cfg: dict) -> torch.nn.Module:
        cfg = {**cfg, "init_cfg": None}
        if cfg.get("norm_cfg", {}).get("type") == "SyncBN":
            cfg["norm_cfg"] = {**cfg["norm_cfg"], "type": "BN"}
        # Another runner in this process (e.g. pretraining) may have left a non-mmdet default scope.
        with DefaultScope.overwrite_default_scope("mmdet"):
            return MODELS.build(cfg)

    shapes = _shapes(build(dict(model_cfg["backbone"])))
    shared = (model_cfg.get("roi_head") or {}).get("shared_head")
    if shared:
        head = _shapes(build(dict(shared)))
        shapes.update({k: v for k, v in head.items() if k.startswith("layer")})  # new layers (norm.*) excluded
    return shapes


def check_fits(weights: PretrainedWeights, model_cfg: dict) -> None:
    """Raise :class:`CheckpointError` unless the encoder's tensors are exactly the config backbone's."""
    if weights.is_random:
        return
    expected = config_backbone_shapes(model_cfg)
    given = {k: tuple(v.shape) for k, v in weights.state.items() if not k.endswith(TRACKED_SUFFIX)}
    missing = [k for k in expected if k not in given]
    unused = [k for k in given if k not in expected]
    wrong = [f"{k} {given[k]} vs {expected[k]}" for k in expected if k in given and given[k] != expected[k]]
    if not (missing or unused or wrong):
        return
    problems = []
    if wrong:
        problems.append(f"{len(wrong)} shape mismatches ({'; '.join(wrong[:2])})")
    if missing:
        problems.append(f"{len(missing)} backbone keys missing ({', '.join(missing[:3])})")
    if unused:
        problems.append(f"{len(unused)} encoder keys unused ({', '.join(unused[:3])})")
    backbone = model_cfg["backbone"]
    found = f"{weights.meta['arch']} width {weights.meta['width']}"
    wanted = f"ResNet depth {backbone.get('depth')} base_channels {backbone.get('base_channels', 64)}"
    raise CheckpointError(f"encoder ({found}) does not fit the config backbone ({wanted}): {'; '.join(problems)}; "
                          f"use a detection config of the encoder's architecture (configs/detection/) or pass "
                          f"--cfg-options for model.backbone depth/base_channels and the neck in_channels")


__all__ = ["MMDET_PREFIX", "RANDOM_INIT", "PretrainedWeights", "check_fits", "config_backbone_shapes",
           "prepare_pretrained", "random_init_weights", "record_method"]
