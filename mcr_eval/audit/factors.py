"""Factor labels of scene samples and their shared / non-shared role under a training view pipeline.

A factor is **non-shared** when at least one transform of the training views destroys or randomizes it
(so the two views of an image need not agree on it) and **shared** otherwise. Destroyed factors come from
``encoder.json`` (``destroyed_factors``, docs/contracts.md §1/§4), from the view pipeline of
:mod:`mcr_train.views` named by ``views``, or from :data:`TRANSFORM_DESTROYS` for a comma-separated list of
transform names. Names are expanded with :data:`DESTROYED_ALIASES`: a random resized crop that can cut the
detail away also removes its kind and corner, and a horizontal flip (``handedness``) swaps left/right, which
changes ``pos_x`` and the left/right half of ``detail_corner``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from mcr_train.data.scenes import CATEGORICAL_FACTORS, CONTINUOUS_FACTORS, FACTOR_NAMES, SceneFactors
from mcr_train.errors import ConfigError

CONTROL_FACTOR = "control"
CONTROL_CLASSES = 4
#: Factors that only exist in the image when ``detail_present`` is true.
DETAIL_DEPENDENT = ("detail_kind", "detail_corner")

#: Expansion of destroyed names (as reported by view pipelines) into scene factors.
DESTROYED_ALIASES: dict[str, tuple[str, ...]] = {
    "detail_present": ("detail_present", "detail_kind", "detail_corner"),
    "handedness": ("pos_x", "detail_corner"),
    "flip": ("pos_x", "detail_corner"),
    "position": ("pos_x", "pos_y"),
}

#: Destroyed factors of single transforms, for ``--views crop,flip,...`` when no pipeline name fits.
TRANSFORM_DESTROYS: dict[str, tuple[str, ...]] = {
    "crop": ("scale", "pos_x", "pos_y", "detail_present"),
    "rrc": ("scale", "pos_x", "pos_y", "detail_present"),
    "flip": ("handedness",),
    "jitter": ("color",),
    "grayscale": ("color",),
    "solarize": ("color",),
    "blur": (),
    "none": (),
}


def expand_destroyed(names: Iterable[str]) -> list[str]:
    """Scene factors (in :data:`FACTOR_NAMES` order) covered by destroyed names and their aliases."""
    covered: set[str] = set()
    for name in names:
        covered.update(DESTROYED_ALIASES.get(name, (name,)))
    return [f for f in FACTOR_NAMES if f in covered]


def destroyed_from_views(views: str) -> list[str]:
    """Destroyed names of a view-pipeline name (``mcr_train.views``) or of ``crop,flip,jitter,...``."""
    try:
        from mcr_train.views.pipeline import destroyed_factors_of
        from mcr_train.views.recipes import VIEW_RECIPES
    except ImportError:  # training views not installed: transform names only
        VIEW_RECIPES, destroyed_factors_of = {}, None  # noqa: N806
    if views in VIEW_RECIPES:
        return list(destroyed_factors_of(VIEW_RECIPES[views]))
    parts = [p.strip() for p in views.split(",") if p.strip()]
    unknown = [p for p in parts if p not in TRANSFORM_DESTROYS]
    if not parts or unknown:
        known = sorted(VIEW_RECIPES) + sorted(TRANSFORM_DESTROYS)
        raise ConfigError(f"unknown views '{views}'; pass a view-pipeline name or comma-separated transforms "
                          f"from: {', '.join(known)}")
    return [name for p in parts for name in TRANSFORM_DESTROYS[p]]


def factor_roles(destroyed: Iterable[str]) -> dict[str, str]:
    """``factor -> 'non-shared' | 'shared'`` for every scene factor."""
    lost = set(expand_destroyed(destroyed))
    return {f: ("non-shared" if f in lost else "shared") for f in FACTOR_NAMES}


@dataclass(frozen=True)
class FactorLabels:
    """Per-sample targets of every factor: integer codes (categorical) or floats in [0, 1] (continuous).

    ``control`` is a random label independent of the image (seeded): its probe must read chance and is
    the audit's built-in null check.
    """

    values: dict[str, np.ndarray]

    @property
    def names(self) -> list[str]:
        return list(self.values)

    def is_continuous(self, name: str) -> bool:
        return name in CONTINUOUS_FACTORS

    def num_classes(self, name: str) -> int:
        if name == CONTROL_FACTOR:
            return CONTROL_CLASSES
        return len(CATEGORICAL_FACTORS[name])

    def eligible(self, name: str) -> np.ndarray:
        """Samples where factor ``name`` is visible: detail kind and corner only when a detail is drawn."""
        if name in DETAIL_DEPENDENT:
            return np.flatnonzero(self.values["detail_present"] == 1)
        return np.arange(len(next(iter(self.values.values()))))

    def subset(self, index: np.ndarray) -> FactorLabels:
        return FactorLabels({k: v[index] for k, v in self.values.items()})


def factor_code(name: str, value: object) -> float | int:
    if name in CONTINUOUS_FACTORS:
        return float(value)  # type: ignore[arg-type]
    return CATEGORICAL_FACTORS[name].index(value)


def factor_labels(factors: Sequence[SceneFactors], control_seed: int = 12345) -> FactorLabels:
    """Targets for every factor of ``factors`` plus the random ``control`` label."""
    values: dict[str, np.ndarray] = {}
    for name in FACTOR_NAMES:
        column = [factor_code(name, getattr(f, name)) for f in factors]
        dtype = np.float64 if name in CONTINUOUS_FACTORS else np.int64
        values[name] = np.asarray(column, dtype=dtype)
    rng = np.random.default_rng(control_seed)
    values[CONTROL_FACTOR] = rng.integers(CONTROL_CLASSES, size=len(factors)).astype(np.int64)
    return FactorLabels(values)


def chance_level(labels: np.ndarray, continuous: bool) -> float:
    """Accuracy of always predicting the most frequent class; R^2 of predicting the mean (0)."""
    if continuous:
        return 0.0
    counts = np.bincount(labels)
    return float(counts.max() / counts.sum())
