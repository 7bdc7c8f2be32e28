"""Where a study's runs and results live, and which of its runs a command or a report covers.

Borrowed runs (``Run.home``) live under the report folder of the study that owns them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import Path

from mcr_eval.study_types import Run, Study
from mcr_train.errors import ConfigError

CONFIGS = "configs/train"


def train_config(method: str, regularizer: str, dataset: str, ablation: str = "") -> str:
    """The repository-relative training config of a method, side and dataset (or of one MCR ablation)."""
    suffix = f"-mcr-{ablation}" if ablation else ("-mcr" if regularizer == "mcr" else "")
    folder = f"{CONFIGS}/ablations" if ablation else CONFIGS
    return f"{folder}/{method}{suffix}_resnet18-cifar_1xb128-30e_{dataset}.py"


def run_dir(out: Path, study: Study, run: Run) -> Path:
    """The run's folder: under the study's own report folder, or under the one of the study it borrows it from."""
    return (out.parent / run.home if run.home else out) / "runs" / run.name


def results_path(out: Path, study: Study, run: Run) -> Path:
    """The run's result records, in the results folder of the study that owns the run."""
    return run_dir(out, study, run).parent.parent / "results" / f"{run.name}.jsonl"


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


def is_evaluated(out: Path, study: Study, run: Run) -> bool:
    """Whether the run's results exist; a borrowed run's are its home study's."""
    return results_path(out, study, run).is_file()


def table_runs(study: Study, out: Path) -> list[Run]:
    """The ablation-table rows a report can show now (a part of a study leaves runs pending): the evaluated
    runs, and where a table's rows span several seeds, only the seeds every row of that table has, so its
    row means and its paired contrasts cover the same seeds."""
    tables: dict[str, list[Run]] = {}
    for run in study.runs:
        if run.table and is_evaluated(out, study, run):
            tables.setdefault(run.table, []).append(run)
    shown = []
    for runs in tables.values():
        seeds_of = {}
        for run in runs:
            seeds_of.setdefault(run.variant, set()).add(run.seed)
        if any(len(seeds) > 1 for seeds in seeds_of.values()):
            common = set.intersection(*seeds_of.values())
            runs = [r for r in runs if r.seed in common]
        shown += runs
    return shown
