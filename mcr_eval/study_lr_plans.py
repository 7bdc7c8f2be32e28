"""The runs of the learning-rate studies: a rate tried at 0.5, 1 and 2 times the recipe's on a validation split,
and each side trained at the rate validation chose for it (the protocol of ``mcr_eval.lr_selection``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mcr_eval.study_paths import train_config
from mcr_eval.study_types import SEEDS, Run


def lr_selection_runs(methods: Sequence[tuple[str, str]], dataset: str, validation: str,
                      options: tuple[str, ...] = ()) -> tuple[Run, ...]:
    """Seed 0 of each method, with and without MCR, at 0.5, 1 and 2 times the recipe's learning rate."""
    runs = []
    for method, label in methods:
        table = f"{label} learning rate, selected on {validation} (kNN top-1)"
        for reg in ("none", "mcr"):
            for factor, tag in ((0.5, "0p5"), (1.0, "1"), (2.0, "2")):
                runs.append(Run(f"{method}-{reg}-lr{tag}-s0", train_config(method, reg, dataset), 0, options,
                                table=table, variant=f"{label}{'+MCR' if reg == 'mcr' else ''}, lr x{factor:g}",
                                lr_factor=factor))
    return tuple(runs)


# The rate ``reports/scenes-lr`` chose per method and side on the validation scenes (seed 0; a test checks this
# against the committed results), as a factor of the recipe's.
CHOSEN_LR = {("simclr", "none"): 0.5, ("simclr", "mcr"): 0.5, ("byol", "none"): 0.5, ("byol", "mcr"): 1.0}
# The rate ``reports/fashion-mnist-lr`` chose per side on the held-out tenth of Fashion-MNIST (likewise checked).
CHOSEN_FASHION_LR = {("simclr", "none"): 0.5, ("simclr", "mcr"): 0.5}
# The rate ``reports/fashion-mnist-lr-byol`` chose per side for BYOL (likewise checked): the two sides part ways.
CHOSEN_FASHION_LR_BYOL = {("byol", "none"): 2.0, ("byol", "mcr"): 0.5}

# The rate ``reports/scenes-full-lr`` chose per side at the published SimCLR length (3,720 iterations; checked too).
CHOSEN_FULL_LR = {("simclr", "none"): 2.0, ("simclr", "mcr"): 2.0}

def chosen_lr_runs(chosen: dict[tuple[str, str], float], dataset: str, home: str | Mapping[str, str],
                   options: tuple[str, ...] = (), seeds: Sequence[int] = SEEDS, suffix: str = "") -> tuple[Run, ...]:
    """Each method and side at its chosen rate, one run per seed. A side chosen at the recipe's rate borrows the
    runs of ``home`` (same config, scale and evaluation data), one study or one per side (``"none"``, ``"mcr"``);
    the others are trained here. ``suffix`` is the run-name mark of a longer schedule (``"-2x"``)."""
    runs = []
    for seed in seeds:
        for (method, reg), factor in chosen.items():
            config = train_config(method, reg, dataset)
            if factor == 1.0:
                owner = home if isinstance(home, str) else home[reg]
                runs.append(Run(f"{method}-{reg}{suffix}-s{seed}", config, seed, options, home=owner))
            else:
                runs.append(Run(f"{method}-{reg}-lr{factor:g}".replace(".", "p") + f"{suffix}-s{seed}", config,
                                seed, options, lr_factor=factor))
    return tuple(runs)
