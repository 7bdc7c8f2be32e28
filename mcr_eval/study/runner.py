"""Run a study: pretrain every run that is missing, evaluate each encoder, audit them, and build the report.

Every step is resumable: a run whose ``encoder.json`` already matches its length and seed is not retrained, a run
stopped before it exported its encoder continues from its last checkpoint (when it was started with the same
command, recorded in ``study_plan.json``), and an evaluation whose results file exists is not repeated. Runs are
single-threaded subprocesses, ``jobs`` at a time, which uses small CPUs better than one multi-threaded run.
"""

from __future__ import annotations

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

from mcr_eval.study.curves import compact_log, event_logs
from mcr_eval.study.evaluation import evaluation_commands
from mcr_eval.study.lr_selection import choose, evaluate_chosen, selection_markdown, write_chosen
from mcr_eval.study.paths import ROOT, is_evaluated, relative, results_path, run_dir, table_rows, unique_runs
from mcr_eval.study.preamble import preamble, rebuild_command
from mcr_eval.study.timing import update_timing
from mcr_eval.study.types import Run, Study
from mcr_train.errors import ConfigError, TrainingError

STEPS = ("pretrain", "evaluate", "report")
PLAN_FILE = "study_plan.json"
REFERENCES = "references.jsonl"


def scaled_lr(config: Path, batch: int) -> float:
    """The config's learning rate scaled linearly from its batch size to ``batch`` (Goyal et al., 2017)."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(config))
    return float(cfg.optimizer.lr) * batch / int(cfg.data.batch_size)


def train_command(study: Study, run: Run, work: Path) -> list[str]:
    s = study.scale
    lr = scaled_lr(ROOT / run.config, s.batch) * run.lr_factor
    return [sys.executable, "-m", "mcr_train.cli", str(ROOT / run.config), "--work-dir", str(work),
            "--seed", str(run.seed), "--max-iters", str(run.iters), "--cfg-options",
            f"model.backbone.width={s.width}", f"data.batch_size={s.batch}", f"data.spec={study.train_data}",
            "data.num_workers=0", "log_interval=10", f"optimizer.lr={lr!r}", *run.options]


def _exported_at_scale(work: Path, run: Run) -> bool:
    meta_path = work / "encoder.json"
    if not meta_path.is_file():
        return False
    meta = json.loads(meta_path.read_text())
    return meta.get("iters") == run.iters and meta.get("seed") == run.seed


def is_trained(work: Path, run: Run) -> bool:
    return _exported_at_scale(work, run) and (work / "encoder.safetensors").is_file()


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


def _home_command(run: Run) -> str:
    return f"mcr-eval study configs/studies/{run.home}.py"


def pretrain(study: Study, run: Run, out: Path) -> str:
    work = run_dir(out, run)
    if run.home:  # borrowed: never retrained (or wiped) by a study that does not own it
        if is_trained(work, run) or results_path(out, run).is_file():
            return f"{run.name}: borrowed from the '{run.home}' study"
        raise ConfigError(f"run {run.name} belongs to the '{run.home}' study and is not trained yet; "
                          f"run `{_home_command(run)}` first")
    work.parent.mkdir(parents=True, exist_ok=True)
    # Two overlapping invocations of a study must not train (or wipe) one run twice: the second waits here.
    with open(work.with_suffix(".training"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        message = _train_unless_trained(study, run, out)
    work.with_suffix(".training").unlink(missing_ok=True)
    return message


def _train_unless_trained(study: Study, run: Run, out: Path) -> str:
    work = run_dir(out, run)
    if is_trained(work, run):
        return f"{run.name}: already trained"
    if _exported_at_scale(work, run) and results_path(out, run).is_file():
        # A clone of the published reports: weights are not committed, but the run's records and logs are.
        return f"{run.name}: already trained and evaluated (weights not kept; logs and results are)"
    command = train_command(study, run, work)
    if _interrupted_at_same_plan(work, command):
        # Resume is bit-exact (tests/train/test_resume.py), so a run stopped mid-way costs only the iterations
        # since its last checkpoint and ends with the weights an uninterrupted run would have.
        seconds = _run_logged([*command, "--resume"], work.with_suffix(".out"), f"pretraining {run.name}", True)
        compact_log(work)
        return f"{run.name}: resumed and trained in {seconds:.0f}s"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / PLAN_FILE).write_text(json.dumps(_plan(command)) + "\n")
    seconds = _run_logged(command, work.with_suffix(".out"), f"pretraining {run.name}")
    compact_log(work)
    return f"{run.name}: trained in {seconds:.0f}s"


def _plan(command: list[str]) -> list[str]:
    """What a run was started with, free of this checkout's paths (interpreter, repository and work folder)."""
    return [os.path.relpath(command[3], ROOT), *command[6:]]


def _interrupted_at_same_plan(work: Path, command: list[str]) -> bool:
    """A run that stopped before exporting its encoder, with a checkpoint, started with this exact command."""
    from mcr_train.engine.checkpoint import find_resumable_checkpoint

    plan = work / PLAN_FILE
    return (plan.is_file() and json.loads(plan.read_text()) == _plan(command)
            and find_resumable_checkpoint(work) is not None)


def evaluate_in_process(study: Study, run: Run, out: Path, results: Path) -> None:
    """Every evaluation of one encoder in this process (one interpreter start instead of four)."""
    from mcr_eval.cli import main as eval_main

    for args in evaluation_commands(study, run, out, results):
        print(f"--- mcr-eval {' '.join(args)}", flush=True)
        if eval_main(args) not in (0, None):
            raise TrainingError(f"mcr-eval {args[0]} failed on {run.name}; see the log above")


def evaluate(study: Study, run: Run, out: Path) -> str:
    """kNN, fast linear probe, representation metrics and the audit of one encoder into ``results/<run>.jsonl``."""
    final = results_path(out, run)
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
    command = [sys.executable, "-m", "mcr_eval.cli", "study", str(study.config), "--out", str(out),
               "--evaluate-one", run.name, "--results", str(partial)]
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
    runs = [study.run(name) for name in study.attribution]
    waiting = [r.name for r in runs if not is_trained(run_dir(out, r), r)]
    if waiting:  # a part of the study (--only) that did not train them
        return f"attribution: waits for {', '.join(waiting)}"
    command = [sys.executable, "-m", "mcr_eval.cli", "attribute", *(str(run_dir(out, r)) for r in runs),
               "--n", "8", "--method", "ig", "--target", "view-similarity", "--out", str(partial),
               "--figures", str(out / "attribution")]
    seconds = _run_logged(command, out / "results" / "attribution.log", "attribution")
    partial.rename(final)
    partial.with_name(partial.name + ".lock").unlink(missing_ok=True)
    return f"attribution: {seconds:.0f}s"


def references(study: Study, out: Path) -> str:
    """The random-init encoder and raw-pixel rows, once per study, into ``results/references.jsonl``."""
    final = out / "results" / REFERENCES
    if not study.references or final.is_file():
        return "references: nothing to do"
    like = next((r for r in study.runs if (run_dir(out, r) / "encoder.json").is_file()), None)
    if like is None:
        return "references: wait for a trained run (its architecture is the random-init row's)"
    from mcr_eval.reference_rows import evaluate_references

    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    start = time.perf_counter()
    like_encoder = _architecture_of(run_dir(out, like), out / "cache" / "reference-architecture")
    evaluate_references(study.eval_data, like_encoder, partial, out / "cache")
    partial.rename(final)
    partial.with_name(partial.name + ".lock").unlink(missing_ok=True)
    return f"references: {time.perf_counter() - start:.0f}s"


def _architecture_of(work: Path, stand_in: Path) -> Path:
    """A folder holding an encoder of the run's architecture. A clone keeps a run's encoder.json but not its
    weights; the random-init row needs only the architecture, so an encoder of it is exported into the cache."""
    if (work / "encoder.safetensors").is_file():
        return work
    from mcr_train.export import export_encoder
    from mcr_train.models.backbone import build_backbone

    meta = {k: v for k, v in json.loads((work / "encoder.json").read_text()).items() if k != "format"}
    backbone = build_backbone(meta["arch"], meta["stem"], int(meta["width"]), stem_padding=meta.get("stem_padding"))
    stand_in.mkdir(parents=True, exist_ok=True)
    export_encoder(backbone, stand_in, meta)
    return stand_in


def _pool(jobs: int, tasks: list[Callable[[], str]], title: str) -> list[str]:
    print(f"\n=== {title} ({len(tasks)} tasks, {jobs} at a time)", flush=True)
    messages = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for message in pool.map(lambda task: task(), tasks):
            print(f"    {message}", flush=True)
            messages.append(message)
    return messages


def longest_first(runs: Sequence[Run]) -> list[Run]:
    """MCR runs (several times a baseline's step time) start first: a parallel batch then ends sooner."""
    return sorted(runs, key=lambda r: r.regularizer != "mcr")


def merged_results(study: Study, out: Path) -> Path:
    """One results file for the report: this study's records (runs, references, attribution) plus those of the
    runs it borrows. A borrowed run its home has not evaluated yet is left out, as an own run would be."""
    files = sorted((out / "results").glob("*.jsonl"))
    files += [results_path(out, r) for r in study.runs if r.home and is_evaluated(out, r)]
    merged = out / "results.jsonl"
    merged.write_text("".join(f.read_text() for f in files))
    return merged


def report(study: Study, out: Path, timing: dict) -> None:
    from mcr_eval.cli import main as eval_main

    results = merged_results(study, out)
    text = preamble(study, timing, out, rebuild_command(study, out))
    if study.test_data:
        choices = choose(study, out)
        write_chosen(study, out, choices)
        text += "\n" + selection_markdown(study, out, choices)
    shown = Path(relative(results))
    logs = event_logs(sorted({run_dir(out, r) for r in study.runs}), out / "cache" / "curves")
    if study.report == "ablation":
        from mcr_eval.reports.ablation import write_ablation_report

        rows = [(table, label, run.name) for table, label, run in table_rows(study, out)]
        labels = {label for _, label, _ in rows}
        contrasts = [c for c in study.contrasts if set(c) <= labels]  # a pending row has no contrast yet
        index = write_ablation_report(shown, rows, out, study.title, text, study.spread, [logs], contrasts)
        print(f"ablation report: {index}")
        return
    written = out / "cache" / "preamble.md"
    written.parent.mkdir(parents=True, exist_ok=True)
    written.write_text(text)
    figures = [str(p) for p in (out / "attribution",) if p.is_dir()]
    eval_main(["report", str(shown), "--out", str(out), "--logs", str(logs), "--preamble", str(written),
               *(["--figures", *figures] if figures else [])])


def run_study(study: Study, out: Path, jobs: int, steps: Sequence[str] = STEPS, only: Sequence[str] = ()) -> None:
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
            if r.home and not results_path(out, r).is_file():
                raise ConfigError(f"run {r.name} belongs to the '{r.home}' study and is not evaluated yet; "
                                  f"run `{_home_command(r)}` first")
        todo = [r for r in own if not results_path(out, r).is_file()]
        tick = time.perf_counter()
        tasks = [lambda r=r: evaluate(study, r, out) for r in own] + [lambda: attribute(study, out)]
        _pool(jobs, tasks, f"{study.name}: evaluation, audit and attribution")
        # In this process, after the pool: once per study, and never beside another model in this interpreter.
        print(f"    {references(study, out)}", flush=True)
        if todo:
            seconds["evaluate"] = time.perf_counter() - tick
        if study.test_data:
            print(f"\n=== {study.name}: the runs chosen on validation, on the test split", flush=True)
            choices = choose(study, out)
            for message in evaluate_chosen(study, out, choices):
                print(f"    {message}", flush=True)
            if path := write_chosen(study, out, choices):
                print(f"    chosen learning rates: {path}", flush=True)
    timing = update_timing(study, out, jobs, seconds)
    if "report" in steps:
        print(f"\n=== {study.name}: report", flush=True)
        report(study, out, timing)
    print(f"\n{study.name} done in {time.perf_counter() - start:.0f}s; timing in {out / 'timing.json'}")
