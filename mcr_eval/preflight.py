"""Checks run before an evaluation starts, so that minutes of computation are never lost to a bad output path.

Every ``mcr-eval`` command that writes calls :func:`ensure_writable` on each output at the top of its
``run()``: the folder that will receive the output (or, when it does not exist yet, its nearest existing
ancestor, where the write will create it) is proven writable by creating and removing a temporary file in
it, which is what the final write does (results are appended through a temporary file and ``os.replace``).
The check leaves nothing behind, so a command refused later writes nothing at all.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from mcr_train.errors import ConfigError


def _reason(exc: OSError) -> str:
    return exc.strerror or errno.errorcode.get(exc.errno or 0, "") or type(exc).__name__


def _probe_folder(folder: Path, path: Path, what: str) -> None:
    """Create and remove a temporary file in ``folder``, or in its nearest existing ancestor when ``folder``
    does not exist yet (the write creates it later), so a failed check leaves nothing behind."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot write {what} '{path}': '{existing}' is a file, not a folder; pass a {what} path "
                          "in a folder you can write to")
    try:
        handle, probe = tempfile.mkstemp(prefix=".mcr-write-check-", dir=existing)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"cannot write {what} '{path}': {_reason(exc)} in '{existing}'; pass a {what} path in a "
                          "folder you can write to") from None


def ensure_writable(path: str | Path, what: str, directory: bool | None = None) -> None:
    """Fail now, on one line, unless ``path`` can be written; ``what`` names it in the message (``--out``).

    ``directory=False``: ``path`` is a file to create or replace (a results file); ``True``: a folder to write
    into (a report or work folder); ``None``: whichever ``path`` already is, else its folder must be writable.
    Nothing is created: missing folders are made by the write itself.
    """
    path = Path(path).expanduser()
    if directory is True and path.exists() and not path.is_dir():
        raise ConfigError(f"{what} '{path}' is a file, and a folder is needed there; pass a folder path or "
                          "remove that file")
    if directory is False and path.is_dir():
        raise ConfigError(f"{what} '{path}' is a folder, and a file is needed there; pass a file path such as "
                          f"'{path / 'results.jsonl'}'")
    if path.exists() and not (path.is_dir() or path.is_file()):
        raise ConfigError(f"{what} '{path}' is neither a file nor a folder; pass another path")
    folder = path if directory or (directory is None and path.is_dir()) else path.parent
    _probe_folder(folder, path, what)
