"""The published studies behind ``reports/scenes``, ``reports/scenes-full``, ``reports/fashion-mnist``,
``reports/scenes-lr`` and ``reports/ablations``.

``python -m mcr_eval.study NAME --out reports/NAME [--jobs 2]`` pretrains every run of the study, evaluates
each encoder, audits them, and writes the report. Every step is resumable: a run whose ``encoder.json``
already matches the study's scale is not retrained, and an evaluation whose results file exists is not
repeated, so an interrupted study picks up where it stopped. Runs are single-threaded subprocesses,
``--jobs`` at a time, which uses small CPUs better than one multi-threaded run.

Baselines and MCR runs share everything except the MCR block: same config, views, iterations, batch and
seeds. Hyperparameters are the configs' recipe values (learning rate scaled linearly to the batch); none
were tuned for either side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mcr_eval.lr_selection import choose, evaluate_chosen, selection_markdown
from mcr_eval.study_plans import ROOT, STUDIES, Run, Study  # noqa: F401  (re-exported)
from mcr_train.errors import ConfigError, TrainingError, cli_errors


def run_dir(out: Path, study: Study, run: Run) -> Path:
    return (out.parent / run.home if run.home else out) / "runs" / run.name


def scaled_lr(config: Path, batch: int) -> float:
    """The config's learning rate scaled linearly from its batch size to ``batch`` (Goyal et al., 2017)."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(config))
    return float(cfg.optimizer.lr) * batch / int(cfg.data.batch_size)


def train_command(study: Study, run: Run, work: Path) -> list[str]:
    s = study.scale
    lr = scaled_lr(ROOT / run.config, s.batch) * run.lr_factor
    return [sys.executable, "-m", "mcr_train.cli", str(ROOT / run.config), "--work-dir", str(work),
            "--seed", str(run.seed), "--max-iters", str(s.iters), "--cfg-options",
            f"model.backbone.width={s.width}", f"data.batch_size={s.batch}", f"data.spec={study.train_spec}",
            "data.num_workers=0", "log_interval=10", f"optimizer.lr={lr!r}", *run.options]


def _exported_at_scale(work: Path, study: Study, run: Run) -> bool:
    meta_path = work / "encoder.json"
    if not meta_path.is_file():
        return False
    meta = json.loads(meta_path.read_text())
    return meta.get("iters") == study.scale.iters and meta.get("seed") == run.seed


def is_trained(work: Path, study: Study, run: Run) -> bool:
    return _exported_at_scale(work, study, run) and (work / "encoder.safetensors").is_file()


def _single_thread_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _run_logged(command: list[str], log: Path, what: str) -> float:
    start = time.perf_counter()
    with open(log, "w") as handle:
        done = subprocess.run(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env=_single_thread_env())
    if done.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise TrainingError(f"{what} failed (exit {done.returncode}): {tail[0]}; full log: {log}")
    return time.perf_counter() - start


def pretrain(study: Study, run: Run, out: Path) -> str:
    work = run_dir(out, study, run)
    if is_trained(work, study, run):
        return f"{run.name}: already trained"
    if _exported_at_scale(work, study, run) and (out / "results" / f"{run.name}.jsonl").is_file():
        # A clone of the published reports: weights are not committed, but the run's logs and results are.
        return f"{run.name}: already trained and evaluated (weights not kept; logs and results are)"
    if work.exists():
        shutil.rmtree(work)
    work.parent.mkdir(parents=True, exist_ok=True)
    seconds = _run_logged(train_command(study, run, work), work.with_suffix(".out"), f"pretraining {run.name}")
    return f"{run.name}: trained in {seconds:.0f}s"


def _eval(*args: str) -> list[str]:
    return [sys.executable, "-m", "mcr_eval.cli", *args]


def evaluation_commands(study: Study, run: Run, out: Path, results: Path) -> list[list[str]]:
    """``mcr-eval`` argument lists for one encoder: kNN, fast linear, representation metrics, retention audit."""
    work = str(run_dir(out, study, run))
    common = ["--data", study.eval_data, "--out", str(results), "--quiet", "--workers", "0",
              "--cache-dir", str(out / "cache")]
    audit_data = study.eval_data if study.audit == "invariance" else "scenes"
    probes = [["knn", work, *common], ["linear", work, "--mode", "fast", *common], ["represent", work, *common]]
    if study.audit == "none":
        return probes
    return probes + [["retain", work, "--data", audit_data, "--n", str(study.audit_n), "--counterfactuals",
                      str(study.counterfactuals), "--out", str(results)]]


def evaluate_in_process(study: Study, run: Run, out: Path, results: Path) -> None:
    """Every evaluation of one encoder in this process (one interpreter start instead of four)."""
    from mcr_eval.cli import main as eval_main

    for args in evaluation_commands(study, run, out, results):
        print(f"--- mcr-eval {' '.join(args)}", flush=True)
        if eval_main(args) not in (0, None):
            raise TrainingError(f"mcr-eval {args[0]} failed on {run.name}; see the log above")


def evaluate(study: Study, run: Run, out: Path) -> str:
    """kNN, fast linear probe, representation metrics and the audit of one encoder into ``results/<run>.jsonl``."""
    final = out / "results" / f"{run.name}.jsonl"
    final.parent.mkdir(parents=True, exist_ok=True)
    # Two invocations of a study may overlap (say, a resumed one); the lock makes the second wait and skip.
    with open(final.with_suffix(".evaluating"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if final.is_file():
            return f"{run.name}: already evaluated"
        partial = final.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        command = [sys.executable, "-m", "mcr_eval.study", study.name, "--out", str(out), "--evaluate-one",
                   run.name, "--results", str(partial)]
        seconds = _run_logged(command, out / "results" / f"{run.name}.log", f"evaluation of {run.name}")
        partial.rename(final)
        partial.with_name(partial.name + ".lock").unlink(missing_ok=True)
        final.with_suffix(".seconds").write_text(f"{seconds:.1f}\n")
    final.with_suffix(".evaluating").unlink(missing_ok=True)
    return f"{run.name}: evaluated in {seconds:.0f}s"


def attribute(study: Study, out: Path) -> str:
    final = out / "results" / "attribution.jsonl"
    if not study.attribution or final.is_file():
        return "attribution: nothing to do"
    partial = final.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    runs = {r.name: r for r in study.runs}
    waiting = [n for n in study.attribution if not is_trained(run_dir(out, study, runs[n]), study, runs[n])]
    if waiting:  # a part of the study (--only) that did not train them
        return f"attribution: waits for {', '.join(waiting)}"
    encoders = [str(run_dir(out, study, runs[name])) for name in study.attribution]
    command = _eval("attribute", *encoders, "--n", "8", "--method", "ig", "--target", "view-similarity",
                    "--out", str(partial), "--figures", str(out / "attribution"))
    seconds = _run_logged(command, out / "results" / "attribution.log", "attribution")
    partial.rename(final)
    partial.with_name(partial.name + ".lock").unlink(missing_ok=True)
    return f"attribution: {seconds:.0f}s"


def _pool(jobs: int, tasks: list[Callable[[], str]], title: str) -> list[str]:
    print(f"\n=== {title} ({len(tasks)} tasks, {jobs} at a time)", flush=True)
    messages = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for message in pool.map(lambda task: task(), tasks):
            print(f"    {message}", flush=True)
            messages.append(message)
    return messages


def unique_runs(study: Study, only: Sequence[str] = ()) -> list[Run]:
    """The study's distinct runs, or those whose names match one of the ``only`` glob patterns."""
    seen: dict[str, Run] = {}
    for run in study.runs:
        seen.setdefault(run.name, run)
    runs = list(seen.values())
    if not only:
        return runs
    chosen = [r for r in runs if any(fnmatch.fnmatchcase(r.name, pattern) for pattern in only)]
    if not chosen:
        raise ConfigError(f"--only {' '.join(only)} matches no run of '{study.name}'; its runs are "
                          f"{', '.join(r.name for r in runs)}")
    return chosen


def longest_first(runs: Sequence[Run]) -> list[Run]:
    """MCR runs (2-3x a baseline's step time) start first, which shortens the wall-clock of a parallel batch."""
    return sorted(runs, key=lambda r: "-mcr" not in Path(r.config).name)


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


def run_span(work: Path) -> tuple[float, float] | None:
    """(start, end) of a finished run: its first log folder's start stamp and the last stamped log line of
    its last one. File times are not used: a clone or checkout resets them."""
    stamps = sorted(p.name for p in work.glob("2*_*") if p.is_dir())
    if not stamps or not (work / "encoder.json").is_file():
        return None
    start = dt.datetime.strptime(stamps[0], "%Y%m%d_%H%M%S").replace(tzinfo=dt.timezone.utc).timestamp()
    end = _last_log_time(work / stamps[-1])
    return None if end is None else (start, end)


def update_timing(study: Study, out: Path, jobs: int, step_seconds: dict[str, float]) -> dict:
    """``timing.json``: per-run pretraining and evaluation times, and the wall-clock span of the pretraining
    (first run's start to last run's end, i.e. what regenerating it took with the runs in parallel)."""
    path = out / "timing.json"
    timing = json.loads(path.read_text()) if path.is_file() else {}
    own = [r for r in unique_runs(study) if not r.home]
    spans = {r.name: run_span(run_dir(out, study, r)) for r in own}
    known = [v for v in spans.values() if v is not None]
    evals = {r.name: float(t.read_text()) for r in own if (t := out / "results" / f"{r.name}.seconds").is_file()}
    steps = {**timing.get("steps_s", {}), **{k: round(v) for k, v in step_seconds.items()}}
    if "pretrain_invocation" in step_seconds:
        timing["pretrain_jobs"] = jobs
    if study.parts:
        # A part's wall-clock is only known once every run of it has trained.
        timing["parts_wall_s"] = {" ".join(part): round(parallel_wall_s(
            [spans[r.name][1] - spans[r.name][0] for r in unique_runs(study, part)], 2))
            if all(spans.get(r.name) for r in unique_runs(study, part)) else None
            for part in study.parts}
    timing.update({
        "study": study.name, "jobs": jobs, "cpu_count": os.cpu_count(), "scale": study.scale.__dict__,
        "pretraining_run_s": {k: (round(v[1] - v[0]) if v else None) for k, v in spans.items()},
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
    evaluated = (f"{what} {evaluation / 60:.0f} min of single-process time "
                 f"({evaluation / 120:.0f} min at 2 jobs)") if evaluation else ""
    if study.parts:
        walls = timing.get("parts_wall_s", {})
        lines = [f"**Regenerate** in {len(study.parts)} parts of under 2 h each (resumable; every part rebuilds the "
                 "report from the runs evaluated so far). Pretraining wall-clock at 2 single-threaded jobs, computed "
                 "from the measured per-run times in `timing.json` (longest run first):", ""]
        trained = {k for k, v in timing.get("pretraining_run_s", {}).items() if v}
        for part in study.parts:
            wall = walls.get(" ".join(part))
            runs = [r.name for r in unique_runs(study, part)]
            done = sum(name in trained for name in runs)
            measured = (f"{wall / 60:.0f} min" if wall else
                        f"partly run ({done} of {len(runs)} runs trained)" if done else "not run yet")
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
    return f"**Regenerate.** `{command}` (resumable). Measured here: {minutes}{'; ' * bool(evaluated)}{evaluated}."


def _same_budget(study: Study) -> str:
    factors = sorted({r.lr_factor for r in study.runs})
    if factors != [1.0]:
        return ("**Same budget for both sides.** Baseline and MCR runs share config, views, iterations, batch and "
                f"seed, and each learning rate ({', '.join(f'{f:g}' for f in factors)} times the recipe's, scaled "
                "linearly to the batch) is tried on both sides.")
    return ("**Same budget for both sides.** Baseline and MCR runs share config, views, iterations, batch, seeds "
            "and learning rate (the recipe's, scaled linearly to the batch); nothing was tuned for either side.")


def preamble(study: Study, timing: dict, out: Path) -> str:
    """Scale, hardware and the regeneration command, stated at the top of the report."""
    s = study.scale
    shown = [r for r in study.runs if r.table or not study.ablation]  # not the runs borrowed for the spread row
    evaluated = [r for r in shown if r.home or (out / "results" / f"{r.name}.jsonl").is_file()]
    methods = ", ".join(sorted({r.name.split("-")[0] for r in evaluated})) or "(none yet)"
    seeds = sorted({r.seed for r in evaluated})
    seed_list = ", ".join(map(str, seeds)) or "(none yet)"
    missing = sorted({r.name for r in shown} - {r.name for r in evaluated})
    pending = (f" **Not run yet:** {', '.join(missing)}; this report covers the other runs." if missing else "")
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


def merged_results(study: Study, out: Path) -> Path:
    """One results file for the report: this study's records plus those of runs it borrows from another."""
    files = sorted((out / "results").glob("*.jsonl"))
    files += [run_dir(out, study, r).parent.parent / "results" / f"{r.name}.jsonl"
              for r in unique_runs(study) if r.home]
    merged = out / "results.jsonl"
    merged.write_text("".join(f.read_text() for f in files))
    return merged


def report(study: Study, out: Path, timing: dict) -> None:
    from mcr_eval.cli import main as eval_main

    results = merged_results(study, out)
    text = preamble(study, timing, out)
    if study.test_data:
        text += "\n" + selection_markdown(study, out, choose(study, out))
    shown = os.path.relpath(results) if results.is_relative_to(Path.cwd()) else str(results)
    if study.ablation:
        from mcr_eval.reports.ablation import write_ablation_report

        variants = [(r.table, r.variant, r.name) for r in study.runs if r.table]
        index = write_ablation_report(Path(shown), variants, out, study.title, text, study.spread)
        print(f"ablation report: {index}")
        return
    (out / "preamble.md").write_text(text)
    figures = [str(p) for p in (out / "attribution",) if p.is_dir()]
    eval_main(["report", shown, "--out", str(out), "--logs", str(out / "runs"),
               "--preamble", str(out / "preamble.md"), *(["--figures", *figures] if figures else [])])


def run_study(study: Study, out: Path, jobs: int, steps: Sequence[str], only: Sequence[str] = ()) -> None:
    runs = longest_first(unique_runs(study, only))
    out.mkdir(parents=True, exist_ok=True)
    start, seconds = time.perf_counter(), {}
    if "pretrain" in steps:
        tick = time.perf_counter()
        done = _pool(jobs, [lambda r=r: pretrain(study, r, out) for r in runs], f"{study.name}: pretraining")
        if any("trained in" in m for m in done):
            seconds["pretrain_invocation"] = time.perf_counter() - tick
    own = [r for r in runs if not r.home]
    if "evaluate" in steps:
        for r in runs:
            if r.home and not (run_dir(out, study, r).parent.parent / "results" / f"{r.name}.jsonl").is_file():
                raise ConfigError(f"run {r.name} belongs to the '{r.home}' study and is not evaluated yet; "
                                  f"run `python -m mcr_eval.study {r.home}` first")
        todo = [r for r in own if not (out / "results" / f"{r.name}.jsonl").is_file()]
        tick = time.perf_counter()
        tasks = [lambda r=r: evaluate(study, r, out) for r in own] + [lambda: attribute(study, out)]
        _pool(jobs, tasks, f"{study.name}: evaluation, audit and attribution")
        if todo:
            seconds["evaluate"] = time.perf_counter() - tick
        if study.test_data:
            print(f"\n=== {study.name}: the runs chosen on validation, on the test split", flush=True)
            for message in evaluate_chosen(study, out, choose(study, out)):
                print(f"    {message}", flush=True)
    timing = update_timing(study, out, jobs, seconds)
    if "report" in steps:
        print(f"\n=== {study.name}: report", flush=True)
        report(study, out, timing)
    print(f"\n{study.name} done in {time.perf_counter() - start:.0f}s; timing in {out / 'timing.json'}")


@cli_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mcr_eval.study", description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=sorted(STUDIES))
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: reports/STUDY)")
    parser.add_argument("--jobs", type=int, default=2, help="single-threaded runs at a time (default 2)")
    parser.add_argument("--steps", nargs="+", default=["pretrain", "evaluate", "report"],
                        choices=["pretrain", "evaluate", "report"])
    parser.add_argument("--only", nargs="+", default=(), metavar="PATTERN",
                        help="train and evaluate only the runs matching these glob patterns (a part of a long "
                             "study); the report covers every run evaluated so far")
    parser.add_argument("--evaluate-one", metavar="RUN", help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {args.jobs}")
    study = STUDIES[args.study]
    out = args.out or ROOT / "reports" / study.name
    if args.evaluate_one:
        runs = {r.name: r for r in study.runs}
        if args.evaluate_one not in runs or args.results is None:
            raise ConfigError(f"--evaluate-one needs a run of '{study.name}' and --results; runs: {sorted(runs)}")
        evaluate_in_process(study, runs[args.evaluate_one], out, args.results)
        return 0
    run_study(study, out, args.jobs, args.steps, args.only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
