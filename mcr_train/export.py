"""Encoder export: ``encoder.safetensors`` + ``encoder.json`` (docs/contracts.md section 1).

The backbone is torchvision's ``ResNet`` class with ``fc = Identity``, so its state dict already uses
torchvision key names and contains no ``fc.*`` entries.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import torch
from safetensors.torch import save as safetensors_save
from torch import nn

from mcr_train.engine.checkpoint import atomic_write_bytes
from mcr_train.errors import CheckpointError

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
    work_dir = Path(work_dir)
    weights, info = work_dir / ENCODER_WEIGHTS, work_dir / ENCODER_META
    state = encoder_state_dict(backbone)
    atomic_write_bytes(weights, safetensors_save(state, metadata={"format": FORMAT, "method": meta["method"]}))
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
    model = build_backbone(meta["arch"], meta["stem"], meta["width"])
    model.load_state_dict(load_file(str(weights)), strict=True)
    return model, meta
