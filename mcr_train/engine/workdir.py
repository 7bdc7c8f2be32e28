"""The training work dir: its default name, writability, an exclusive lock, stale-file cleanup, and the
guard that keeps a new run from silently replacing a previous one.

Only files this suite writes itself are ever removed: the temporary files of its atomic writes
(``.<name>.<random>.tmp`` beside a checkpoint, ``last_checkpoint`` or the encoder pair), its write probe,
and its own ``.mcr-train.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from pathlib import Path

from mcr_train.errors import ConfigError

LOCK_NAME = ".mcr-train.lock"
PROBE_PREFIX = ".mcr-write-probe."
ENCODER_FILES = ("encoder.safetensors", "encoder.json")
# Targets of this suite's atomic writes into a work dir; their temp files are ``.<target>.<random>.tmp``.
_OWN_TARGET = re.compile(r"^(iter_\d+\.pth|last_checkpoint|encoder\.safetensors|encoder\.json)$")
# mkstemp's random part: 8 characters from [a-z0-9_].
_PROBE_RE = re.compile("^" + re.escape(PROBE_PREFIX) + r"[a-z0-9_]{8}$")
_HELD: dict[str, int] = {}


def default_work_dir(config: str | Path, seed: int) -> Path:
    """``work_dirs/<config stem>/seed<N>``: seeds of one config never share a folder."""
    return Path("work_dirs") / Path(config).stem / f"seed{int(seed)}"


def ensure_writable(work_dir: str | Path) -> list[Path]:
    """Create ``work_dir`` and prove a file can be written there; a one-line error names why not.

    Returns the folders it created, deepest first (for :func:`remove_created`)."""
    work_dir = Path(work_dir)
    created = []
    for parent in [work_dir, *work_dir.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"work dir {work_dir} cannot be created: {parent} is a file, not a folder; "
                                  "pass a writable --work-dir")
            break
        created.append(parent)
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=PROBE_PREFIX, dir=work_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        remove_created(created)
        raise ConfigError(f"work dir {work_dir} is not writable ({exc.strerror or exc}); "
                          "pass a writable --work-dir") from None
    return created


def remove_created(created: list[Path]) -> None:
    """Remove the folders :func:`ensure_writable` created, as long as they are still empty."""
    for folder in created:
        with contextlib.suppress(OSError):
            folder.rmdir()


def lock_work_dir(work_dir: str | Path) -> str | None:
    """Hold ``.mcr-train.lock`` in ``work_dir`` until :func:`unlock_work_dir` (or the process ends).

    Re-entrant within a process. Another live run holding it is an error; a lock file left by a killed
    run (the kernel released its lock) is taken over, and the returned notice says so.
    """
    key = str(Path(work_dir).resolve())
    if key in _HELD:
        return None
    path = Path(work_dir) / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(f"work dir {work_dir} is in use by another mcr-train run (pid {owner}); "
                              "wait for it to finish or pass another --work-dir") from None
        # A run that finished between our open and flock unlinked the file we hold: lock the new one.
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        os.close(fd)
    previous = os.pread(fd, 32, 0).decode(errors="replace").strip()
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[key] = fd
    return f"{LOCK_NAME} (pid {previous})" if previous else None


def unlock_work_dir(work_dir: str | Path) -> None:
    """Release and remove the lock taken by :func:`lock_work_dir` in this process (no-op otherwise)."""
    fd = _HELD.pop(str(Path(work_dir).resolve()), None)
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.unlink(Path(work_dir) / LOCK_NAME)
    os.close(fd)


def remove_stale_files(work_dir: str | Path) -> list[str]:
    """Delete this suite's temporary files that a killed run left in ``work_dir``; call it under the lock.

    A temp file whose writer is still alive (it holds a lock on it) is kept."""
    from mcr_train.atomic_files import clean_stale_temps

    removed = [p.name for p in clean_stale_temps(work_dir, lambda target: bool(_OWN_TARGET.match(target)))]
    for path in Path(work_dir).iterdir():
        if _PROBE_RE.match(path.name) and path.is_file():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path.name)
    return sorted(removed)


def previous_run_files(work_dir: str | Path) -> list[Path]:
    """The encoder pair, checkpoints and ``last_checkpoint`` of a run already in ``work_dir``."""
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        return []
    files = [work_dir / name for name in (*ENCODER_FILES, "last_checkpoint")]
    return [p for p in files if p.is_file()] + sorted(work_dir.glob("iter_*.pth"))


def guard_previous_run(work_dir: str | Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start a fresh run over a previous one unless ``--overwrite`` (or ``--resume``) says so."""
    if resume or overwrite:
        return
    files = previous_run_files(work_dir)
    if any(p.name in ENCODER_FILES for p in files):
        raise ConfigError(f"work dir {work_dir} already holds a finished run (encoder.safetensors); "
                          "pass --overwrite to replace it or --work-dir to train elsewhere")
    checkpoints = [p.name for p in files if p.suffix == ".pth"]
    if files:
        found = checkpoints[-1] if checkpoints else "last_checkpoint"
        raise ConfigError(f"work dir {work_dir} holds an unfinished run ({found}); pass --resume to continue "
                          "it, --overwrite to start over, or --work-dir to train elsewhere")


def clear_previous_run(work_dir: str | Path) -> list[str]:
    """For ``--overwrite``: remove the previous run's encoder pair, checkpoints and ``last_checkpoint``
    (its log folders stay), so no file of it can be mistaken for the new run's."""
    removed = []
    for path in previous_run_files(work_dir):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path.name)
    return removed
