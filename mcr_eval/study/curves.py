"""The compact training log a report folder keeps per run, and the curve files the report builder reads.

mmengine writes each launch's scalars to ``<launch>/vis_data/scalars.json`` (JSON lines, one per logged step)
beside TensorBoard event files and config dumps. A published run keeps only ``scalars.json`` in its own folder:
the launches merged (a resumed launch redoes the steps after its checkpoint, so later values win) and reduced to
the quantities a report plots. The report builder reads TensorBoard events, so they are rewritten from the compact
log into the (ignored) cache before each report.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

COMPACT_LOG = "scalars.json"
# What the report plots: the base SSL loss (``ssl`` in a regularized run, whose ``loss`` is the regularized total;
# ``loss`` otherwise) and the online kNN top-1. Five significant digits are far below what a curve can show.
DIGITS = 5


def _launch_logs(work: Path) -> list[Path]:
    return sorted(work.glob("2*_*/vis_data/scalars.json"))


def compact_log(work: Path) -> Path | None:
    """Write ``<work>/scalars.json`` from the run's launch logs; None when the run logged nothing."""
    logs = _launch_logs(work)
    if not logs:
        return None
    steps: dict[int, dict[str, float]] = {}
    for log in logs:
        for line in log.read_text().splitlines():
            record = json.loads(line)
            kept = ("ssl",) if "ssl" in record else ("loss",)
            values = {k: float(f"{record[k]:.{DIGITS}g}") for k in (*kept, "knn/top1") if k in record}
            if values and "step" in record:
                steps.setdefault(int(record["step"]), {}).update(values)
    path = work / COMPACT_LOG
    path.write_text("".join(json.dumps({"step": step, **steps[step]}) + "\n" for step in sorted(steps)))
    return path


def read_compact_log(work: Path) -> dict[str, list[tuple[int, float]]]:
    """Tag -> [(step, value)] from a run's compact log (empty when it has none)."""
    path = work / COMPACT_LOG
    series: dict[str, list[tuple[int, float]]] = {}
    if not path.is_file():
        return series
    for line in path.read_text().splitlines():
        record = json.loads(line)
        for tag, value in record.items():
            if tag != "step":
                series.setdefault(tag, []).append((int(record["step"]), float(value)))
    return series


def event_logs(works: Iterable[Path], root: Path) -> Path:
    """TensorBoard events under ``root/<run>/`` rebuilt from each run's compact log, for the report builder."""
    from torch.utils.tensorboard import SummaryWriter

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for work in works:
        series = read_compact_log(work)
        if not series:
            continue
        writer = SummaryWriter(str(root / work.name))
        for tag, points in series.items():
            for step, value in points:
                writer.add_scalar(tag, value, step)
        writer.close()
    return root
