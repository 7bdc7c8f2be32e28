"""Result records (docs/contracts.md section 2): one JSON line per metric, appended to a results file.

Every evaluation part builds its lines with :func:`make_record` (or :func:`records_for_encoder` from an
encoder's metadata) and writes them with :func:`append_records`. Appending takes an exclusive lock on
``<file>.lock`` and replaces the file atomically (temp file in the same folder + ``os.replace``), so
concurrent evaluations never interleave or truncate lines.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mcr_eval.checkpoints.safe_io import atomic_write
from mcr_train.errors import ConfigError, DataError

TASKS = (
    "knn",
    "linear",
    "semisup",
    "detection",
    "segmentation",
    "retention",
    "attribution",
    "representation",
)
RECORD_KEYS = (
    "run",
    "method",
    "regularizer",
    "backbone",
    "pretrain_data",
    "epochs",
    "seed",
    "task",
    "dataset",
    "split",
    "protocol",
    "metric",
    "value",
    "n",
    "created",
    "suite_version",
)


def suite_version() -> str:
    try:
        from importlib.metadata import version

        return version("mcr")
    except Exception:  # noqa: BLE001 - not installed as a distribution (source checkout)
        return "0.1.0"


def regularizer_name(value: Any) -> str:
    """``none`` / ``mcr`` from the ``regularizer`` entry of encoder.json (a dict or a string)."""
    if isinstance(value, Mapping):
        return str(value.get("type", "none"))
    return str(value) if value else "none"


def run_fields(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The run-describing record fields taken from an encoder's metadata (see ``load_encoder``)."""
    arch, stem, width = meta.get("arch", "unknown"), meta.get("stem", "unknown"), meta.get("width", 0)
    return {
        "run": str(meta.get("run", "unknown")),
        "method": str(meta.get("method", "unknown")),
        "regularizer": regularizer_name(meta.get("regularizer")),
        "backbone": f"{arch}-{stem}-w{width}",
        "pretrain_data": str(meta.get("pretrain_data", "unknown")),
        "epochs": meta.get("epochs"),
        "seed": meta.get("seed"),
    }


def make_record(
    run: Mapping[str, Any],
    task: str,
    dataset: str,
    split: str,
    protocol: Mapping[str, Any],
    metric: str,
    value: float,
    n: int,
    created: str | None = None,
) -> dict[str, Any]:
    """One record; ``run`` holds the fields of :func:`run_fields`."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    value = float(value)
    record = {
        **{k: run.get(k) for k in RECORD_KEYS[:7]},
        "task": task,
        "dataset": dataset,
        "split": split,
        "protocol": dict(protocol),
        "metric": metric,
        "value": value if math.isfinite(value) else None,
        "n": int(n),
        "created": created or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "suite_version": suite_version(),
    }
    return record


def records_for_encoder(
    meta: Mapping[str, Any],
    task: str,
    dataset: str,
    split: str,
    protocol: Mapping[str, Any],
    metrics: Mapping[str, float],
    n: int,
) -> list[dict[str, Any]]:
    """One record per ``metric -> value`` for an encoder described by ``meta``."""
    run = run_fields(meta)
    created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        make_record(run, task, dataset, split, protocol, name, value, n, created) for name, value in metrics.items()
    ]


def append_records(path: str | Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """Append JSON lines to ``path`` (created with its folder when missing)."""
    path = Path(path)
    lines = "".join(json.dumps(dict(r), sort_keys=False) + "\n" for r in records)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = path.with_name(path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            existing = path.read_text() if path.exists() else ""
            if existing and not existing.endswith("\n"):
                existing += "\n"
            atomic_write(path, lambda tmp: Path(tmp).write_text(existing + lines))
    except (IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        raise ConfigError(f"cannot write results to '{path}' ({exc.strerror}); pass a writable --out file") from None
    return path


class _NonFiniteToken(ValueError):
    pass


def _refuse_constant(token: str) -> float:
    raise _NonFiniteToken(token)


def parse_record_line(line: str, where: str, allow_undefined: bool = False) -> dict[str, Any]:
    """One record from one JSON line, refusing non-finite numbers anywhere in it (``NaN``, ``Infinity``) and a
    ``value`` that is not a number. ``null`` is how :func:`make_record` stores a value that has no finite
    result (an undefined score): refused too unless ``allow_undefined``. ``where`` (``file:line``) names the
    line in the error."""
    try:
        record = json.loads(line, parse_constant=_refuse_constant)
    except _NonFiniteToken as token:
        raise DataError(f"{where} holds the non-finite number {token}; re-run that evaluation with a healthy "
                        "encoder, or delete that line") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{where} is not valid JSON ({exc.msg}); fix or delete that line") from None
    if not isinstance(record, dict):
        raise DataError(f"{where} is not a JSON object; each line must be one result record")
    value = record.get("value")
    if value is None and allow_undefined and "value" in record:
        return record
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{where}: value {value!r} of metric {record.get('metric')!r} is not a finite number; re-run "
                        "that evaluation with a healthy encoder, or delete that line")
    return record


def read_records(path: str | Path, allow_undefined: bool = True) -> list[dict[str, Any]]:
    """All records of a results file (blank lines skipped). A line with invalid JSON, a ``NaN``/``Infinity``
    number or a value that is not a number is refused with its file and line number; a ``null`` value (an
    undefined score) is kept unless ``allow_undefined=False``, as a report must (:func:`parse_record_line`)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise DataError(f"cannot read results file '{path}' ({exc.strerror}); pass a .jsonl file written with "
                        "--out") from None
    return [parse_record_line(line, f"{path}:{number}", allow_undefined)
            for number, line in enumerate(text.splitlines(), 1) if line.strip()]
