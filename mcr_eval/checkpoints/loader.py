"""``load_encoder``: rebuild a ResNet encoder from our export or a foreign checkpoint.

Our export (docs/contracts.md section 1) is ``encoder.safetensors`` + ``encoder.json`` in torchvision key
names; ``encoder.json`` is checked against :func:`mcr_train.export.meta_problems` before any field is used.
Foreign checkpoints are mapped by the exact prefix rules of :mod:`mcr_eval.checkpoints.formats`.
Missing and unexpected keys are printed; a missing key other than the classifier head is an error
(``num_batches_tracked`` counters, which are not weights, may be absent and start at 0). The stem's padding
comes from ``--stem-padding``, else ``encoder.json``, else the layout's (solo-learn's CIFAR stem pads by 2),
and is part of the returned metadata.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mcr_eval.checkpoints.formats import (
    FORMATS,
    Mapped,
    detect_format,
    infer_arch,
    stem_padding_for,
    to_torchvision,
)
from mcr_eval.checkpoints.safe_io import extract_state_dict, file_sha256, read_raw_checkpoint
from mcr_train.errors import CheckpointError
from mcr_train.export import meta_problems
from mcr_train.models.backbone import build_backbone

ENCODER_WEIGHTS = "encoder.safetensors"
ENCODER_META = "encoder.json"


def resolve_paths(path: str | Path) -> tuple[Path, Path | None]:
    """(weights file, meta file or None). A folder must hold ``encoder.safetensors``."""
    path = Path(path)
    if path.is_dir():
        weights = path / ENCODER_WEIGHTS
        if not weights.is_file():
            raise CheckpointError(
                f"folder '{path}' has no {ENCODER_WEIGHTS}; pass the run's work dir that holds "
                f"{ENCODER_WEIGHTS} + {ENCODER_META}, or a checkpoint file"
            )
        path = weights
    meta = path.with_suffix(".json") if path.suffix == ".safetensors" else None
    if meta is not None and not meta.is_file():
        sibling = path.parent / ENCODER_META
        meta = sibling if path.name == ENCODER_WEIGHTS and sibling.is_file() else None
    return path, meta


def read_meta(meta_path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"encoder metadata '{meta_path}' is not valid JSON ({exc}); re-export the encoder "
            "or delete the file to load the weights as a plain torchvision state dict"
        ) from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"encoder metadata '{meta_path}' is not a JSON object; re-export the encoder")
    missing, wrong = meta_problems(meta)
    if missing:
        raise CheckpointError(
            f"encoder metadata '{meta_path}' lacks the required fields {', '.join(missing)}; re-export the encoder "
            "with mcr-train, or delete the file to load the weights as a plain torchvision state dict"
        )
    if wrong:
        raise CheckpointError(
            f"encoder metadata '{meta_path}' has a wrong value: {'; '.join(wrong[:3])}; correct it in the file "
            "or re-export the encoder with mcr-train"
        )
    return meta


def backbone_name(arch: str, stem: str, width: int) -> str:
    """The ``backbone`` field of result records, e.g. ``resnet18-cifar-w16``."""
    return f"{arch}-{stem}-w{width}"


def _fit_state(model: nn.Module, mapped: Mapped, label: str, report: Callable[[str], None]) -> None:
    expected = model.state_dict()
    unexpected = [k for k in mapped.state if k not in expected]
    missing = [k for k in expected if k not in mapped.state]
    wrong_shape = [
        f"{k} {tuple(v.shape)} vs {tuple(expected[k].shape)}"
        for k, v in mapped.state.items()
        if k in expected and v.shape != expected[k].shape
    ]
    serious = [k for k in missing if not k.endswith("num_batches_tracked")]
    if wrong_shape or serious or unexpected:
        problems = []
        if serious:
            problems.append(
                f"{len(serious)} missing keys ({', '.join(serious[:3])}{', ...' if len(serious) > 3 else ''})"
            )
        if wrong_shape:
            problems.append(f"{len(wrong_shape)} shape mismatches ({'; '.join(wrong_shape[:2])})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected keys ({', '.join(unexpected[:3])})")
        try:
            found = backbone_name(*infer_arch(mapped.state))
        except CheckpointError:
            found = "unknown"
        raise CheckpointError(
            f"checkpoint does not fit {label}: {'; '.join(problems)}; the weights look like "
            f"{found}, pass matching --arch/--stem/--width (or --format)"
        )
    if mapped.head:
        report(f"[mcr-eval] dropped classifier head: {', '.join(mapped.head)}")
    if mapped.ignored:
        report(f"[mcr-eval] ignored {len(mapped.ignored)} non-backbone keys, e.g. {', '.join(mapped.ignored[:5])}")
    if unexpected:
        report(f"[mcr-eval] unexpected keys: {', '.join(unexpected)}")
    if missing:
        report(f"[mcr-eval] missing keys: {', '.join(missing)}")
    fill = {k: expected[k] for k in missing}
    model.load_state_dict({**mapped.state, **fill}, strict=True)


def load_encoder(
    path: str | Path,
    format: str | None = None,
    arch: str | None = None,
    stem: str | None = None,
    width: int | None = None,
    report: Callable[[str], None] | None = None,
    stem_padding: int | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the encoder in ``path`` and return ``(model, meta)``; the model is in eval mode on CPU.

    ``format`` is one of :data:`FORMATS` or None to detect it; ``arch``/``stem``/``width``/``stem_padding``
    override the values in ``encoder.json`` or those read from the weight shapes and the format.
    """
    report = report or (lambda line: print(line, file=sys.stderr))
    if format is not None and format not in FORMATS:
        raise CheckpointError(f"unknown checkpoint format '{format}'; choose one of {', '.join(FORMATS)}")
    weights_path, meta_path = resolve_paths(path)
    state = extract_state_dict(read_raw_checkpoint(weights_path), source=f"checkpoint '{weights_path}'")
    meta: dict[str, Any] = read_meta(meta_path) if meta_path is not None and format in (None, "mcr") else {}
    fmt = format or ("mcr" if meta else detect_format(list(state)))
    mapped = to_torchvision(state, fmt)
    seen_arch, seen_stem, seen_width = infer_arch(mapped.state)
    arch = arch or meta.get("arch") or seen_arch
    stem = stem or meta.get("stem") or seen_stem
    width = int(width or meta.get("width") or seen_width)
    if stem_padding is None:
        stem_padding = meta.get("stem_padding") if stem == meta.get("stem") else None
    if stem_padding is None:
        stem_padding = stem_padding_for(fmt, stem)
    model = build_backbone(arch, stem, width, stem_padding=stem_padding)
    _fit_state(model, mapped, backbone_name(arch, stem, width), report)
    model.eval()
    meta = dict(meta)
    meta.update(
        arch=arch,
        stem=stem,
        stem_padding=int(stem_padding),
        width=width,
        feature_dim=int(model.num_features),
        source_format=fmt,
        checkpoint=str(weights_path),
        checkpoint_sha256=file_sha256(weights_path),
    )
    meta.setdefault("run", weights_path.parent.name if fmt == "mcr" else weights_path.stem)
    return model, meta


def encoder_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The encoder's state dict in torchvision names, without the classifier head."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
