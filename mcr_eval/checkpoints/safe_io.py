"""Safe reading and atomic writing of checkpoint files.

Untrusted files are read only as safetensors or through ``torch.load(..., weights_only=True)``, whose
restricted unpickler refuses any global that is not a tensor building block: a pickle payload (a
``__reduce__`` that would call ``os.system`` or ``open``) is rejected before it can run.

Writes are atomic, mode 0644 and lock their temp file (:mod:`mcr_train.atomic_files`); safetensors files
are byte-deterministic (:func:`mcr_train.export.safetensors_bytes`).
"""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file as load_safetensors

from mcr_train.atomic_files import PUBLIC_MODE, atomic_write_bytes, clean_stale_temps
from mcr_train.atomic_files import atomic_write as _atomic_write
from mcr_train.errors import CheckpointError
from mcr_train.export import safetensors_bytes

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
        refused = pickled_code(exc)
        if refused is not None:
            raise CheckpointError(
                f"refusing checkpoint '{path}': it holds pickled code ({refused}), which is never executed; "
                "re-save the weights with torch.save(model.state_dict()) or export them to .safetensors"
            ) from None
        raise CheckpointError(
            f"checkpoint '{path}' cannot be read ({_load_failure(exc)}); it is corrupt or "
            "truncated, re-export or re-download it"
        ) from None


def _load_failure(exc: BaseException) -> str:
    """The reader's own reason, first sentence only, without torch's advice to retry with
    ``weights_only=False`` (which would run whatever the file holds)."""
    parts = [part.strip() for part in str(exc).split("\n\n") if part.strip()]
    own = [p for p in parts if "weights_only" not in p and not p.startswith(("Weights only load failed", "Check the"))]
    if not own:
        return type(exc).__name__
    text = _first_line(Exception(own[0].removeprefix("WeightsUnpickler error: ")))
    return text.split(". ")[0].rstrip(".")


# What torch's weights-only unpickler says when a pickle would import or call code (torch 2.6+ wording):
# a blocked or unlisted GLOBAL, or a call/object/build on something that is not a tensor building block.
# Other failures (unknown opcodes, an early end of data) mean a damaged file, not code.
_REFUSED = (
    re.compile(r"GLOBAL (?P<name>[\w.]+) was not an allowed global"),
    re.compile(r"unsupported GLOBAL (?P<name>[\w.]+) whose module"),
    re.compile(r"call reduce for unrecognized function (?P<name>[^\n]+?)(?: which belongs to|\n|$)"),
    re.compile(r"Can only create new object for nn\.Parameter or classes allowlisted .* but got (?P<name>[^\n]+)"),
    re.compile(r"Can only build Tensor, Parameter, OrderedDict or types allowlisted .* but got (?P<name>[^\n]+)"),
)


def pickled_code(exc: BaseException) -> str | None:
    """The name of what torch's weights-only unpickler refused to import or call (e.g. ``posix.system``), or
    None when ``exc`` is another failure (a truncated or corrupt file)."""
    if not isinstance(exc, pickle.UnpicklingError):
        return None
    text = str(exc)
    for pattern in _REFUSED:
        match = pattern.search(text)
        if match:
            name = match.group("name").strip()
            short = re.search(r"'([\w.]+)'", name) or re.search(r"function ([\w.]+)", name)
            return short.group(1) if short else name[:60]
    return None


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


def atomic_write(path: str | Path, write: Callable[[str], None], mode: int = PUBLIC_MODE) -> Path:
    """Call ``write(tmp_path)`` for a locked temp file in the target's folder, set ``mode`` (0644), then move it
    into place (see :mod:`mcr_train.atomic_files`)."""
    return _atomic_write(path, write, mode=mode)


def clean_stale_outputs(path: str | Path) -> list[Path]:
    """Remove temp files a killed writer of ``path`` left beside it (``.<name>.<random>.tmp``)."""
    path = Path(path)
    return clean_stale_temps(path.parent, (path.name,))


def save_state_dict(
    state: Mapping[str, torch.Tensor], path: str | Path, metadata: Mapping[str, str] | None = None
) -> Path:
    """Save tensors atomically: deterministic safetensors for ``.safetensors`` paths, else a plain torch file."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    if str(path).endswith(".safetensors"):
        return atomic_write_bytes(path, safetensors_bytes(tensors, metadata))
    return atomic_write(path, lambda tmp: torch.save(tensors, tmp))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
