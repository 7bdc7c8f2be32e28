"""Atomic, world-readable file writes and the removal of temp files a killed writer left behind.

A file is written to ``.<name>.<8 random chars>.tmp`` in the target's folder (``tempfile.mkstemp``'s names),
then ``os.replace``d over the target, so readers see the old file or the complete new one. While it writes,
the writer holds an exclusive ``flock`` on the temp file. A temp file that can be locked is therefore
orphaned (its writer died: the kernel drops a dead process's locks), and :func:`clean_stale_temps` removes
exactly those, and only names of this pattern. Written files get mode 0644 explicitly: ``mkstemp`` creates
0600 files, and exported encoders, converted checkpoints and results are meant to be shared.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

PUBLIC_MODE = 0o644
# mkstemp's random part: 8 characters of [a-z0-9_].
TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")


def atomic_write(path: str | Path, write: Callable[[str], None], mode: int = PUBLIC_MODE,
                 durable: bool = False) -> Path:
    """Call ``write(tmp_path)`` on a locked temp file beside ``path``, set ``mode``, then move it into place.

    ``durable`` fsyncs the file and its folder, so that the new file survives a power cut.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink:  # a cleaner may have taken it for stale before the lock was held
            break
        os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        if durable:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        os.close(fd)
    if durable:
        _fsync_folder(path.parent)
    return path


def atomic_write_bytes(path: str | Path, data: bytes, mode: int = PUBLIC_MODE, durable: bool = True) -> Path:
    """:func:`atomic_write` of ``data``."""
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data), mode=mode, durable=durable)


def clean_stale_temps(folder: str | Path, owns: Callable[[str], bool] | Iterable[str]) -> list[Path]:
    """Remove ``.<target>.<random>.tmp`` files in ``folder`` whose writer is gone; return what was removed.

    ``owns`` names the targets whose temp files the caller owns: a set of file names, or a predicate on the
    target name. A temp file some live process still writes is locked and kept.
    """
    folder = Path(folder)
    if not callable(owns):
        owns = set(owns).__contains__
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for entry in entries:
        match = TEMP_NAME.match(entry.name)
        ours = match is not None and owns(match.group("target")) and entry.is_file(follow_symlinks=False)
        if ours and _remove_if_orphaned(Path(entry.path)):
            removed.append(Path(entry.path))
    return removed


def _remove_if_orphaned(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # locked: its writer is alive
        os.close(fd)
        return False
    try:
        # The writer may have finished (renamed it) between scandir and the lock: unlink only the same inode.
        if os.stat(path, follow_symlinks=False).st_ino != os.fstat(fd).st_ino:
            return False
        os.unlink(path)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
