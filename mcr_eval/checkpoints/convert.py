"""Write an encoder in the layouts other tools load.

* ``torchvision``: a plain state dict (``.pth`` via ``torch.save``, or ``.safetensors``) without ``fc``.
* ``mmdet``: ``{"state_dict": {"backbone." + name: tensor}, "meta": {...}}``, which MMDetection's
  ``ResNet`` loads through ``init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')``
  (MMDetection's ResNet uses torchvision's names: ``conv1``, ``bn1``, ``layerN.i.convK``,
  ``downsample.0/1``).
* ``detectron2``: a ``.pkl`` holding ``{"model": {name: numpy array}, "__author__": "mcr",
  "matching_heuristics": True}`` with the renaming rules of MoCo's
  ``detection/convert-pretrain-to-detectron2.py`` (He et al., 2020): a key without ``layer`` gets
  ``stem.``; ``layerN`` -> ``res{N+1}``; ``bnK`` -> ``convK.norm``; ``downsample.0`` -> ``shortcut``;
  ``downsample.1`` -> ``shortcut.norm``. This pickle of numpy arrays is detectron2's own format; only
  open such files from sources you trust.

Outputs are written atomically with mode 0644; temp files a killed conversion left beside the output are
removed first. The stem's padding is not a tensor, so it does not survive the conversion: when it differs
from our default for the stem (a solo-learn CIFAR stem pads by 2), a note says which ``--stem-padding`` to
evaluate the output with. The mmdet target records it in its ``meta``.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mcr_eval.checkpoints.loader import encoder_state, load_encoder
from mcr_eval.checkpoints.safe_io import atomic_write, clean_stale_outputs, save_state_dict
from mcr_train.errors import ConfigError
from mcr_train.models.backbone import DEFAULT_STEM_PADDING

TARGETS = ("torchvision", "mmdet", "detectron2")
MMDET_PREFIX = "backbone."


def detectron2_name(name: str) -> str:
    """MoCo's torchvision -> detectron2 ResNet renaming, applied to one key."""
    if "layer" not in name:
        name = "stem." + name
    for stage in (1, 2, 3, 4):
        name = name.replace(f"layer{stage}", f"res{stage + 1}")
    for index in (1, 2, 3):
        name = name.replace(f"bn{index}", f"conv{index}.norm")
    return name.replace("downsample.0", "shortcut").replace("downsample.1", "shortcut.norm")


def to_mmdet(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {MMDET_PREFIX + k: v for k, v in state.items()}


def to_detectron2(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    model = {
        detectron2_name(k): v.detach().cpu().numpy() for k, v in state.items() if not k.endswith("num_batches_tracked")
    }
    return {"model": model, "__author__": "mcr", "matching_heuristics": True}


def convert_checkpoint(
    src: str | Path,
    target: str,
    out: str | Path,
    format: str | None = None,
    arch: str | None = None,
    stem: str | None = None,
    width: int | None = None,
    stem_padding: int | None = None,
    report: Callable[[str], None] | None = None,
    dtype: str = "float32",
) -> Path:
    """Load ``src`` (any supported layout) and write it to ``out`` in the ``target`` layout; ``dtype="float16"``
    halves a torchvision checkpoint's floating tensors (loaders cast them back to float32), e.g. to commit
    encoders next to a report."""
    if target not in TARGETS:
        raise ConfigError(f"unknown conversion target '{target}'; choose one of {', '.join(TARGETS)}")
    if dtype not in ("float32", "float16") or (dtype == "float16" and target != "torchvision"):
        raise ConfigError(f"--dtype {dtype} is not available for --to {target}; use --dtype float16 only with "
                          "--to torchvision (float32 otherwise)")
    report = report or (lambda line: print(line, file=sys.stderr))
    out = Path(out)
    clean_stale_outputs(out)
    model, meta = load_encoder(src, format=format, arch=arch, stem=stem, width=width, stem_padding=stem_padding)
    if meta["stem_padding"] != DEFAULT_STEM_PADDING[meta["stem"]]:
        report(
            f"[mcr-eval] note: this encoder's {meta['stem']} stem pads by {meta['stem_padding']}, which the "
            f"converted weights cannot record; evaluate '{out}' with --stem-padding {meta['stem_padding']}"
        )
    state = encoder_state(model)
    if target == "torchvision":
        if dtype == "float16":
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        return save_state_dict(state, out)
    if target == "mmdet":
        keys = ("arch", "stem", "stem_padding", "width", "source_format", "checkpoint_sha256")
        info = {k: meta[k] for k in keys}
        payload = {"state_dict": {k: v.contiguous() for k, v in to_mmdet(state).items()}, "meta": info}
        return atomic_write(out, lambda tmp: torch.save(payload, tmp))
    if out.suffix != ".pkl":
        raise ConfigError(f"detectron2 checkpoints are .pkl files; name the output '{out.with_suffix('.pkl')}'")
    payload = to_detectron2(state)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            pickle.dump(payload, handle)

    return atomic_write(out, write)
