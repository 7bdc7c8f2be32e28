"""Checkpoint safety: atomic writes, weights-only loading of mmengine checkpoints, resume discovery.

* Writes go to a temporary file in the target directory, are fsynced, then ``os.replace``d over the
  target, so a process killed during a save leaves the previous checkpoint intact.
* torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7 calls ``torch.load``
  without arguments. Its checkpoints hold a few plain Python/numpy/mmengine objects; exactly those are
  allow-listed with ``torch.serialization.add_safe_globals`` (no global opt-out).
"""

from __future__ import annotations

import contextlib
import copyreg
import os
import re
import tempfile
from pathlib import Path

import torch
from mmengine.fileio.backends import LocalBackend, register_backend

ATOMIC_BACKEND = "mcr_atomic_local"


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put``/``put_text``."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write_bytes(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = "utf-8") -> None:
        atomic_write_bytes(filepath, obj.encode(encoding))


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


def _reduce_history_buffer(buffer):
    # HistoryBuffer pickles bound methods (``getattr``) by default; rebuild it from plain data instead.
    return type(buffer), (buffer._log_history.tolist(), buffer._count_history.tolist(), buffer.max_length)


def mmengine_safe_globals() -> list:
    """Exactly the non-tensor globals in mmengine 0.10.7 training checkpoints (message hub and meta)."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer

    # numpy scalars in the runtime info (e.g. ``eta``) pickle as scalar(dtype(...), bytes).
    dtypes = [type(np.dtype(t)) for t in (np.float64, np.float32, np.int64)]
    return [HistoryBuffer, np.dtype, np._core.multiarray.scalar, *dtypes]


def register_safe_globals() -> None:
    """Allow-list mmengine's checkpoint globals and make HistoryBuffer pickle without ``getattr``."""
    from mmengine.logging.history_buffer import HistoryBuffer

    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    torch.serialization.add_safe_globals(mmengine_safe_globals())


_ITER_RE = re.compile(r"iter_(\d+)\.pth$")


def find_resumable_checkpoint(work_dir: str | Path) -> Path | None:
    """The checkpoint named in ``last_checkpoint`` if it exists, else the newest ``iter_*.pth``."""
    work_dir = Path(work_dir)
    pointer = work_dir / "last_checkpoint"
    if pointer.is_file():
        named = Path(pointer.read_text().strip())
        if named.name and named.is_file():
            return named
    candidates = sorted(work_dir.glob("iter_*.pth"), key=lambda p: int(_ITER_RE.search(p.name).group(1)))
    return candidates[-1] if candidates else None
