"""The record types of a study: the compute of its runs, each pretraining run, its tables and the study itself.

A run is identified by four explicit fields (method, regularizer, seed, variant); its name and folder are derived
from them and never parsed back. ``mcr_eval.study.loader`` builds these records from a study config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Scale:
    """The compute of a study's pretraining runs (stated in its report); a run group may set its own length."""

    iters: int = 300
    batch: int = 64
    width: int = 16


def run_name(method: str, regularizer: str, seed: int, variant: str = "") -> str:
    """``<method>-<regularizer>[-<variant>]-s<seed>``: the run's folder and results name."""
    return f"{method}-{regularizer}{'-' + variant if variant else ''}-s{seed}"


@dataclass(frozen=True)
class Run:
    """One pretraining run. ``home`` names the study whose report folder holds it when it is borrowed."""

    method: str
    regularizer: str  # "none" or "mcr"
    seed: int
    variant: str  # "" for the recipe's run, else what differs (e.g. "lr2-2x", "lambda1-0p1")
    config: str  # repository-relative training config
    iters: int
    options: tuple[str, ...] = ()
    lr_factor: float = 1.0  # times the recipe's learning rate (scaled to the batch)
    lr_source: str = ""  # the selection file the factor was read from, if it was chosen
    home: str | None = None

    @property
    def name(self) -> str:
        return run_name(self.method, self.regularizer, self.seed, self.variant)

    @property
    def side(self) -> tuple[str, str]:
        """(method, regularizer): what a learning rate is chosen for."""
        return self.method, self.regularizer


@dataclass(frozen=True)
class Table:
    """An ablation-style table: labelled rows, each the runs (one per seed) of one setting."""

    title: str
    rows: tuple[tuple[str, tuple[str, ...]], ...]  # (row label, run names)


@dataclass(frozen=True)
class Study:
    name: str  # the config's path under configs/studies, without ``.py``
    config: Path
    title: str
    prose: str  # the Markdown beside the config, without its title line
    runs: tuple[Run, ...]
    train_data: str
    eval_data: str
    audit: str  # "factors" (scenes), "invariance" (real images) or "none"
    scale: Scale = field(default_factory=Scale)
    audit_n: int = 1000
    counterfactuals: int = 100
    test_data: str | None = None  # eval_data is then a validation split; see mcr_eval.study.lr_selection
    attribution: tuple[str, ...] = ()
    report: str = "grid"  # "grid" (headline tables) or "ablation" (labelled rows)
    tables: tuple[Table, ...] = ()
    spread: tuple[str, tuple[str, ...]] | None = None  # seed-to-seed std row: (label, run names)
    contrasts: tuple[tuple[str, str], ...] = ()  # paired-by-seed difference rows (row A, row B)
    parts: tuple[tuple[str, ...], ...] = ()  # ``--only`` patterns of the parts a long study is run in
    references: bool = False  # random-init encoder and raw-pixel rows beside the encoders
    out: str = ""  # repository-relative report folder when not the default ``reports/<name>``

    def run(self, name: str) -> Run:
        return next(r for r in self.runs if r.name == name)
