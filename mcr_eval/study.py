"""The published studies behind ``reports/scenes``, ``reports/fashion-mnist``, ``reports/scenes-full``,
``reports/scenes-lr``, ``reports/ablations`` and the other folders under ``reports/``.

``python -m mcr_eval.study NAME --out reports/NAME [--jobs 2]`` pretrains every run of the study, evaluates
each encoder, audits them, and writes the report. Every step is resumable: a run whose ``encoder.json``
already matches the study's scale is not retrained, a run stopped before it exported its encoder continues
from its last checkpoint (when it was started with the same command), and an evaluation whose results file
exists is not repeated, so an interrupted study picks up where it stopped. Runs are single-threaded subprocesses,
``--jobs`` at a time, which uses small CPUs better than one multi-threaded run.

Baselines and MCR runs share everything except the MCR block: same config, views, iterations, batch and
seeds. Hyperparameters are the configs' recipe values (learning rate scaled linearly to the batch), except in
the learning-rate studies: ``*-lr`` choose each side's rate on a validation split, ``*-chosen-lr*`` train at
the chosen rates, and ``fashion-mnist-byol-same-rate`` gives BYOL's baseline BYOL+MCR's rate as a stated check.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mcr_eval.lr_selection import choose, evaluate_chosen, selection_markdown
from mcr_eval.study_plans import (  # noqa: F401  (re-exported)
    ROOT,
    STUDIES,
    Run,
    Study,
    is_evaluated,
    results_path,
    run_dir,
    table_runs,
    unique_runs,
)
from mcr_eval.study_preamble import preamble, update_timing
from mcr_train.errors import ConfigError, TrainingError, cli_errors


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


def _run_logged(command: list[str], log: Path, what: str, append: bool = False) -> float:
    start = time.perf_counter()
    log.parent.mkdir(parents=True, exist_ok=True)  # a study that only borrows runs has no results/ folder yet
    with open(log, "a" if append else "w") as handle:
        done = subprocess.run(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env=_single_thread_env())
    if done.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise TrainingError(f"{what} failed (exit {done.returncode}): {tail[0]}; full log: {log}")
    return time.perf_counter() - start


def pretrain(study: Study, run: Run, out: Path) -> str:
    work = run_dir(out, study, run)
    if run.home:  # borrowed: never retrained (or wiped) by a study that does not own it
        if is_trained(work, study, run) or results_path(out, study, run).is_file():
            return f"{run.name}: borrowed from the '{run.home}' study"
        raise ConfigError(f"run {run.name} belongs to the '{run.home}' study and is not trained yet; "
                          f"run `python -m mcr_eval.study {run.home}` first")
    work.parent.mkdir(parents=True, exist_ok=True)
    # Two overlapping invocations of a study must not train (or wipe) one run twice: the second waits here.
    with open(work.with_suffix(".training"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        message = _train_unless_trained(study, run, out)
    work.with_suffix(".training").unlink(missing_ok=True)
    return message


def _train_unless_trained(study: Study, run: Run, out: Path) -> str:
    work = run_dir(out, study, run)
    if is_trained(work, study, run):
        return f"{run.name}: already trained"
    if _exported_at_scale(work, study, run) and results_path(out, study, run).is_file():
        # A clone of the published reports: weights are not committed, but the run's logs and results are.
        return f"{run.name}: already trained and evaluated (weights not kept; logs and results are)"
    command = train_command(study, run, work)
    if _interrupted_at_same_plan(work, command):
        # Resume is bit-exact (tests/train/test_resume.py), so a run stopped mid-way costs only the iterations
        # since its last checkpoint and ends with the weights an uninterrupted run would have.
        seconds = _run_logged([*command, "--resume"], work.with_suffix(".out"), f"pretraining {run.name}", True)
        return f"{run.name}: resumed and trained in {seconds:.0f}s"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / PLAN_FILE).write_text(json.dumps(_plan(command)) + "\n")
    seconds = _run_logged(command, work.with_suffix(".out"), f"pretraining {run.name}")
    return f"{run.name}: trained in {seconds:.0f}s"


PLAN_FILE = "study_plan.json"


def _plan(command: list[str]) -> list[str]:
    """What a run was started with, free of this checkout's paths (interpreter, repository and work folder)."""
    return [os.path.relpath(command[3], ROOT), *command[6:]]


def _interrupted_at_same_plan(work: Path, command: list[str]) -> bool:
    """A run that stopped before exporting its encoder, with a checkpoint, started with this exact command."""
    from mcr_train.engine.checkpoint import find_resumable_checkpoint

    plan = work / PLAN_FILE
    return (plan.is_file() and json.loads(plan.read_text()) == _plan(command)
            and find_resumable_checkpoint(work) is not None)


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
    final = results_path(out, study, run)
    final.parent.mkdir(parents=True, exist_ok=True)
    # Two invocations of a study may overlap (say, a resumed one); the lock makes the second wait and skip.
    with open(final.with_suffix(".evaluating"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        message = _evaluate_unless_evaluated(study, run, out, final)
    final.with_suffix(".evaluating").unlink(missing_ok=True)
    return message


def _evaluate_unless_evaluated(study: Study, run: Run, out: Path, final: Path) -> str:
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


def longest_first(runs: Sequence[Run]) -> list[Run]:
    """MCR runs (2-3x a baseline's step time) start first, which shortens the wall-clock of a parallel batch."""
    return sorted(runs, key=lambda r: "-mcr" not in Path(r.config).name)


def merged_results(study: Study, out: Path) -> Path:
    """One results file for the report: this study's records plus those of runs it borrows from another. A
    borrowed run its home has not evaluated yet is left out, as an own run would be: the preamble names it."""
    files = sorted((out / "results").glob("*.jsonl"))
    files += [results_path(out, study, r) for r in unique_runs(study) if r.home and is_evaluated(out, study, r)]
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
    logs = sorted({run_dir(out, study, r).parent for r in study.runs})  # borrowed runs log under their home
    if study.ablation:
        from mcr_eval.reports.ablation import write_ablation_report

        variants = [(r.table, r.variant, r.name) for r in table_runs(study, out)]
        labels = {variant for _, variant, _ in variants}
        contrasts = [c for c in study.contrasts if set(c) <= labels]  # a pending row has no contrast yet
        index = write_ablation_report(Path(shown), variants, out, study.title, text, study.spread, logs,
                                      contrasts)
        print(f"ablation report: {index}")
        return
    (out / "preamble.md").write_text(text)
    figures = [str(p) for p in (out / "attribution",) if p.is_dir()]
    eval_main(["report", shown, "--out", str(out), "--logs", *map(str, logs),
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
            if r.home and not results_path(out, study, r).is_file():
                raise ConfigError(f"run {r.name} belongs to the '{r.home}' study and is not evaluated yet; "
                                  f"run `python -m mcr_eval.study {r.home}` first")
        todo = [r for r in own if not results_path(out, study, r).is_file()]
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
