"""Safe reading and atomic writing of checkpoint files.

Untrusted files are read only as safetensors or through ``torch.load(..., weights_only=True)``, whose
restricted unpickler refuses any global that is not a tensor building block: a pickle payload (a
``__reduce__`` that would call ``os.system`` or ``open``) is rejected before it can run.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file as load_safetensors
from safetensors.torch import save_file as save_safetensors

from mcr_train.errors import CheckpointError

StateDict = dict[str, torch.Tensor]

# Keys under which training frameworks nest the weights (Lightning/MMEngine/MoCo: state_dict;
# DeiT/DINO-style: model).
CONTAINER_KEYS = ("state_dict", "model", "model_state_dict")


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 22) -> str:
    """Hex sha256 of a file's bytes (the checkpoint part of the feature-cache key)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def read_raw_checkpoint(path: str | Path) -> Any:
    """Read a ``.safetensors`` file or a torch file with ``weights_only=True``; never plain pickle."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist; pass the path of a .safetensors or .pth file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint '{path}' is empty (0 bytes); re-export or re-download it")
    if path.suffix == ".safetensors":
        try:
            return load_safetensors(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(
                f"checkpoint '{path}' is not a readable safetensors file ({_first_line(exc)}); "
                "it is corrupt or truncated, re-export or re-download it"
            ) from None
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every parse failure becomes one clear line
        if isinstance(exc, pickle.UnpicklingError) and "global" in str(exc).lower():
            raise CheckpointError(
                f"refusing checkpoint '{path}': it holds objects other than tensors "
                f"({_unsupported_global(exc)}); re-save its state dict with torch.save(model.state_dict()) "
                "or as .safetensors"
            ) from None
        raise CheckpointError(
            f"checkpoint '{path}' cannot be read ({_first_line(exc)}); it is corrupt or "
            "truncated, re-export or re-download it"
        ) from None


def _unsupported_global(exc: BaseException) -> str:
    for line in str(exc).splitlines():
        if "global" in line.lower():
            return line.strip()[:160]
    return _first_line(exc)


def extract_state_dict(raw: Any, source: str = "checkpoint") -> StateDict:
    """Return the flat ``name -> tensor`` mapping inside a loaded checkpoint (unwrapping containers)."""
    current = raw
    for _ in range(3):
        if not isinstance(current, Mapping):
            break
        if current and all(isinstance(v, torch.Tensor) for v in current.values()):
            return {str(k): v for k, v in current.items()}
        nested = next((current[k] for k in CONTAINER_KEYS if isinstance(current.get(k), Mapping)), None)
        if nested is None:
            break
        current = nested
    if isinstance(current, Mapping):
        tensors = {str(k): v for k, v in current.items() if isinstance(v, torch.Tensor)}
        if tensors:
            return tensors
    raise CheckpointError(
        f"{source} holds no state dict of tensors (looked at the top level and under "
        f"{', '.join(CONTAINER_KEYS)}); pass a checkpoint that contains model weights"
    )


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` for a temp file in the target's folder, then move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_state_dict(
    state: Mapping[str, torch.Tensor], path: str | Path, metadata: Mapping[str, str] | None = None
) -> Path:
    """Save tensors atomically: safetensors for ``.safetensors`` paths, else a plain torch file."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    if str(path).endswith(".safetensors"):
        return atomic_write(path, lambda tmp: save_safetensors(tensors, tmp, metadata=dict(metadata or {})))
    return atomic_write(path, lambda tmp: torch.save(tensors, tmp))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
