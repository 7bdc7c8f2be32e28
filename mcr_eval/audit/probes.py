"""Cross-validated factor probes on frozen features, each with its chance level.

Protocol: for every factor, a probe of one family (``linear``: ridge on standardized features, :mod:`.ridge`;
``kernel``: RBF kernel ridge on Nystroem features, :mod:`.kernel_probe`), scored by ``folds``-fold shuffled
cross-validation on the samples where the factor is visible (a detail's kind and corner only where a detail
is drawn). The folds are shared by all factors with the same visible samples, so one basis (an SVD, or a
Nystroem map per kernel width) per fold serves them all. Categorical factors report accuracy, continuous ones
(``pos_x``, ``pos_y``) the coefficient of determination R^2; the spread is the standard deviation over folds.
Chance is the majority-class accuracy (R^2 = 0 for continuous factors).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold

from mcr_eval.audit.factors import FactorLabels, chance_level
from mcr_eval.audit.kernel_probe import KernelBasis
from mcr_eval.audit.ridge import RidgeBasis, RidgeProbe
from mcr_train.errors import ConfigError, DataError

DEFAULT_FOLDS = 5
#: Probe families: name -> (basis of one training fold, seed) -> object whose ``fit(y, classes)`` gives a probe.
PROBE_FAMILIES: dict[str, Callable[[np.ndarray, int], Any]] = {
    "linear": lambda x, seed: RidgeBasis(x),
    "kernel": lambda x, seed: KernelBasis(x, seed=seed),
}
#: Protocol names of the families, as written into result records.
FAMILY_PROTOCOL = {"linear": "ridge-loo", "kernel": "rbf-nystroem-ridge-loo"}


@dataclass(frozen=True)
class ProbeScore:
    """Cross-validated probe result for one factor on one feature set."""

    factor: str
    metric: str  # "accuracy" or "r2"
    mean: float
    std: float
    chance: float
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def _score(probe: Any, x: np.ndarray, y: np.ndarray, continuous: bool) -> float:
    pred = probe.predict(x)
    return float(r2_score(y, pred)) if continuous else float(np.mean(pred == y))


def probe_all(features: np.ndarray, labels: FactorLabels, folds: int = DEFAULT_FOLDS,
              seed: int = 0, family: str = "linear") -> dict[str, ProbeScore]:
    """Cross-validated accuracy (or R^2) of a probe of ``family`` for every factor of ``labels``."""
    if family not in PROBE_FAMILIES:
        raise ConfigError(f"unknown probe family '{family}'; use one of {', '.join(PROBE_FAMILIES)}")
    make_basis = PROBE_FAMILIES[family]
    features = np.asarray(features, dtype=np.float64)
    groups: dict[tuple[int, ...], list[str]] = {}
    for name in labels.names:
        groups.setdefault(tuple(labels.eligible(name).tolist()), []).append(name)
    scores: dict[str, list[float]] = {name: [] for name in labels.names}
    for index_key, names in groups.items():
        index = np.asarray(index_key, dtype=np.int64)
        if len(index) < 2 * folds:
            raise DataError(f"only {len(index)} scenes show factor(s) {names}, too few for {folds}-fold "
                            "cross-validation; audit more scenes (--n)")
        x = features[index]
        for train, test in KFold(folds, shuffle=True, random_state=seed).split(index):
            basis = make_basis(x[train], seed)
            for name in names:
                y = labels.values[name][index]
                continuous = labels.is_continuous(name)
                probe = basis.fit(y[train], None if continuous else labels.num_classes(name))
                scores[name].append(_score(probe, x[test], y[test], continuous))
    out = {}
    for name in labels.names:
        index = labels.eligible(name)
        continuous = labels.is_continuous(name)
        out[name] = ProbeScore(name, "r2" if continuous else "accuracy", float(np.mean(scores[name])),
                               float(np.std(scores[name])),
                               chance_level(labels.values[name][index], continuous), int(len(index)))
    return out


def fit_factor_probe(features: np.ndarray, labels: FactorLabels, name: str) -> RidgeProbe:
    """One probe for ``name`` fitted on all eligible samples (used to read counterfactuals)."""
    index = labels.eligible(name)
    continuous = labels.is_continuous(name)
    return RidgeBasis(np.asarray(features, dtype=np.float64)[index]).fit(
        labels.values[name][index], None if continuous else labels.num_classes(name))
