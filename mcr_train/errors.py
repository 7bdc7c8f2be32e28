"""User-facing errors.

Every CLI catches :class:`McrError` and prints its message as a single line, then exits non-zero.
Raise it for anything a user can fix (bad path, bad config value, corrupt file), with the fix in the text.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

EXIT_USER_ERROR = 2

F = TypeVar("F", bound=Callable[..., int | None])


class McrError(Exception):
    """An error caused by user input; its message names the problem and the fix, on one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class DataError(McrError):
    """A dataset path, spec or file is missing, malformed or empty."""


class ConfigError(McrError):
    """A config value or CLI option is invalid."""


class CheckpointError(McrError):
    """A checkpoint is missing, corrupt, foreign or unsafe."""


class TrainingError(McrError):
    """Training hit a state it cannot continue from (e.g. a non-finite loss)."""


def cli_errors(func: F) -> F:
    """Turn :class:`McrError` into ``error: <message>`` on stderr and exit code 2."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except McrError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None

    return wrapper  # type: ignore[return-value]
