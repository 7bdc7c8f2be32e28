"""Encoder export: ``encoder.safetensors`` + ``encoder.json`` (docs/contracts.md section 1).

The backbone is torchvision's ``ResNet`` class with ``fc = Identity``, so its state dict already uses
torchvision key names and contains no ``fc.*`` entries.

The export is byte-deterministic: the same weights and metadata give the same bytes, hence the same
checkpoint sha256 and feature-cache keys. safetensors writes its ``__metadata__`` map in hash order, which
changes between calls, so its header is rewritten in a canonical form (:func:`canonical_safetensors`).
Files are written atomically with mode 0644; temp files of a killed export are removed by the next export.
:func:`meta_problems` is the schema of ``encoder.json`` that evaluation checks before trusting a field.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as safetensors_save
from torch import nn

from mcr_train.atomic_files import atomic_write_bytes, clean_stale_temps
from mcr_train.errors import CheckpointError
from mcr_train.models.backbone import ARCHS, STEMS

FORMAT = "mcr-encoder/1"
ENCODER_WEIGHTS, ENCODER_META = "encoder.safetensors", "encoder.json"
REQUIRED_KEYS = (
    "format",
    "method",
    "regularizer",
    "arch",
    "stem",
    "width",
    "feature_dim",
    "input_size",
    "mean",
    "std",
    "pretrain_data",
    "views",
    "destroyed_factors",
    "epochs",
    "iters",
    "seed",
    "config",
    "config_sha256",
    "suite_version",
    "git_commit",
)
# What evaluation needs to rebuild the encoder and describe it in result records.
EVAL_REQUIRED_KEYS = (
    "format",
    "method",
    "regularizer",
    "arch",
    "stem",
    "width",
    "input_size",
    "mean",
    "std",
    "pretrain_data",
    "epochs",
    "seed",
)
# Bytes per element of safetensors dtypes (unknown ones count as 1: they then go last, still aligned).
DTYPE_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_rgb(value: Any, positive: bool = False) -> bool:
    return (isinstance(value, list) and len(value) == 3 and all(_is_number(v) for v in value)
            and (not positive or all(v > 0 for v in value)))


def _is_regularizer(value: Any) -> bool:
    return _is_text(value) or (isinstance(value, Mapping) and _is_text(value.get("type")))


# field -> (check, what it must be)
META_SCHEMA: dict[str, tuple[Callable[[Any], bool], str]] = {
    "format": (lambda v: v == FORMAT, f"the string '{FORMAT}'"),
    "method": (_is_text, "a non-empty string"),
    "regularizer": (_is_regularizer, "'none', 'mcr' or an object with a 'type' string"),
    "arch": (lambda v: v in ARCHS, f"one of {', '.join(ARCHS)}"),
    "stem": (lambda v: v in STEMS, f"one of {', '.join(STEMS)}"),
    "stem_padding": (lambda v: _is_int(v) and v >= 0, "a non-negative integer"),
    "width": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "feature_dim": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "input_size": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "mean": (_is_rgb, "a list of 3 numbers"),
    "std": (lambda v: _is_rgb(v, positive=True), "a list of 3 positive numbers"),
    "pretrain_data": (_is_text, "a non-empty string"),
    "views": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "destroyed_factors": (lambda v: v is None or (isinstance(v, list) and all(isinstance(f, str) for f in v)),
                          "a list of strings or null"),
    "epochs": (lambda v: _is_number(v) and v >= 0, "a non-negative number"),
    "iters": (lambda v: _is_int(v) and v >= 0, "a non-negative integer"),
    "seed": (_is_int, "an integer"),
    "config": (lambda v: isinstance(v, str), "a string"),
    "config_sha256": (lambda v: isinstance(v, str), "a string"),
    "suite_version": (lambda v: isinstance(v, str), "a string"),
    "git_commit": (lambda v: isinstance(v, str), "a string"),
}


def meta_problems(
    meta: Mapping[str, Any], required: tuple[str, ...] = EVAL_REQUIRED_KEYS
) -> tuple[list[str], list[str]]:
    """(missing required fields, descriptions of fields whose value breaks :data:`META_SCHEMA`)."""
    missing = [k for k in required if k not in meta]
    wrong = []
    for key, (check, expected) in META_SCHEMA.items():
        if key in meta and not check(meta[key]):
            value = meta[key]
            wrong.append(f"'{key}' is {json.dumps(value)[:40]} ({type(value).__name__}), expected {expected}")
    return missing, wrong


def canonical_safetensors(blob: bytes) -> bytes:
    """The same safetensors file with a canonical header: ``__metadata__`` sorted by key, tensors ordered by
    (element size descending, name), their data laid out in that order (so offsets stay aligned), and the
    header padded with spaces to a multiple of 8 bytes as safetensors does."""
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + size])
    data = memoryview(blob)[8 + size :]
    metadata = header.pop("__metadata__", None) or {}
    out: dict[str, Any] = {"__metadata__": dict(sorted(metadata.items()))} if metadata else {}
    chunks, offset = [], 0
    for name in sorted(header, key=lambda n: (-DTYPE_BYTES.get(header[n]["dtype"], 1), n)):
        info = header[name]
        start, end = info["data_offsets"]
        chunks.append(data[start:end])
        out[name] = {"dtype": info["dtype"], "shape": info["shape"], "data_offsets": [offset, offset + end - start]}
        offset += end - start
    text = json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    return b"".join([len(text).to_bytes(8, "little"), text, *chunks])


def safetensors_bytes(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> bytes:
    """safetensors serialization of ``tensors`` (contiguous CPU) that depends only on names, values and metadata."""
    return canonical_safetensors(safetensors_save(dict(tensors), metadata=dict(metadata or {}) or None))


def git_commit(start: Path | None = None) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=start or Path(__file__).parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def suite_version() -> str:
    try:
        from importlib.metadata import version

        return version("mcr")
    except Exception:
        return "0.1.0"


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def encoder_state_dict(backbone: nn.Module) -> dict[str, torch.Tensor]:
    """Backbone tensors (params and BN buffers) in torchvision names, contiguous CPU copies."""
    return {
        k: v.detach().to("cpu").contiguous().clone()
        for k, v in backbone.state_dict().items()
        if not k.startswith("fc.")
    }


def export_encoder(backbone: nn.Module, work_dir: str | Path, meta: dict) -> tuple[Path, Path]:
    """Write the encoder pair into ``work_dir``; ``meta`` must hold every key of the contract."""
    meta = {"format": FORMAT, **meta}
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise CheckpointError(f"encoder metadata lacks {missing}; pass them to export_encoder")
    conv1 = getattr(backbone, "conv1", None)
    if isinstance(conv1, nn.Conv2d):  # so that evaluation rebuilds the stem with the same padding
        meta.setdefault("stem_padding", int(conv1.padding[0]))
    work_dir = Path(work_dir)
    clean_stale_temps(work_dir, (ENCODER_WEIGHTS, ENCODER_META))
    weights, info = work_dir / ENCODER_WEIGHTS, work_dir / ENCODER_META
    state = encoder_state_dict(backbone)
    atomic_write_bytes(weights, safetensors_bytes(state, {"format": FORMAT, "method": str(meta["method"])}))
    atomic_write_bytes(info, (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())
    return weights, info


def load_encoder(work_dir: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild the exported backbone with :func:`build_backbone` and load its weights (strictly)."""
    from safetensors.torch import load_file

    from mcr_train.models.backbone import build_backbone

    work_dir = Path(work_dir)
    info, weights = work_dir / ENCODER_META, work_dir / ENCODER_WEIGHTS
    if not info.is_file() or not weights.is_file():
        raise CheckpointError(f"no {ENCODER_META}/{ENCODER_WEIGHTS} in {work_dir}; run mcr-train to export one")
    meta = json.loads(info.read_text())
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{info} has format {meta.get('format')!r}, expected {FORMAT!r}")
    model = build_backbone(meta["arch"], meta["stem"], meta["width"], stem_padding=meta.get("stem_padding"))
    model.load_state_dict(load_file(str(weights)), strict=True)
    return model, meta
