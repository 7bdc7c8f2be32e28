"""Where a study's config, runs and results live, and which of its runs a command or a report covers.

A study's report folder holds ``runs/<run>/`` (encoder.json, the plan it was started with, a compact scalar log)
and ``results/<run>.jsonl``; a borrowed run (``Run.home``) lives in the folder of the study that owns it, a
sibling of the borrowing study's folder.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import Path

from mcr_eval.study.types import Run, Study
from mcr_train.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
STUDY_CONFIGS = ROOT / "configs" / "studies"


def study_name(config: Path) -> str:
    """A config's name: its path under ``configs/studies`` without ``.py`` (else its file stem)."""
    config = config.resolve()
    if config.is_relative_to(STUDY_CONFIGS):
        return config.relative_to(STUDY_CONFIGS).with_suffix("").as_posix()
    return config.stem


def relative(path: Path) -> str:
    """A path as typed from the repository root when it lies inside the repository, else absolute."""
    path = path.resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def default_out(study: Study) -> Path:
    """The config's ``out``, else ``reports/<name>`` for a published study and ``work_dirs/studies/<name>`` for
    one of the user's own."""
    if study.out:
        return ROOT / study.out
    if study.config.resolve().is_relative_to(STUDY_CONFIGS):
        return ROOT / "reports" / study.name
    return ROOT / "work_dirs" / "studies" / study.name


def run_dir(out: Path, run: Run) -> Path:
    """The run's folder: under the study's own report folder, or under the one of the study that owns it."""
    return (out.parent / run.home if run.home else out) / "runs" / run.name


def results_path(out: Path, run: Run) -> Path:
    """The run's result records, in the results folder of the study that owns the run."""
    return run_dir(out, run).parent.parent / "results" / f"{run.name}.jsonl"


def is_evaluated(out: Path, run: Run) -> bool:
    return results_path(out, run).is_file()


def unique_runs(study: Study, only: Sequence[str] = ()) -> list[Run]:
    """The study's runs, or those whose names match one of the ``only`` glob patterns."""
    if not only:
        return list(study.runs)
    chosen = [r for r in study.runs if any(fnmatch.fnmatchcase(r.name, pattern) for pattern in only)]
    if not chosen:
        raise ConfigError(f"--only {' '.join(only)} matches no run of '{study.name}'; its runs are "
                          f"{', '.join(r.name for r in study.runs)}")
    return chosen


def table_rows(study: Study, out: Path) -> list[tuple[str, str, Run]]:
    """(table, row label, run) of every table row a report can show now (a part of a study leaves runs pending):
    the evaluated runs, and where a table's rows span several seeds, only the seeds every row of that table has,
    so its row means and its paired contrasts cover the same seeds."""
    shown = []
    for table in study.tables:
        rows = [(label, study.run(name)) for label, names in table.rows for name in names]
        rows = [(label, run) for label, run in rows if is_evaluated(out, run)]
        seeds_of: dict[str, set[int]] = {}
        for label, run in rows:
            seeds_of.setdefault(label, set()).add(run.seed)
        if any(len(seeds) > 1 for seeds in seeds_of.values()):
            common = set.intersection(*seeds_of.values())
            rows = [(label, run) for label, run in rows if run.seed in common]
        shown += [(table.title, label, run) for label, run in rows]
    return shown
