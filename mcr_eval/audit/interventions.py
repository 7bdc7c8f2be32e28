"""Counterfactual interventions on factor scenes: change one factor, render again, compare features.

The renderer is a pure function of the factors, so the counterfactual differs from its original only in
the pixels that factor owns (:func:`factor_pixels`). For each factor, on up to ``n`` samples where it is
visible (a detail kind/corner needs a detail), a new value is drawn uniformly among the other values
(continuous factors: uniformly with ``|new - old| >= MIN_SHIFT``). Two measures (interventional reading
of "does the representation encode f", in the spirit of Besserve et al., 2020):

* **sensitivity** = mean ||z - z'|| over (original, counterfactual) pairs / mean ||z_i - z_j|| over random
  pairs of audit samples, with z the l2-normalized features. 0: invariant; 1: moves as far as a different
  image.
* **counterfactual probe accuracy**: the factor probe (fitted on the originals) applied to the
  counterfactual must report the new value (categorical; chance ~ 1/K), or move in the direction of the
  change (continuous: sign agreement, chance 0.5).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mcr_eval.audit.factors import DETAIL_DEPENDENT, FactorLabels, factor_code
from mcr_eval.audit.probes import fit_factor_probe
from mcr_train.data.scenes import (
    CATEGORICAL_FACTORS,
    CONTINUOUS_FACTORS,
    FACTOR_NAMES,
    RenderedScene,
    SceneFactors,
    detail_region,
)

MIN_SHIFT = 0.3
OBJECT_FACTORS = ("shape", "color", "texture", "scale", "pos_x", "pos_y")
DETAIL_FACTORS = ("detail_present", "detail_kind", "detail_corner")


def counterfactual_value(name: str, value: object, rng: np.random.Generator) -> object:
    """A different value of factor ``name`` (uniform among the others; continuous: a shift >= MIN_SHIFT)."""
    if name in CONTINUOUS_FACTORS:
        while True:
            new = float(rng.uniform())
            if abs(new - float(value)) >= MIN_SHIFT:  # type: ignore[arg-type]
                return new
    others = [v for v in CATEGORICAL_FACTORS[name] if v != value]
    return others[rng.integers(len(others))]


def intervene(factors: SceneFactors, name: str, rng: np.random.Generator) -> SceneFactors:
    return factors.intervene(**{name: counterfactual_value(name, getattr(factors, name), rng)})


def factor_pixels(name: str, original: RenderedScene, counterfactual: RenderedScene) -> np.ndarray:
    """Pixels owned by factor ``name`` in either scene: where an intervention on it may change the image."""
    size = original.image.shape[0]
    if name in OBJECT_FACTORS:
        visible = (original.object_mask | counterfactual.object_mask) & ~original.detail_mask
        return visible & ~counterfactual.detail_mask
    if name in DETAIL_FACTORS:
        return detail_region(original.factors, size) | detail_region(counterfactual.factors, size)
    if name == "background":  # the background tone also sets the detail mark's colour (white or black)
        return ~(original.object_mask & ~original.detail_mask)
    raise KeyError(name)


def eligible_samples(factors: Sequence[SceneFactors], name: str) -> np.ndarray:
    if name in DETAIL_DEPENDENT:
        return np.flatnonzero([f.detail_present for f in factors])
    return np.arange(len(factors))


def random_pair_distance(features: np.ndarray, rng: np.random.Generator) -> float:
    """Mean distance between l2-normalized features of random distinct pairs."""
    z = l2_normalize(features)
    i = rng.permutation(len(z))
    j = np.roll(i, 1)
    return float(np.linalg.norm(z[i] - z[j], axis=1).mean())


def l2_normalize(features: np.ndarray) -> np.ndarray:
    return features / np.clip(np.linalg.norm(features, axis=1, keepdims=True), 1e-12, None)


def intervention_scores(factors: Sequence[SceneFactors], features: np.ndarray, labels: FactorLabels,
                        featurize: Callable[[list[SceneFactors]], np.ndarray], n: int = 200,
                        seed: int = 0, names: Sequence[str] = FACTOR_NAMES) -> dict[str, dict[str, float]]:
    """``factor -> {sensitivity, cf_accuracy, cf_chance, n}`` for the encoder behind ``featurize``.

    ``features`` are the encoder's features of ``factors`` (the audit set, also used to fit the probes);
    ``featurize`` renders and encodes a list of counterfactual factors.
    """
    rng = np.random.default_rng(seed)
    typical = random_pair_distance(features, rng)
    out: dict[str, dict[str, float]] = {}
    for name in names:
        pool = eligible_samples(factors, name)
        chosen = rng.permutation(pool)[:n]
        counterfactuals = [intervene(factors[i], name, rng) for i in chosen]
        cf_features = featurize(counterfactuals)
        shift = np.linalg.norm(l2_normalize(features[chosen]) - l2_normalize(cf_features), axis=1).mean()
        probe = fit_factor_probe(features, labels, name)
        new = np.array([factor_code(name, getattr(f, name)) for f in counterfactuals])
        if name in CONTINUOUS_FACTORS:
            old = labels.values[name][chosen]
            moved = probe.predict(cf_features) - probe.predict(features[chosen])
            accuracy, chance = float(np.mean(np.sign(moved) == np.sign(new - old))), 0.5
        else:
            accuracy = float(np.mean(probe.predict(cf_features) == new))
            chance = 1.0 / len(CATEGORICAL_FACTORS[name])
        out[name] = {"sensitivity": float(shift / typical) if typical > 1e-9 else float("nan"), "cf_accuracy": accuracy,
                     "cf_chance": chance, "n": int(len(chosen))}
    return out
