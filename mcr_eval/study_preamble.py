"""What a study's report states about itself: its scale and hardware, the per-run times measured from the
training logs (``timing.json``), and the commands that regenerate it with their wall-clock.

Times come from mmengine's log stamps, never from file times, which a clone resets.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from mcr_eval.study_plans import STUDIES, Study, is_evaluated, run_dir, table_runs, unique_runs


def parallel_wall_s(seconds: Sequence[float], jobs: int) -> float:
    """Wall-clock of running tasks of these durations ``jobs`` at a time, longest first (as ``run_study`` does)."""
    workers = [0.0] * jobs
    for duration in sorted(seconds, reverse=True):
        workers[workers.index(min(workers))] += duration
    return max(workers)


_LOG_STAMP = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) ")


def _last_log_time(folder: Path) -> float | None:
    """Time of the last stamped line of mmengine's log in one run folder (what a fresh checkout keeps)."""
    last = None
    for log in folder.glob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if m := _LOG_STAMP.match(line):
                last = m.group(1)
    if last is None:
        return None
    return dt.datetime.strptime(last, "%Y/%m/%d %H:%M:%S").replace(tzinfo=dt.timezone.utc).timestamp()


def _sittings(work: Path) -> list[tuple[float, float | None]]:
    """(start stamp, last stamped log line) of each launch of a run: one log folder per launch, so a run
    resumed after an interruption has several. File times are not used: a clone or checkout resets them."""
    stamps = sorted(p.name for p in work.glob("2*_*") if p.is_dir())
    return [(dt.datetime.strptime(stamp, "%Y%m%d_%H%M%S").replace(tzinfo=dt.timezone.utc).timestamp(),
             _last_log_time(work / stamp)) for stamp in stamps]


def run_span(work: Path) -> tuple[float, float] | None:
    """(start, end) of a finished run: its first launch's start stamp and the last stamped log line of its
    last one."""
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


def update_timing(study: Study, out: Path, jobs: int, step_seconds: dict[str, float]) -> dict:
    """``timing.json``: per-run pretraining and evaluation times, and the wall-clock span of the pretraining
    (first run's start to last run's end, i.e. what regenerating it took with the runs in parallel)."""
    path = out / "timing.json"
    timing = json.loads(path.read_text()) if path.is_file() else {}
    own = [r for r in unique_runs(study) if not r.home]
    spans = {r.name: run_span(run_dir(out, study, r)) for r in own}
    busy = {r.name: run_seconds(run_dir(out, study, r)) for r in own}
    known = [v for v in spans.values() if v is not None]
    evals = {r.name: float(t.read_text()) for r in own if (t := out / "results" / f"{r.name}.seconds").is_file()}
    steps = {**timing.get("steps_s", {}), **{k: round(v) for k, v in step_seconds.items()}}
    if "pretrain_invocation" in step_seconds:
        timing["pretrain_jobs"] = jobs
    if study.parts:
        # A part's wall-clock is only known once every run of it has trained.
        timing["parts_wall_s"] = {" ".join(part): round(parallel_wall_s(
            [busy[r.name] for r in unique_runs(study, part)], 2))
            if all(busy.get(r.name) for r in unique_runs(study, part)) else None
            for part in study.parts}
    timing.update({
        "study": study.name, "jobs": jobs, "cpu_count": os.cpu_count(), "scale": study.scale.__dict__,
        "pretraining_run_s": {k: (round(v) if v else None) for k, v in busy.items()},
        "pretraining_sittings": {r.name: n for r in own if (n := sitting_count(run_dir(out, study, r))) > 1},
        "pretraining_span_s": round(max(e for _, e in known) - min(s for s, _ in known)) if known else None,
        "evaluation_run_s": {k: round(v) for k, v in evals.items()},
        "evaluation_sum_s": round(sum(evals.values())), "steps_s": steps})
    path.write_text(json.dumps(timing, indent=2) + "\n")
    return timing


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def _regeneration(study: Study, timing: dict) -> str:
    """The command(s) that regenerate the report and what they took here."""
    command = f"python -m mcr_eval.study {study.name} --out reports/{study.name}"
    evaluation = timing.get("evaluation_sum_s")
    what = "evaluation" if study.audit == "none" else "evaluation and audit"
    evaluated = (f"{what} {_duration(evaluation)} of single-process time "
                 f"({_duration(evaluation / 2)} at 2 jobs)") if evaluation else ""
    homes = [f"`python -m mcr_eval.study {home}`" for home in sorted({r.home for r in study.runs if r.home})]
    after = f", after {' and '.join(homes)}, whose runs it borrows" if homes else ""
    if homes and all(r.home for r in study.runs):
        return (f"**Regenerate.** This study trains and evaluates nothing itself: every row is borrowed. Run "
                f"{', '.join(homes)} first (each report's preamble gives its parts and their measured times), then "
                f"`{command}`, which {'computes the attribution and ' * bool(study.attribution)}builds this report.")
    if study.parts:
        walls = timing.get("parts_wall_s", {})
        lines = [f"**Regenerate** in {len(study.parts)} parts of under 2 h each (resumable{after}; every part "
                 "rebuilds the report from the runs evaluated so far). Pretraining wall-clock at 2 single-threaded "
                 "jobs, computed from the measured per-run times in `timing.json` (longest run first):", ""]
        trained = {k for k, v in timing.get("pretraining_run_s", {}).items() if v}
        resumed = timing.get("pretraining_sittings", {})
        for part in study.parts:
            wall = walls.get(" ".join(part))
            runs = [r.name for r in unique_runs(study, part)]
            done = sum(name in trained for name in runs)
            measured = (f"{wall / 60:.0f} min" if wall else
                        f"partly run ({done} of {len(runs)} runs trained)" if done else "not run yet")
            if wall and (split := {n: resumed[n] for n in runs if resumed.get(n, 1) > 1}):
                measured += " (summed over the sittings of " + ", ".join(
                    f"{name}, stopped and resumed: {count} sittings" for name, count in split.items()) + \
                    "; each resume redoes the iterations after the last checkpoint and replays the data loader)"
            lines.append(f"- `{command} --only {' '.join(repr(p) for p in part)}`: {measured}")
        return "\n".join(lines) + (f"\n\n{evaluated[0].upper()}{evaluated[1:]}." if evaluated else "")
    span = timing.get("pretraining_span_s")
    runs = [v for v in timing.get("pretraining_run_s", {}).values() if v]
    jobs = timing.get("pretrain_jobs", 2)
    if not span or not runs:
        minutes = "pretraining time not recorded"
    elif span <= 1.5 * parallel_wall_s(runs, jobs):
        minutes = (f"pretraining {span / 60:.0f} min wall-clock with {jobs} single-threaded run{'s' * (jobs > 1)} "
                   "at a time (per-run times in `timing.json`)")
    else:  # trained in more than one sitting: the first-start-to-last-end span is not a regeneration time
        minutes = (f"pretraining about {parallel_wall_s(runs, 2) / 60:.0f} min at 2 single-threaded jobs, computed "
                   "from the measured per-run times in `timing.json` (the runs were trained in more than one "
                   "sitting)")
    return (f"**Regenerate.** `{command}` (resumable{after}). Measured here: {minutes}"
            f"{'; ' * bool(evaluated)}{evaluated}.")


def _same_budget(study: Study) -> str:
    if study.budget:
        return study.budget
    factors = sorted({r.lr_factor for r in study.runs})
    if study.lr_chosen_by:
        sides = {}
        for r in study.runs:
            method, reg = r.name.split("-")[:2]
            sides[f"{method}{'+MCR' if reg == 'mcr' else ''}"] = r.lr_factor
        rates = ", ".join(f"{side} {f:g}x" for side, f in sorted(sides.items()))
        return ("**Same budget for both sides.** Baseline and MCR runs share config, views, iterations, batch and "
                f"seeds; each side trains at the learning rate `reports/{study.lr_chosen_by}` chose for it on its "
                f"validation split ({rates} the recipe's, scaled linearly to the batch).")
    if factors != [1.0]:
        return ("**Same budget for both sides.** Baseline and MCR runs share config, views, iterations, batch and "
                f"seed, and each learning rate ({', '.join(f'{f:g}' for f in factors)} times the recipe's, scaled "
                "linearly to the batch) is tried on both sides.")
    return ("**Same budget for both sides.** Baseline and MCR runs share config, views, iterations, batch, seeds "
            "and learning rate (the recipe's, scaled linearly to the batch); nothing was tuned for either side.")


def _duration(seconds: float) -> str:
    """Whole minutes, or seconds below two minutes (where rounding to minutes would say 0 or 1)."""
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def preamble(study: Study, timing: dict, out: Path) -> str:
    """Scale, hardware and the regeneration command, stated at the top of the report."""
    s = study.scale
    shown = [r for r in study.runs if r.table or not study.ablation]  # not the runs borrowed for the spread row
    evaluated = [r for r in shown if is_evaluated(out, study, r)]
    tabled = table_runs(study, out) if study.ablation else evaluated
    methods = ", ".join(sorted({r.name.split("-")[0] for r in tabled})) or "(none yet)"
    seeds = sorted({r.seed for r in tabled})
    seed_list = ", ".join(map(str, seeds)) or "(none yet)"
    missing = sorted({r.name for r in shown} - {r.name for r in evaluated})
    pending = (f" **Not run yet:** {', '.join(missing)}; this report covers the other runs." if missing else "")
    if len(tabled) < len(evaluated):
        pending += (f" Its tables keep only the seeds every row of a table has ({seed_list}), so row means and "
                    "paired rows cover the same seeds.")
    borrowed = sorted({r.home for r in shown if r.home and STUDIES[r.home].scale.iters != s.iters})
    pending += "".join(f" The rows borrowed from `reports/{home}/` were trained for that study's "
                       f"{STUDIES[home].scale.iters} iterations." for home in borrowed)
    return "\n".join([
        f"## {study.title}", "",
        "**Scale and hardware.** ResNet-18 (CIFAR stem) at width "
        f"{s.width}, {s.iters} iterations at batch {s.batch} on `{study.train_spec}`, methods {methods}, "
        f"seed{'s' * (len(seeds) > 1)} {seed_list}; {os.cpu_count()} CPU cores ({_cpu_name()}), "
        "no GPU. Evaluation on "
        f"`{study.eval_data}`; audit: {study.audit}. This is a small-compute study: it tests the direction of "
        f"the paper's claims at this scale, not its numbers.{pending}", "",
        _same_budget(study), "",
        _regeneration(study, timing), ""])
