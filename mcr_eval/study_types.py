"""The record types of a study plan: the scale of its runs, each pretraining run, and the study itself.

``mcr_eval.study_plans`` fills them in for the published studies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEEDS = (0, 1, 2)  # the seeds of every published comparison


@dataclass(frozen=True)
class Scale:
    """The compute of every pretraining run of a study (stated in its report)."""

    iters: int = 300
    batch: int = 64
    width: int = 16


@dataclass(frozen=True)
class Run:
    """One pretraining run; ``home`` names the study whose ``runs/`` folder holds it (shared defaults)."""

    name: str
    config: str
    seed: int
    options: tuple[str, ...] = ()
    home: str | None = None
    table: str = ""
    variant: str = ""
    lr_factor: float = 1.0  # times the recipe's learning rate (scaled to the batch)


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    runs: tuple[Run, ...]
    train_spec: str
    eval_data: str
    audit: str  # "factors" (scenes), "invariance" (real images) or "none"
    audit_n: int = 1000
    counterfactuals: int = 100
    attribution: tuple[str, ...] = ()
    ablation: bool = False
    spread: tuple[str, tuple[str, ...]] | None = None  # ablations: seed-to-seed std row (label, run names)
    test_data: str | None = None  # eval_data is then a validation split; see mcr_eval/lr_selection.py
    scale: Scale = field(default_factory=Scale)
    parts: tuple[tuple[str, ...], ...] = ()  # ``--only`` patterns of the parts a long study is regenerated in
    lr_chosen_by: str = ""  # the selection study whose chosen rate each side trains at
    contrasts: tuple[tuple[str, str], ...] = ()  # ablations: (row A, row B) paired-by-seed difference rows
    budget: str = ""  # replaces the same-budget statement when a study gives one side more on purpose
