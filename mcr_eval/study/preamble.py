"""What a study's report states about itself, at its top: the scale and hardware, the study's own prose (the
Markdown beside its config: budget, reasons, caveats), where chosen learning rates came from, and the command
that rebuilds the report with what its steps took (``timing.json``)."""

from __future__ import annotations

from pathlib import Path

from mcr_eval.study.paths import is_evaluated, relative, table_rows, unique_runs
from mcr_eval.study.timing import cpu_name, parallel_wall_s
from mcr_eval.study.types import Run, Study


def _duration(seconds: float) -> str:
    """Whole minutes, or seconds below two minutes (where rounding to minutes would say 0 or 1)."""
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def rebuild_command(study: Study, out: Path | None = None) -> str:
    command = f"mcr-eval study {relative(study.config)}"
    return command + (f" --out {relative(out)}" if out is not None else "")


def _regeneration(study: Study, timing: dict, command: str) -> str:
    """The command(s) that rebuild the report, and what training and evaluating took here."""
    evaluation = timing.get("evaluation_sum_s")
    what = "evaluation" if study.audit == "none" else "evaluation and audit"
    evaluated = (f"{what} {_duration(evaluation)} of single-process time "
                 f"({_duration(evaluation / 2)} at 2 jobs)") if evaluation else ""
    homes = sorted({r.home for r in study.runs if r.home})
    after = (f", after `mcr-eval study {' '.join(f'configs/studies/{h}.py' for h in homes)}`, whose runs it "
             "borrows") if homes else ""
    head = (f"**Rebuild.** `{command}` (resumable{after}). In a clone, runs whose results are committed are not "
            "retrained and committed evaluations are not recomputed, so the command rebuilds this report from its "
            "records in seconds; on a fresh folder it trains and evaluates every run.")
    if study.parts:
        walls = timing.get("parts_wall_s", {})
        trained = {k for k, v in timing.get("pretraining_run_s", {}).items() if v is not None}
        lines = [head, "", f"From scratch it runs in {len(study.parts)} parts (every part rebuilds the report from "
                 "the runs evaluated so far). Pretraining wall-clock at 2 single-threaded jobs, computed from the "
                 "measured per-run times in `timing.json` (longest run first):", ""]
        for part in study.parts:
            runs = [r.name for r in unique_runs(study, part)]
            wall = walls.get(" ".join(part))
            done = sum(name in trained for name in runs)
            measured = (f"{wall / 60:.0f} min" if wall is not None else
                        f"partly run ({done} of {len(runs)} runs trained)" if done else "not run yet")
            lines.append(f"- `{command} --only {' '.join(repr(p) for p in part)}`: {measured}")
        return "\n".join(lines) + (f"\n\n{evaluated[0].upper()}{evaluated[1:]}." if evaluated else "")
    runs = [v for v in timing.get("pretraining_run_s", {}).values() if v is not None]
    if not runs:
        return head + (f" Measured here: {evaluated}." if evaluated else "")
    minutes = (f"pretraining about {parallel_wall_s(runs, 2) / 60:.0f} min at 2 single-threaded jobs, computed "
               "from the measured per-run times in `timing.json`")
    return f"{head} Measured here: {minutes}{'; ' * bool(evaluated)}{evaluated}."


def _side(run: Run) -> str:
    return {"simclr": "SimCLR", "byol": "BYOL", "barlowtwins": "Barlow Twins"}.get(run.method, run.method) + (
        "+MCR" if run.regularizer == "mcr" else "")


def _chosen_rates(study: Study) -> str:
    """Which selection chose the rate each side trains at (read from its ``chosen.json``)."""
    by_source: dict[str, dict[str, float]] = {}
    for run in study.runs:
        if run.lr_source:
            by_source.setdefault(run.lr_source, {})[_side(run)] = run.lr_factor
    return " ".join(
        f"**Chosen learning rates.** {', '.join(f'{side} {f:g}x' for side, f in rates.items())} the recipe's "
        f"(scaled linearly to the batch), as `reports/{source}/chosen.json` records the choice on its validation "
        "split." for source, rates in by_source.items())


def _scale_line(study: Study, shown: list[Run], evaluated: list[Run], tabled: list[Run], timing: dict) -> str:
    s = study.scale
    iters: dict[int, list[str]] = {}
    for run in tabled:
        iters.setdefault(run.iters, [])
        if _side(run) not in iters[run.iters]:
            iters[run.iters].append(_side(run))
    lengths = "; ".join(f"{n:,} iterations ({', '.join(m)})" for n, m in sorted(iters.items(), reverse=True)) \
        if len(iters) > 1 else f"{next(iter(iters), s.iters):,} iterations"
    methods = ", ".join(sorted({r.method for r in tabled})) or "(none yet)"
    seeds = sorted({r.seed for r in tabled})
    seed_list = ", ".join(map(str, seeds)) or "(none yet)"
    missing = sorted({r.name for r in shown} - {r.name for r in evaluated})
    pending = f" **Not run yet:** {', '.join(missing)}; this report covers the other runs." if missing else ""
    if len(tabled) < len(evaluated):
        pending += (f" Its tables keep only the seeds every row of a table has ({seed_list}), so row means and "
                    "paired rows cover the same seeds.")
    cores = timing.get("cpu_count") or "?"
    return (f"**Scale and hardware.** ResNet-18 (CIFAR stem) at width {s.width}, {lengths} at batch {s.batch} on "
            f"`{study.train_data}`, methods {methods}, seed{'s' * (len(seeds) > 1)} {seed_list}; trained on "
            f"{cores} CPU cores ({timing.get('cpu') or cpu_name()}), no GPU. Evaluation on `{study.eval_data}`; "
            f"audit: {study.audit}. This is a small-compute study: it tests the direction of the paper's claims at "
            f"this scale, not its numbers.{pending}")


def preamble(study: Study, timing: dict, out: Path, command: str | None = None) -> str:
    """The Markdown placed at the top of the report."""
    shown = [r for r in study.runs if study.report == "grid" or any(
        r.name in names for t in study.tables for _, names in t.rows)]
    evaluated = [r for r in shown if is_evaluated(out, r)]
    tabled = [run for *_, run in table_rows(study, out)] if study.report == "ablation" else evaluated
    tabled = list({r.name: r for r in tabled}.values())
    parts = [f"## {study.title}", "", _scale_line(study, shown, evaluated, tabled, timing), ""]
    if study.prose:
        parts += [study.prose, ""]
    if rates := _chosen_rates(study):
        parts += [rates, ""]
    parts += [_regeneration(study, timing, command or rebuild_command(study)), ""]
    return "\n".join(parts)
