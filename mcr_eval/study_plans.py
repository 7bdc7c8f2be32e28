"""The plans of the published studies: which runs each one trains, at what scale, and how it is evaluated.

``mcr_eval.study`` runs them; this module says what they are, and ``mcr_eval.study_paths`` where their runs live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from mcr_eval.study_ablation_plans import SHORT_SCENES, ablation_runs
from mcr_eval.study_budgets import (
    DOUBLE_SCHEDULE_BUDGET,
    DOUBLE_SCHEDULE_MCR_BUDGET,
    FULL_LR_BUDGET,
    MATCHED_FASHION_BUDGET,
    MATCHED_SCENES_BUDGET,
    PUBLISHED_FASHION_BUDGET,
    PUBLISHED_SCENES_BUDGET,
    VIEWS_DIAGNOSIS_BUDGET,
)
from mcr_eval.study_fashion_lr import (  # noqa: F401 (VALIDATION_FASHION re-exported)
    FASHION_LR_STUDIES,
    FASHION_MONITOR,
    PLATEAU_FASHION,
    VALIDATION_FASHION,
)
from mcr_eval.study_lr_plans import CHOSEN_FULL_LR, CHOSEN_LR, chosen_lr_runs, lr_selection_runs
from mcr_eval.study_paths import (  # noqa: F401 (re-exported)
    is_evaluated,
    results_path,
    run_dir,
    table_runs,
    train_config,
    unique_runs,
)
from mcr_eval.study_types import SEEDS, Run, Scale, Study

ROOT = Path(__file__).resolve().parents[1]
# The first Fashion-MNIST study: 300 iterations (0.3 epochs), before SimCLR's kNN has flattened.
SHORT_FASHION = "fashion-mnist-300"


def _grid(methods: Sequence[str], dataset: str, options: tuple[str, ...] = (),
          seeds: Sequence[int] = SEEDS) -> tuple[Run, ...]:
    return tuple(Run(f"{m}-{reg}-s{s}", train_config(m, reg, dataset), s, options)
                 for s in seeds for m in methods for reg in ("none", "mcr"))


FULL_MONITOR = ("knn_monitor.interval=125", "knn_monitor.data=scenes?n=2000&n_test=1000")


def _published_fashion_runs() -> tuple[Run, ...]:
    """The published Fashion-MNIST comparison: SimCLR and BYOL with and without MCR at 1,875 iterations, each side
    at the rate validation chose for it at that length; every run borrowed from the chosen-rate study that trained
    it (the recipe's-rate grid is ``fashion-mnist-1875``)."""
    return tuple(replace(r, home=r.home or name)
                 for name in ("fashion-mnist-chosen-lr", "fashion-mnist-chosen-lr-byol")
                 for r in FASHION_LR_STUDIES[name].runs)


# 2.5x the plateau grid's 1,875 iterations (5 epochs): what a SimCLR+MCR step costs in baseline steps there
# (2.4-2.8x per seed at 2 jobs), rounded to the middle.
MATCHED_FASHION_ITERS = 4688


def _matched_fashion_runs() -> tuple[Run, ...]:
    """SimCLR without MCR trained for 2.5x the iterations (4,688: about one SimCLR+MCR run's compute at 1,875), next
    to the 1,875-iteration SimCLR pairs of the same seeds: does a baseline given MCR's compute reach it, and how
    much did 1,875 iterations leave on the table? The cosine spans all 4,688 iterations."""
    table = "SimCLR, seeds 0-2: 2.5x the iterations (MCR's compute) against 1,875 with and without MCR"
    pairs = tuple(Run(f"simclr-{reg}-s{s}", train_config("simclr", reg, "fashion-mnist"), s, FASHION_MONITOR,
                      home=PLATEAU_FASHION, table=table, variant=_simclr_row(reg, "1,875"))
                  for s in SEEDS for reg in ("none", "mcr"))
    longer = tuple(Run(f"simclr-none-2p5x-s{s}", train_config("simclr", "none", "fashion-mnist"), s, FASHION_MONITOR,
                       table=table, variant=_simclr_row("none", "4,688")) for s in SEEDS)
    return pairs + longer


def _full_interval_runs() -> tuple[Run, ...]:
    """Seeds 1 and 2 of SimCLR + MCR at the full schedule (where MCR's effect was largest) with level 2 every
    4th (exact) or 8th (finite difference) step: does amortizing the hypergradient keep that effect? The every-step
    rows are the scenes-full study's runs."""
    runs = []
    for seed in (1, 2):
        table = f"seed {seed}, full 30-epoch schedule: level-2 interval (default: every step)"
        runs += [Run(f"simclr-none-s{seed}", train_config("simclr", "none", "scenes"), seed, FULL_MONITOR,
                     home="scenes-full", table=table, variant="SimCLR (no MCR)"),
                 Run(f"simclr-mcr-s{seed}", train_config("simclr", "mcr", "scenes"), seed, FULL_MONITOR,
                     home="scenes-full", table=table, variant="SimCLR+MCR default (exact, every step)")]
        runs += [Run(f"simclr-mcr-{tag}-s{seed}", train_config("simclr", "mcr", "scenes", tag), seed, FULL_MONITOR,
                     table=table, variant=label)
                 for tag, label in (("interval4", "exact, level 2 every 4th step"),
                                    ("fd-interval8", "finite difference, level 2 every 8th step"))]
    return tuple(runs)

# Seeds of the scenes-full SimCLR pairs that the twice-as-long baseline is trained for.
DOUBLE_SEEDS = (0, 1, 2, 3, 4)
# Twice the recipe's 30 epochs: ``--max-iters`` only shortens a schedule, so 3,720-iteration runs plan 60 epochs
# (the same 2-epoch warm-up, the cosine decay over all of them).
DOUBLE_OPTIONS = (*FULL_MONITOR, "schedule.epochs=60")
# Where the 3,720-iteration SimCLR runs live: each was trained by the study that asked its question first.
DOUBLE_SIMCLR_HOMES = {"none": "scenes-full-2x", "mcr": "scenes-full-2x-mcr"}


def _double_schedule_runs() -> tuple[Run, ...]:
    """SimCLR without MCR for twice the full schedule (3,720 iterations, the cosine stretched over all of them),
    next to the five scenes-full SimCLR pairs of the same seeds: has the baseline's kNN plateaued at 1,860
    iterations, and does a baseline given more compute than an MCR run (an MCR step costs 2.5-3x a baseline
    step here) reach what MCR reached? ``--max-iters`` only shortens a schedule, so the 2x runs plan 60 epochs."""
    table = "SimCLR, seeds 0-4: twice the full schedule against the full schedule with and without MCR"
    return tuple(run for seed in DOUBLE_SEEDS
                 for run in (*_full_schedule_pair(seed, table), _double_run("none", seed, table, None)))


def _full_schedule_pair(seed: int, table: str) -> tuple[Run, Run]:
    """The scenes-full SimCLR runs of one seed, without and with MCR, as rows of another study's table."""
    return tuple(Run(f"simclr-{reg}-s{seed}", train_config("simclr", reg, "scenes"), seed, FULL_MONITOR,
                     home="scenes-full", table=table, variant=_simclr_row(reg, "1,860")) for reg in ("none", "mcr"))


def _simclr_row(regularizer: str, iterations: str) -> str:
    return f"SimCLR{'+MCR' if regularizer == 'mcr' else ''}, {iterations} iterations"


def _double_run(regularizer: str, seed: int, table: str, home: str | None) -> Run:
    """SimCLR with or without MCR at 3,720 iterations: 60 planned epochs, the cosine over all of them."""
    return Run(f"simclr-{regularizer}-2x-s{seed}", train_config("simclr", regularizer, "scenes"), seed,
               DOUBLE_OPTIONS, home=home, table=table, variant=_simclr_row(regularizer, "3,720"))


def _double_schedule_mcr_runs() -> tuple[Run, ...]:
    """SimCLR + MCR for twice the full schedule beside the scenes-full-2x baselines of the same seeds: the paper's
    like-for-like comparison (same views, same iterations) at a length where the baseline's kNN has flattened.
    The 1,860-iteration pair of each seed is borrowed too, so the table shows what doubling gives each side."""
    table = "SimCLR with and without MCR, seeds 0-4: twice the full schedule (3,720 iterations) and the full one"
    return tuple(run for seed in DOUBLE_SEEDS
                 for run in (*_full_schedule_pair(seed, table),
                             _double_run("none", seed, table, DOUBLE_SIMCLR_HOMES["none"]),
                             _double_run("mcr", seed, table, None)))


def _plateau_runs() -> tuple[Run, ...]:
    """The whole scenes grid (SimCLR, BYOL and Barlow Twins with and without MCR, seeds 0-2) at 3,720 iterations,
    where SimCLR's online kNN has flattened (``reports/scenes-full-2x``). The SimCLR runs are borrowed; BYOL and
    Barlow Twins, near chance through 1,860 iterations in ``reports/scenes-full``, train here. Only part 1 has
    run: it showed them still at chance at 3,720, so the published ``scenes`` study takes them at 1,860."""
    return tuple(Run(f"{m}-{reg}-2x-s{s}", train_config(m, reg, "scenes"), s, DOUBLE_OPTIONS,
                     home=DOUBLE_SIMCLR_HOMES[reg] if m == "simclr" else None)
                 for s in SEEDS for m in ("simclr", "byol", "barlowtwins") for reg in ("none", "mcr"))


def _full_chosen_lr_runs() -> tuple[Run, ...]:
    """SimCLR with and without MCR, seeds 0-4, 3,720 iterations, each side at the rate ``scenes-full-lr`` chose
    for it on the validation scenes at that length (2x the recipe's for both)."""
    return chosen_lr_runs(CHOSEN_FULL_LR, "scenes", DOUBLE_SIMCLR_HOMES, DOUBLE_OPTIONS, DOUBLE_SEEDS, "-2x")


# 2.5x the published SimCLR length: an MCR step cost 2.5-3.3x a baseline step in scenes-full-chosen-lr, so this is
# about one MCR run's compute, at the low end of that range.
MATCHED_SCENES_ITERS = 9300
MATCHED_SCENES_SEEDS = (0, 1, 2)


def _matched_scenes_runs() -> tuple[Run, ...]:
    """SimCLR without MCR at its validated 2x rate for 9,300 iterations (150 planned epochs, the cosine over all of
    them), beside the 3,720-iteration pairs of the same seeds borrowed from ``scenes-full-chosen-lr``: does a
    baseline given MCR's compute reach SimCLR+MCR on the scenes, where MCR's gain at equal iterations excludes
    zero?"""
    table = "SimCLR at 2x the recipe's rate, seeds 0-2: 2.5x the iterations (MCR's compute) against 3,720 ± MCR"
    pairs = tuple(replace(r, home="scenes-full-chosen-lr", table=table,
                          variant=_simclr_row(r.name.split("-")[1], "3,720"))
                  for r in _full_chosen_lr_runs() if r.seed in MATCHED_SCENES_SEEDS)
    longer = tuple(Run(f"simclr-none-lr2-2p5x-s{s}", train_config("simclr", "none", "scenes"), s,
                       (*FULL_MONITOR, "schedule.epochs=150"), lr_factor=CHOSEN_FULL_LR[("simclr", "none")],
                       table=table, variant=_simclr_row("none", "9,300")) for s in MATCHED_SCENES_SEEDS)
    return pairs + longer


def _published_scenes_runs() -> tuple[Run, ...]:
    """The published scenes comparison, each method at a length where its online kNN has flattened; every run is
    borrowed. SimCLR with and without MCR (seeds 0-4) at 3,720 iterations, where its kNN is flat at the end of the
    cosine (``reports/scenes-full-2x``; longer schedules still gain, ``reports/scenes-matched``), both sides at
    the rate validation chose at that length (``scenes-full-chosen-lr``; the recipe's-rate pairs are
    ``reports/scenes-full-2x-mcr``). BYOL and Barlow Twins with and without MCR
    (seeds 0-2) at the recipe's 1,860: their kNN is flat near chance from the first check on, and stays there on
    seed 0 trained to 3,720 (``reports/scenes-2x``)."""
    simclr = tuple(replace(r, home=r.home or "scenes-full-chosen-lr") for r in _full_chosen_lr_runs())
    flat = tuple(Run(f"{m}-{reg}-s{s}", train_config(m, reg, "scenes"), s, FULL_MONITOR, home="scenes-full")
                 for s in SEEDS for m in ("byol", "barlowtwins") for reg in ("none", "mcr"))
    return simclr + flat




# The validation scenes (generator seed 1: same distribution, no image shared with the test split).
VALIDATION_SCENES = "scenes?seed=1&n=2000&n_test=1000"
# The 3,720-iteration schedule with its online kNN watching the validation scenes, so nothing chosen from the
# curves is chosen on the test split.
VALIDATION_DOUBLE_OPTIONS = ("knn_monitor.interval=125", f"knn_monitor.data={VALIDATION_SCENES}", "schedule.epochs=60")


def _full_lr_selection_runs() -> tuple[Run, ...]:
    """SimCLR with and without MCR at 0.5, 1 and 2 times the recipe's rate, seed 0, at the published SimCLR length
    (3,720 iterations, 60 planned epochs). The online kNN watches the validation scenes, never the test split."""
    return lr_selection_runs((("simclr", "SimCLR"),), "scenes", "the validation scenes at 3,720 iterations",
                             VALIDATION_DOUBLE_OPTIONS)


def _views_diagnosis_runs() -> tuple[Run, ...]:
    """Why do BYOL and Barlow Twins stay near chance on the scenes at 3,720 iterations (``reports/scenes-2x``)?
    Each is trained again with SimCLR's views (colour jitter 0.8/0.8/0.8/0.2 against 0.4/0.4/0.2/0.1, no
    solarization) and nothing else changed; SimCLR is trained with the BYOL recipe's views, and VICReg, a third
    loss without negatives, with its recipe's. The recipe-view rows are borrowed. The new runs' online kNN
    watches the validation scenes, so a fix chosen from their curves is not chosen on the test split."""
    table = "views: each method with its recipe's views and with the other recipe's (seed 0, 3,720 iterations)"
    runs = []
    for method, label, own, other, home in (
            ("byol", "BYOL", "BYOL recipe views", "SimCLR views", "scenes-2x"),
            ("barlowtwins", "Barlow Twins", "BYOL recipe views", "SimCLR views", "scenes-2x"),
            ("simclr", "SimCLR", "SimCLR views", "BYOL recipe views", "scenes-full-2x")):
        swap = "byol_cifar" if method == "simclr" else "simclr_cifar"
        tag = swap.split("_")[0]
        runs += [Run(f"{method}-none-2x-s0", train_config(method, "none", "scenes"), 0, DOUBLE_OPTIONS, home=home,
                     table=table, variant=f"{label}, {own}"),
                 Run(f"{method}-none-{tag}views-2x-s0", train_config(method, "none", "scenes"), 0,
                     (*VALIDATION_DOUBLE_OPTIONS, f"data.views={swap}"), table=table, variant=f"{label}, {other}")]
    # VICReg (BYOL's views, no EMA, no predictor, explicit variance term): does any non-contrastive loss learn here?
    runs.append(Run("vicreg-none-2x-s0", train_config("vicreg", "none", "scenes"), 0, VALIDATION_DOUBLE_OPTIONS,
                    table=table, variant="VICReg, BYOL recipe views (its recipe's)"))
    return tuple(runs)


STUDIES = {
    SHORT_SCENES: Study(
        SHORT_SCENES, "SimCLR, BYOL and Barlow Twins with and without MCR on the factor scenes at 300 iterations "
        "(4.8 epochs)",
        _grid(("simclr", "byol", "barlowtwins"), "scenes"), "scenes?n=4000", "scenes?n=2000&n_test=1000",
        "factors", attribution=("simclr-none-s0", "simclr-mcr-s0")),
    SHORT_FASHION: Study(
        SHORT_FASHION, "SimCLR and BYOL with and without MCR on Fashion-MNIST at 300 iterations (0.3 epochs)",
        _grid(("simclr", "byol"), "fashion-mnist"), "fashion-mnist", "fashion-mnist", "invariance"),
    # Fashion-MNIST where SimCLR's kNN has flattened. An exploratory SimCLR run (seed 0, cosine over 3,750 iterations,
    # online kNN on 2,000/1,000 test-set images) went 0.60 at init, 0.69 at 250, 0.77 at 1,250, then 0.76-0.78 to
    # 2,750; so 1,875 iterations (2 epochs), with the online kNN every 125 to show the flattening in each run. Per
    # seed at 2 jobs about 17 (SimCLR), 45 (SimCLR+MCR), 22 (BYOL) and 55 min (BYOL+MCR), hence four parts.
    PLATEAU_FASHION: Study(
        PLATEAU_FASHION, "SimCLR and BYOL with and without MCR on Fashion-MNIST for 1,875 iterations (2 epochs)",
        _grid(("simclr", "byol"), "fashion-mnist", FASHION_MONITOR), "fashion-mnist", "fashion-mnist", "invariance",
        scale=Scale(iters=1875),
        parts=(("simclr-*-s0",), ("simclr-*-s1", "simclr-*-s2"), ("byol-*-s0",), ("byol-*-s1", "byol-*-s2"))),
    # The Fashion-MNIST report: the 1,875-iteration runs at each side's validated rate, every row borrowed.
    "fashion-mnist": Study(
        "fashion-mnist", "SimCLR and BYOL with and without MCR on Fashion-MNIST, trained until SimCLR's kNN has "
        "flattened (1,875 iterations, 2 epochs), each side at its validated learning rate",
        _published_fashion_runs(), "fashion-mnist", "fashion-mnist", "invariance", scale=Scale(iters=1875),
        budget=PUBLISHED_FASHION_BUDGET),
    # A baseline given MCR's compute on real images: three SimCLR runs of 4,688 iterations, 78 min together at
    # 3 jobs on the 2 cores (one part).
    "fashion-mnist-matched": Study(
        "fashion-mnist-matched", "SimCLR without MCR given 2.5x the iterations (about an MCR run's compute) on "
        "Fashion-MNIST, against SimCLR with and without MCR at 1,875", _matched_fashion_runs(), "fashion-mnist",
        "fashion-mnist", "invariance", ablation=True, scale=Scale(iters=MATCHED_FASHION_ITERS),
        contrasts=(("SimCLR+MCR, 1,875 iterations", "SimCLR, 1,875 iterations"),
                   ("SimCLR, 4,688 iterations", "SimCLR, 1,875 iterations"),
                   ("SimCLR+MCR, 1,875 iterations", "SimCLR, 4,688 iterations")),
        budget=MATCHED_FASHION_BUDGET),
    # The scenes report: every row borrowed, each method where its kNN has flattened (see the budget text).
    "scenes": Study(
        "scenes", "SimCLR, BYOL and Barlow Twins with and without MCR on the factor scenes, each trained until its "
        "kNN has flattened, SimCLR at its validated learning rate", _published_scenes_runs(), "scenes?n=4000",
        "scenes?n=2000&n_test=1000", "factors",
        attribution=("simclr-none-lr2-2x-s0", "simclr-mcr-lr2-2x-s0"), scale=Scale(iters=3720),
        budget=PUBLISHED_SCENES_BUDGET),
    # A SimCLR baseline given MCR's compute on the scenes, at the validated rate: three 9,300-iteration runs,
    # about 75 min together at 3 jobs on the 2 cores (one part).
    "scenes-matched": Study(
        "scenes-matched", "SimCLR without MCR given 2.5x the iterations (about an MCR run's compute) on the factor "
        "scenes, against SimCLR with and without MCR at 3,720, all at the validated 2x rate", _matched_scenes_runs(),
        "scenes?n=4000", "scenes?n=2000&n_test=1000", "factors", ablation=True,
        scale=Scale(iters=MATCHED_SCENES_ITERS),
        contrasts=(("SimCLR+MCR, 3,720 iterations", "SimCLR, 3,720 iterations"),
                   ("SimCLR, 9,300 iterations", "SimCLR, 3,720 iterations"),
                   ("SimCLR+MCR, 3,720 iterations", "SimCLR, 9,300 iterations")),
        budget=MATCHED_SCENES_BUDGET),
    # A two-run, two-iteration pass through every step: what the test suite runs, and a quick install check.
    "smoke": Study(
        "smoke", "smoke test of the study pipeline (not a result)",
        tuple(Run(f"simclr-{reg}-s0", train_config("simclr", reg, "scenes"), 0) for reg in ("none", "mcr")),
        "scenes?n=32", "scenes?n=40&n_test=20", "factors", audit_n=60, counterfactuals=10,
        attribution=("simclr-none-s0", "simclr-mcr-s0"), scale=Scale(iters=2, batch=8, width=4)),
    # The recipe's whole 30-epoch schedule (30 x 62 = 1,860 iterations of 4,000 scenes at batch 64), with the online kNN
    # every 125 iterations on the evaluation protocol's images: does kNN plateau, and does the MCR effect change
    # with six times the training of the scenes study? About 6 h at 2 jobs, so it is regenerated in parts
    # (``--only``), each under 2 h on 2 cores. SimCLR, the one method whose encoders learn the class factor at
    # this scale, has two more seeds: with three, its paired MCR effect was large on two and zero on one.
    "scenes-full": Study(
        "scenes-full", "SimCLR, BYOL and Barlow Twins with and without MCR trained for the recipe's full 30 epochs "
        "on the factor scenes",
        _grid(("simclr", "byol", "barlowtwins"), "scenes", FULL_MONITOR)
        + _grid(("simclr",), "scenes", FULL_MONITOR, seeds=(3, 4)),
        "scenes?n=4000", "scenes?n=2000&n_test=1000", "factors", scale=Scale(iters=1860),
        parts=(("simclr-*-s0", "simclr-*-s1"), ("simclr-*-s2", "byol-*-s0"), ("byol-*-s1", "byol-*-s2"),
               ("barlowtwins-*-s0", "barlowtwins-*-s1"), ("barlowtwins-*-s2",), ("simclr-*-s3", "simclr-*-s4"))),
    "scenes-full-interval": Study(
        "scenes-full-interval", "Level 2 every k-th step at the full schedule (SimCLR + MCR, seeds 1 and 2)",
        _full_interval_runs(), "scenes?n=4000", "scenes?n=2000&n_test=1000", "factors", ablation=True,
        scale=Scale(iters=1860)),
    "scenes-full-2x": Study(
        "scenes-full-2x", "Twice the full schedule for the SimCLR baseline (seeds 0-4): has kNN plateaued, and does "
        "a baseline with more compute than MCR catch up?", _double_schedule_runs(), "scenes?n=4000",
        "scenes?n=2000&n_test=1000", "factors", ablation=True, scale=Scale(iters=3720),
        contrasts=(("SimCLR, 3,720 iterations", "SimCLR, 1,860 iterations"),
                   ("SimCLR+MCR, 1,860 iterations", "SimCLR, 1,860 iterations"),
                   ("SimCLR+MCR, 1,860 iterations", "SimCLR, 3,720 iterations")),
        parts=(("*-2x-s0", "*-2x-s1", "*-2x-s2", "*-2x-s3"), ("*-2x-s4",)),
        budget=DOUBLE_SCHEDULE_BUDGET),
    # The like-for-like test of MCR's premise at a length where the baseline has flattened: SimCLR + MCR for the
    # same 3,720 iterations as the scenes-full-2x baselines. One MCR run took 90 min at 2 jobs here, so the
    # study is regenerated in three parts of two, two and one seed.
    "scenes-full-2x-mcr": Study(
        "scenes-full-2x-mcr", "SimCLR with and without MCR at twice the full schedule (3,720 iterations): the "
        "like-for-like comparison where the baseline's kNN has flattened", _double_schedule_mcr_runs(),
        "scenes?n=4000", "scenes?n=2000&n_test=1000", "factors", ablation=True, scale=Scale(iters=3720),
        contrasts=(("SimCLR+MCR, 3,720 iterations", "SimCLR, 3,720 iterations"),
                   ("SimCLR+MCR, 1,860 iterations", "SimCLR, 1,860 iterations"),
                   ("SimCLR+MCR, 3,720 iterations", "SimCLR+MCR, 1,860 iterations"),
                   ("SimCLR, 3,720 iterations", "SimCLR, 1,860 iterations")),
        parts=(("simclr-mcr-2x-s0", "simclr-mcr-2x-s1"), ("simclr-mcr-2x-s2", "simclr-mcr-2x-s3"),
               ("simclr-mcr-2x-s4",)),
        budget=DOUBLE_SCHEDULE_MCR_BUDGET),
    # The whole grid at 3,720 iterations (part 1 of 5 run; see _plateau_runs). Per-run times at 2 jobs, doubled
    # from reports/scenes-full: BYOL+MCR about 110 min, BYOL 55-70, Barlow Twins+MCR 95, Barlow Twins 40; each
    # BYOL part runs a Barlow Twins baseline after the BYOL baseline on the second core. About 9 h in all.
    "scenes-2x": Study(
        "scenes-2x", "SimCLR, BYOL and Barlow Twins with and without MCR on the factor scenes at twice the recipe's "
        "schedule (3,720 iterations)", _plateau_runs(), "scenes?n=4000", "scenes?n=2000&n_test=1000", "factors",
        attribution=("simclr-none-lr2-2x-s0", "simclr-mcr-lr2-2x-s0"), scale=Scale(iters=3720),
        parts=tuple((f"byol-*-2x-s{s}", f"barlowtwins-none-2x-s{s}") for s in SEEDS)
        + (("barlowtwins-mcr-2x-s0", "barlowtwins-mcr-2x-s1"), ("barlowtwins-mcr-2x-s2",))),
    # A diagnosis, not a comparison: is it the views that keep BYOL and Barlow Twins at chance on the scenes?
    # About 30-45 min per run beside another on the 2 cores; BYOL and Barlow Twins are part 1, SimCLR and VICReg part 2.
    "scenes-2x-views": Study(
        "scenes-2x-views", "Views diagnosis: BYOL and Barlow Twins with SimCLR's views, SimCLR with BYOL's, and "
        "VICReg, at 3,720 iterations on the factor scenes (seed 0, no MCR)", _views_diagnosis_runs(),
        "scenes?n=4000", "scenes?n=2000&n_test=1000", "factors", ablation=True, scale=Scale(iters=3720),
        parts=(("byol-none-simclrviews-2x-s0", "barlowtwins-none-simclrviews-2x-s0"),
               ("simclr-none-byolviews-2x-s0", "vicreg-none-2x-s0")),
        budget=VIEWS_DIAGNOSIS_BUDGET),
    # Is the recipe's learning rate (the one every published study uses) also what a validation split picks,
    # for the baseline and for MCR alike? Evaluated on scenes drawn with another generator seed (seed=1:
    # same distribution, no image shared with the test split of the other studies).
    "scenes-lr": Study(
        "scenes-lr", "Learning-rate selection on a validation split (SimCLR and BYOL, with and without MCR, seed 0)",
        lr_selection_runs((("simclr", "SimCLR"), ("byol", "BYOL")), "scenes", "the validation scenes"),
        "scenes?n=4000", VALIDATION_SCENES, "none", ablation=True, test_data="scenes?n=2000&n_test=1000"),
    # The same selection at the published SimCLR length (3,720 iterations), the rate reports/scenes trains both
    # sides at; scenes-lr chose at 300 iterations only. Six runs, seed 0: an MCR run takes 66-90 min beside another
    # run, a baseline 31-53 min, so it is regenerated in three parts.
    "scenes-full-lr": Study(
        "scenes-full-lr", "Learning-rate selection on a validation split at the published SimCLR length (SimCLR "
        "with and without MCR, seed 0, 3,720 iterations)", _full_lr_selection_runs(), "scenes?n=4000",
        VALIDATION_SCENES, "none", ablation=True, test_data="scenes?n=2000&n_test=1000", scale=Scale(iters=3720),
        parts=(("simclr-mcr-lr0p5-s0", "simclr-mcr-lr1-s0"), ("simclr-mcr-lr2-s0", "simclr-none-lr0p5-s0"),
               ("simclr-none-lr1-s0", "simclr-none-lr2-s0")), budget=FULL_LR_BUDGET),
    # The SimCLR comparison at 3,720 iterations (seeds 0-4) with each side at the rate scenes-full-lr chose for it
    # (2x for both); the published scenes study borrows its rows. An MCR run takes about 53 min beside another run,
    # a baseline about 20 min, so it is regenerated in three parts.
    "scenes-full-chosen-lr": Study(
        "scenes-full-chosen-lr", "SimCLR with and without MCR on the factor scenes for 3,720 iterations, each side "
        "at the learning rate chosen on validation scenes at that length",
        _full_chosen_lr_runs(), "scenes?n=4000", "scenes?n=2000&n_test=1000", "factors", scale=Scale(iters=3720),
        lr_chosen_by="scenes-full-lr",
        # Parts 2 and 3 each end with complete seed pairs, so the paired effect grows with every part.
        parts=(("simclr-mcr-*-s0", "simclr-mcr-*-s1"),
               ("simclr-mcr-*-s2", "simclr-none-*-s0", "simclr-none-*-s1", "simclr-none-*-s2"),
               ("simclr-mcr-*-s3", "simclr-mcr-*-s4", "simclr-none-*-s3", "simclr-none-*-s4"))),
    # The 300-iteration scenes study's comparison for the two methods whose rate was selected, each side at the
    # rate validation chose for it instead of the recipe's: the protocol "hyperparameters chosen on a validation
    # split for both".
    "scenes-chosen-lr": Study(
        "scenes-chosen-lr", "SimCLR and BYOL with and without MCR on the factor scenes, each side at the learning "
        "rate chosen on validation scenes", chosen_lr_runs(CHOSEN_LR, "scenes", SHORT_SCENES), "scenes?n=4000",
        "scenes?n=2000&n_test=1000", "factors", lr_chosen_by="scenes-lr"),
    **FASHION_LR_STUDIES,
    "ablations": Study(
        "ablations", "MCR ablations on the factor scenes (SimCLR, seed 0)", ablation_runs(), "scenes?n=4000",
        "scenes?n=2000&n_test=1000", "factors", ablation=True,
        spread=("seed-to-seed std of SimCLR+MCR default", ("simclr-mcr-s0", "simclr-mcr-s1", "simclr-mcr-s2"))),
}
