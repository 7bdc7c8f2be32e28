"""Load result records into pandas and check them before anything is averaged.

Column identity. A *family* is (task, dataset, split, metric). A *column* is a family plus the full
protocol, minus the replicate keys in :data:`REPLICATE_KEYS` (e.g. the detection trial seed), which
mark repeated measurements of the same number rather than a different protocol, and minus the encoder keys
in :data:`ENCODER_KEYS`: the retention audit records each encoder's training views and the factor roles
they imply, which differ between methods by design (SimCLR and BYOL use different views) and describe the
row, not the measurement; such columns say so in their protocol (``factor roles``).

Mixed protocols. When one family has several protocols, they must each cover the same rows
(method x regularizer): then they are honest separate columns (say kNN k=20 and k=200 for every
method). If the protocols split the rows (SimCLR measured one way, SimCLR+MCR another), the rows
are not comparable under one header and loading fails with a message naming the differing keys.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from mcr_eval.records import RECORD_KEYS
from mcr_eval.reports.headers import clean
from mcr_train.errors import DataError

REPLICATE_KEYS = ("trial", "eval_seed")
ENCODER_KEYS = ("views", "destroyed", "role")
ROW_KEYS = ("method", "regularizer")
GROUP_KEYS = ("pretrain_data", "backbone", "epochs")
FAMILY_KEYS = ("task", "dataset", "split", "metric")


def read_records(paths: Iterable[Path]) -> list[dict]:
    """Parse JSON lines, refusing any record that lacks a field or a finite value."""
    records = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"results file {path} not found; pass the .jsonl files written by mcr-eval --out")
        for line_no, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where} is not valid JSON ({exc.msg}); fix or remove that line") from None
            if not isinstance(rec, dict):
                raise DataError(f"{where} is not a JSON object; each line must be one result record")
            missing = [k for k in RECORD_KEYS if k not in rec]
            if missing:
                raise DataError(f"{where} lacks record fields {missing}; records must follow docs/contracts.md §2")
            if not isinstance(rec["protocol"], dict):
                raise DataError(f"{where}: protocol must be an object of the parameters that define the number")
            value = rec["value"]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise DataError(f"{where}: value {value!r} is not a finite number; re-run that evaluation")
            rec["_source"] = where
            records.append(rec)
    if not records:
        raise DataError("no result records found in the given files; run an evaluation with --out first")
    return records


def protocol_key(protocol: dict) -> str:
    """Canonical text of the protocol without replicate keys (the column's protocol identity)."""
    # Floats rounded to 12 significant digits: one grid value written by two numpy versions is one protocol.
    kept = {k: clean(v) for k, v in protocol.items() if k not in REPLICATE_KEYS and k not in ENCODER_KEYS}
    if any(k in protocol for k in ENCODER_KEYS):
        kept["factor roles"] = "from each row's training views"
    return json.dumps(kept, sort_keys=True, default=str)


def replicate_id(protocol: dict) -> str:
    return json.dumps({k: protocol[k] for k in REPLICATE_KEYS if k in protocol}, sort_keys=True, default=str)


REFERENCE_VARIANT = "reference"  # records of mcr_eval.reference_rows: random-init encoder, raw pixels
REFERENCE_SOURCE_KEYS = ("checkpoint_format", "stem_padding")  # describe the encoder, not the measurement


def is_reference(frame: pd.DataFrame) -> pd.Series:
    """Rows of reference records (``variant: "reference"``)."""
    if "variant" not in frame:
        return pd.Series(False, index=frame.index)
    return frame["variant"].eq(REFERENCE_VARIANT)


def measurement_key(key: str) -> str:
    """A protocol key without the encoder-describing keys: a reference row's column identity."""
    return json.dumps({k: v for k, v in json.loads(key).items() if k not in REFERENCE_SOURCE_KEYS}, sort_keys=True)


def records_frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records)
    frame["epochs"] = frame["epochs"].astype(str)
    frame["seed"] = frame["seed"].astype(str)
    frame["protocol_key"] = frame["protocol"].map(protocol_key)
    frame["replicate"] = frame["protocol"].map(replicate_id)
    frame["value"] = frame["value"].astype(float)
    check_duplicates(frame)
    check_mixed_protocols(frame)
    return frame


def check_duplicates(frame: pd.DataFrame) -> None:
    keys = [*GROUP_KEYS, *ROW_KEYS, *FAMILY_KEYS, "protocol_key", "run", "seed", "replicate"]
    dup = frame[frame.duplicated(keys, keep=False)]
    if len(dup):
        first = dup.iloc[0]
        raise DataError(
            f"records {', '.join(dup['_source'].head(2))} measure the same thing twice (run {first['run']}, "
            f"seed {first['seed']}, {first['task']}/{first['metric']}); remove the stale one instead of averaging"
        )


def _protocol_diff(a: str, b: str) -> str:
    pa, pb = json.loads(a), json.loads(b)
    keys = sorted(k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k))
    return ", ".join(f"{k}: {pa.get(k)!r} vs {pb.get(k)!r}" for k in keys)


def _audit_version(protocol: dict) -> str:
    """The retention audit's version (v1 records carry none): v1 and v2 are different measurements with
    different column names, so rows audited only with one of them do not mix protocols."""
    return str(protocol.get("audit", "v1")) if isinstance(protocol, dict) else "v1"


def check_mixed_protocols(frame: pd.DataFrame) -> None:
    frame = frame.assign(_audit=frame["protocol"].map(_audit_version))
    for family, sub in frame.groupby([*GROUP_KEYS, *FAMILY_KEYS, "_audit"]):
        if sub["protocol_key"].nunique() < 2:
            continue
        coverage = {p: frozenset(map(tuple, rows[list(ROW_KEYS)].drop_duplicates().values))
                    for p, rows in sub.groupby("protocol_key")}
        if len(set(coverage.values())) > 1:
            (pa, ra), (pb, rb) = next(
                (a, b) for a in coverage.items() for b in coverage.items() if a[1] != b[1])
            task, metric = family[3], family[6]
            raise DataError(
                f"{task}/{metric} on {family[4]} mixes protocols across rows ({_protocol_diff(pa, pb)}): rows "
                f"{sorted(ra)} vs {sorted(rb)} cannot share a header; evaluate every row with the same protocol"
            )
