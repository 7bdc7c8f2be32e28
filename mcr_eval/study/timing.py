"""What a study measured about itself: per-run pretraining and evaluation times (``timing.json``).

Times come from mmengine's log stamps, never from file times, which a clone resets. A report folder keeps
only compact logs, so a time once measured is kept in ``timing.json`` and never overwritten by "unknown".
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from mcr_eval.study.paths import run_dir, unique_runs
from mcr_eval.study.types import Study


def parallel_wall_s(seconds: Sequence[float], jobs: int) -> float:
    """Wall-clock of running tasks of these durations ``jobs`` at a time, longest first (as the runner does)."""
    workers = [0.0] * jobs
    for duration in sorted(seconds, reverse=True):
        workers[workers.index(min(workers))] += duration
    return max(workers)


_LOG_STAMP = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) ")


def _last_log_time(folder: Path) -> float | None:
    """Time of the last stamped line of mmengine's log in one launch folder."""
    last = None
    for log in folder.glob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if m := _LOG_STAMP.match(line):
                last = m.group(1)
    if last is None:
        return None
    return dt.datetime.strptime(last, "%Y/%m/%d %H:%M:%S").replace(tzinfo=dt.timezone.utc).timestamp()


def _sittings(work: Path) -> list[tuple[float, float | None]]:
    """(start stamp, last stamped log line) of each launch of a run: mmengine opens one log folder per launch,
    so a run resumed after an interruption has several."""
    stamps = sorted(p.name for p in work.glob("2*_*") if p.is_dir())
    return [(dt.datetime.strptime(stamp, "%Y%m%d_%H%M%S").replace(tzinfo=dt.timezone.utc).timestamp(),
             _last_log_time(work / stamp)) for stamp in stamps]


def run_span(work: Path) -> tuple[float, float] | None:
    """(start, end) of a finished run: its first launch's start and the last stamped log line of its last one."""
    sittings = _sittings(work)
    if not sittings or not (work / "encoder.json").is_file() or sittings[-1][1] is None:
        return None
    return sittings[0][0], sittings[-1][1]


def run_seconds(work: Path) -> float | None:
    """Training time of a finished run: the sum over its launches, so the gap before a resume is not counted."""
    if run_span(work) is None:
        return None
    return sum(end - start for start, end in _sittings(work) if end is not None)


def sitting_count(work: Path) -> int:
    """How many launches a run took: more than one means it was resumed, and its summed time includes the
    iterations redone after the last checkpoint and the data-loader replay of each resume."""
    return len(_sittings(work))


def _kept(old: dict, new: dict) -> dict:
    """Newly measured values where known, the earlier measurement where not."""
    return {**old, **{k: v for k, v in new.items() if v is not None}}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def update_timing(study: Study, out: Path, jobs: int, step_seconds: dict[str, float]) -> dict:
    """``timing.json``: per-run pretraining and evaluation times, and the wall-clock span of the pretraining."""
    path = out / "timing.json"
    timing = json.loads(path.read_text()) if path.is_file() else {}
    own = [r for r in unique_runs(study) if not r.home]
    spans = {r.name: run_span(run_dir(out, r)) for r in own}
    measured = {r.name: run_seconds(run_dir(out, r)) for r in own}
    busy = _kept(timing.get("pretraining_run_s", {}), {k: None if v is None else round(v) for k, v in measured.items()})
    evals = {r.name: round(float(t.read_text())) for r in own
             if (t := out / "results" / f"{r.name}.seconds").is_file()}
    evals = _kept(timing.get("evaluation_run_s", {}), evals)
    sittings = _kept(timing.get("pretraining_sittings", {}),
                     {r.name: n for r in own if (n := sitting_count(run_dir(out, r))) > 1})
    known = [v for v in spans.values() if v is not None]
    if known:
        timing["pretraining_span_s"] = round(max(e for _, e in known) - min(s for s, _ in known))
    if "pretrain_invocation" in step_seconds:
        timing["pretrain_jobs"] = jobs
    if study.parts:
        # A part's wall-clock is only known once every run of it has trained.
        timing["parts_wall_s"] = {" ".join(part): round(parallel_wall_s(
            [busy[r.name] for r in unique_runs(study, part)], 2))
            if all(busy.get(r.name) is not None for r in unique_runs(study, part)) else None
            for part in study.parts}
    timing.update({
        "study": study.name, "cpu_count": timing.get("cpu_count", os.cpu_count()),
        "cpu": timing.get("cpu", cpu_name()),
        "pretraining_run_s": busy, "pretraining_sittings": sittings,
        "evaluation_run_s": evals, "evaluation_sum_s": round(sum(evals.values())),
        "steps_s": {**timing.get("steps_s", {}), **{k: round(v) for k, v in step_seconds.items()}}})
    path.write_text(json.dumps(timing, indent=2) + "\n")
    return timing
