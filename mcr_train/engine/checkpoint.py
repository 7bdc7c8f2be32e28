"""Checkpoint safety: atomic writes, weights-only loading of mmengine checkpoints, resume discovery.

* ``last_checkpoint`` names the latest checkpoint relative to the work dir (old absolute pointers still
  read), so a copied work dir resumes from its own files.
* ``--resume`` checks the bytes of its checkpoint first; a truncated or corrupt one is named and skipped
  for the previous good one.

* Writes go to a temporary file in the target directory, are fsynced, then ``os.replace``d over the
  target (:mod:`mcr_train.atomic_files`, mode 0644), so a process killed during a save leaves the previous
  checkpoint intact.
* torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7 calls ``torch.load``
  without arguments. Its checkpoints hold a few plain Python/numpy/mmengine objects; exactly those are
  allow-listed with ``torch.serialization.add_safe_globals`` (no global opt-out).
"""

from __future__ import annotations

import copyreg
import os
import re
import zipfile
from pathlib import Path

import torch
from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from mcr_train.atomic_files import atomic_write_bytes
from mcr_train.errors import CheckpointError

ATOMIC_BACKEND = "mcr_atomic_local"


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
POINTER = "last_checkpoint"


def _by_iteration(paths) -> list[Path]:
    return sorted(paths, key=lambda p: int(_ITER_RE.search(p.name).group(1)))


def pointed_checkpoint(work_dir: str | Path) -> Path | None:
    """The existing file that ``last_checkpoint`` names, or ``None``.

    The pointer holds a path relative to the work dir, so a copied or moved work dir resumes from its own
    files. Pointers written by older versions hold an absolute path: the file of that name inside this work
    dir wins over the absolute path, which is used only when the work dir lacks it.
    """
    work_dir = Path(work_dir)
    pointer = work_dir / POINTER
    if not pointer.is_file():
        return None
    named = Path(pointer.read_text().strip())
    if not named.name:  # empty: truncated by a crash
        return None
    candidates = [work_dir / named.name, named] if named.is_absolute() else [work_dir / named]
    return next((c for c in candidates if c.is_file()), None)


def find_resumable_checkpoint(work_dir: str | Path) -> Path | None:
    """The checkpoint named in ``last_checkpoint`` if it exists, else the newest ``iter_*.pth``."""
    work_dir = Path(work_dir)
    named = pointed_checkpoint(work_dir)
    if named is not None:
        return named
    candidates = _by_iteration(work_dir.glob("iter_*.pth"))
    return candidates[-1] if candidates else None


def write_pointer(work_dir: str | Path, checkpoint: str | Path) -> None:
    """Atomically point ``last_checkpoint`` at ``checkpoint``, stored relative to ``work_dir``."""
    work_dir = Path(work_dir)
    relative = os.path.relpath(Path(checkpoint).absolute(), work_dir.absolute())
    atomic_write_bytes(work_dir / POINTER, relative.encode())


def checkpoint_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be resumed from (truncated, corrupt, not a torch checkpoint), or ``None``.

    Torch checkpoints are zip archives: a truncated file has lost its central directory, and a damaged one
    fails a member's CRC. Both are found by reading the bytes, without unpickling anything.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        return f"not a complete torch checkpoint ({' '.join(str(exc).split()) or type(exc).__name__})"
    return f"member {bad} fails its CRC check" if bad is not None else None


def choose_resume_checkpoint(work_dir: str | Path) -> tuple[Path, list[str]]:
    """The newest readable checkpoint to resume from, and one notice per unreadable one skipped.

    Candidates, newest first: the one ``last_checkpoint`` names, then every ``iter_*.pth`` by iteration.
    Raises :class:`CheckpointError` when there is none, or when none of them is readable.
    """
    work_dir = Path(work_dir)
    first = find_resumable_checkpoint(work_dir)
    if first is None:
        raise CheckpointError(f"--resume found no checkpoint in {work_dir}; drop --resume to start fresh")
    ordered = [first, *reversed([p for p in _by_iteration(work_dir.glob("iter_*.pth")) if p != first])]
    bad: list[tuple[Path, str]] = []
    for candidate in ordered:
        problem = checkpoint_problem(candidate)
        if problem is None:
            notices = [
                f"checkpoint {path} is unreadable ({why}); resuming from the previous good checkpoint {candidate}"
                for path, why in bad
            ]
            return candidate, notices
        bad.append((candidate, problem))
    path, why = bad[0]
    raise CheckpointError(
        f"checkpoint {path} is unreadable ({why}) and {work_dir} holds no earlier good checkpoint; "
        "drop --resume and pass --overwrite to start the run over"
    )


class RelativePointerCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` whose ``last_checkpoint`` names the file relative to the work dir.

    mmengine writes the absolute path (with a plain, non-atomic ``open``); it is rewritten atomically right
    after, so a copied work dir resumes from its own checkpoints.
    """

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        super()._save_checkpoint_with_step(runner, step, meta)
        if is_main_process() and self.last_ckpt:
            write_pointer(runner.work_dir, self.last_ckpt)


HOOKS.register_module(name="RelativePointerCheckpointHook", module=RelativePointerCheckpointHook, force=True)
