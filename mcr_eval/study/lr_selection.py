"""Learning rate chosen on a validation split, then the chosen encoders evaluated once on the test split.

The protocol the published reports owe their readers: hyperparameters are chosen on a validation split, for the
baseline and for MCR alike, and the test split is read only for what was chosen. For each method and side
(baseline, MCR) of a study with ``test_data``, the run with the highest validation kNN top-1 (k=200, T=0.1, the
headline protocol) is chosen; a tie goes to the factor closest to the recipe's (1x). Only the chosen runs are
evaluated on ``test_data`` (kNN and fast linear probe), into ``test/<run>.jsonl``. The choice is written to the
study's ``chosen.json``, the one place a study trained at the chosen rates reads it from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mcr_eval.study.evaluation import evaluation_commands
from mcr_eval.study.paths import ROOT, results_path
from mcr_eval.study.types import Run, Study
from mcr_train.errors import ConfigError, TrainingError

SELECTION_KNN = {"k": 200, "T": 0.1}
CHOSEN_FILE = "chosen.json"


@dataclass(frozen=True)
class Choice:
    """The chosen run of one method and side, with the validation score of every factor tried."""

    run: Run
    validation: dict[float, float]  # lr factor -> validation kNN top-1


def _knn_top1(path: Path) -> float | None:
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        r = json.loads(line)
        protocol = r.get("protocol", {})
        if (r.get("task") == "knn" and r.get("metric") == "top1"
                and all(protocol.get(k) == v for k, v in SELECTION_KNN.items())):
            return float(r["value"])
    return None


def _linear_top1(path: Path) -> float | None:
    if not path.is_file():
        return None
    values = [json.loads(line) for line in path.read_text().splitlines()]
    return next((float(r["value"]) for r in values if r.get("task") == "linear" and r.get("metric") == "top1"), None)


def choose(study: Study, out: Path) -> list[Choice]:
    """One :class:`Choice` per method and side whose runs all have validation results."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in study.runs:
        groups.setdefault(run.side, []).append(run)
    choices = []
    for runs in groups.values():
        scores = {r.lr_factor: _knn_top1(results_path(out, r)) for r in runs}
        if any(v is None for v in scores.values()):
            continue
        best = max(runs, key=lambda r: (scores[r.lr_factor], -abs(r.lr_factor - 1.0)))
        choices.append(Choice(best, scores))
    return choices


def write_chosen(study: Study, out: Path, choices: list[Choice]) -> Path | None:
    """``chosen.json`` beside the report, once every side of the study has its choice."""
    if len(choices) < len({r.side for r in study.runs}):
        return None
    path = out / CHOSEN_FILE
    payload = {
        "study": study.name, "selected_on": study.eval_data, "tested_on": study.test_data,
        "rule": "highest validation kNN top-1 (k=200, T=0.1) per method and side; a tie goes to the recipe's rate",
        "chosen": [{"method": c.run.method, "regularizer": c.run.regularizer, "lr_factor": c.run.lr_factor,
                    "run": c.run.name, "validation_knn_top1": {f"{f:g}": v for f, v in sorted(c.validation.items())}}
                   for c in choices]}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def chosen_path(selection: str) -> Path:
    """The choice file of the selection study ``selection`` (its name under configs/studies)."""
    return ROOT / "reports" / selection / CHOSEN_FILE


def read_chosen(selection: str) -> dict[tuple[str, str], float]:
    """(method, regularizer) -> chosen learning-rate factor, from the selection study's ``chosen.json``."""
    file = chosen_path(selection)
    if not file.is_file():
        raise ConfigError(f"{file.relative_to(ROOT)} does not exist: the learning rates are chosen by the "
                          f"'{selection}' study; run `mcr-eval study configs/studies/{selection}.py` first")
    return {(c["method"], c["regularizer"]): float(c["lr_factor"]) for c in json.loads(file.read_text())["chosen"]}


def evaluate_chosen(study: Study, out: Path, choices: list[Choice]) -> list[str]:
    """kNN and fast linear probe of each chosen encoder on ``study.test_data`` (skipped when done)."""
    from mcr_eval.cli import main as eval_main

    messages = []
    for choice in choices:
        final = out / "test" / f"{choice.run.name}.jsonl"
        if final.is_file():
            messages.append(f"{choice.run.name}: already evaluated on the test split")
            continue
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        for args in evaluation_commands(study, choice.run, out, partial, eval_data=study.test_data, audit=False):
            if args[0] in ("knn", "linear") and eval_main(args) not in (0, None):
                raise TrainingError(f"mcr-eval {args[0]} failed on {choice.run.name} (test split); see the log above")
        partial.rename(final)
        partial.with_name(partial.name + ".lock").unlink(missing_ok=True)
        messages.append(f"{choice.run.name}: evaluated on the test split")
    return messages


def _side_label(run: Run) -> str:
    return run.method + ("+MCR" if run.regularizer == "mcr" else "")


def selection_markdown(study: Study, out: Path, choices: list[Choice]) -> str:
    """The selection table for the report's preamble."""
    if not choices:
        return ""
    factors = sorted({f for c in choices for f in c.validation})
    header = " / ".join(f"x{f:g}" for f in factors)
    lines = [f"**Learning rate chosen on validation, then tested once.** For each method and side the run with "
             f"the highest validation kNN top-1 (k=200, T=0.1, on `{study.eval_data}`) is chosen (a tie goes to "
             f"the recipe's rate); only the chosen runs are evaluated on the test split `{study.test_data}`, the "
             f"split the other reports on these data are evaluated on. The choice is in `{CHOSEN_FILE}`.", "",
             f"| Method | validation kNN top-1 at lr {header} | chosen lr | test kNN top-1 | test linear top-1 |",
             "|---|---|---|---|---|"]
    for c in choices:
        tested = out / "test" / f"{c.run.name}.jsonl"
        knn, linear = _knn_top1(tested), _linear_top1(tested)
        cells = " / ".join(f"{c.validation[f]:.3f}" if f in c.validation else "—" for f in factors)
        lines.append(f"| {_side_label(c.run)} | {cells} | x{c.run.lr_factor:g} | "
                     f"{'—' if knn is None else f'{knn:.3f}'} | {'—' if linear is None else f'{linear:.3f}'} |")
    return "\n".join(lines) + "\n"
