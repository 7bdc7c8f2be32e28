"""The per-factor retention table and the summary retention scores.

For factor ``f`` with encoder probe score ``p_f``, chance ``c_f`` and reference ``r_f`` (the better of the
raw-pixel and random-init probes, :mod:`.scene_inputs`), the **normalized retention** is

    retention_f = clip((p_f - c_f) / (r_f - c_f), 0, 1)

i.e. the fraction of the linearly decodable information about ``f`` in generic features of the input
that the encoder still holds. It is undefined (``None``) when the references themselves are within
:data:`MIN_REFERENCE_GAP` of chance. The **non-shared retention** is the mean of ``retention_f`` over the
factors the training views destroy (:mod:`.factors`), the **shared retention** the same over the others.
The random ``control`` label is reported but never enters a summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mcr_eval.audit.factors import CONTROL_FACTOR, FactorLabels
from mcr_eval.audit.probes import DEFAULT_FOLDS, ProbeScore, probe_all

MIN_REFERENCE_GAP = 0.05
REFERENCE_NAMES = ("raw_pixels", "random_init")


@dataclass(frozen=True)
class RetentionRow:
    """One factor: its role, the encoder's probe, the reference probes and the normalized retention."""

    factor: str
    role: str  # "shared", "non-shared" or "control"
    probe: ProbeScore
    references: dict[str, ProbeScore]
    retention: float | None

    @property
    def reference(self) -> float | None:
        values = [r.mean for r in self.references.values()]
        return max(values) if values else None


@dataclass
class RetentionAudit:
    """All rows plus the summaries; ``interventions`` is filled by :mod:`.interventions`."""

    rows: list[RetentionRow]
    non_shared_retention: float | None
    shared_retention: float | None
    destroyed: list[str]
    views: str | None
    folds: int
    n: int
    interventions: dict[str, dict[str, float]] = field(default_factory=dict)

    def row(self, factor: str) -> RetentionRow:
        return next(r for r in self.rows if r.factor == factor)


def normalized_retention(probe: float, chance: float, reference: float | None) -> float | None:
    """``clip((probe - chance) / (reference - chance), 0, 1)``, None without a usable reference."""
    if reference is None or reference - chance < MIN_REFERENCE_GAP:
        return None
    return float(np.clip((probe - chance) / (reference - chance), 0.0, 1.0))


def _mean_or_none(values: list[float | None]) -> float | None:
    usable = [v for v in values if v is not None]
    return float(np.mean(usable)) if usable else None


def build_table(probes: dict[str, ProbeScore], references: dict[str, dict[str, ProbeScore]],
                roles: dict[str, str]) -> list[RetentionRow]:
    rows = []
    for name, score in probes.items():
        refs = {ref: scores[name] for ref, scores in references.items() if name in scores}
        role = "control" if name == CONTROL_FACTOR else roles[name]
        best = max((r.mean for r in refs.values()), default=None)
        retention = None if role == "control" else normalized_retention(score.mean, score.chance, best)
        rows.append(RetentionRow(name, role, score, refs, retention))
    return rows


def audit_retention(features: np.ndarray, labels: FactorLabels, roles: dict[str, str],
                    references: dict[str, dict[str, ProbeScore]], destroyed: list[str],
                    views: str | None = None, folds: int = DEFAULT_FOLDS, seed: int = 0) -> RetentionAudit:
    """Probe every factor on ``features`` and set the scores against precomputed reference probes."""
    rows = build_table(probe_all(features, labels, folds, seed), references, roles)
    non_shared = _mean_or_none([r.retention for r in rows if r.role == "non-shared"])
    shared = _mean_or_none([r.retention for r in rows if r.role == "shared"])
    n = len(next(iter(labels.values.values())))
    return RetentionAudit(rows, non_shared, shared, list(destroyed), views, folds, n)


def reference_probes(feature_sets: dict[str, np.ndarray], labels: FactorLabels, folds: int = DEFAULT_FOLDS,
                     seed: int = 0) -> dict[str, dict[str, ProbeScore]]:
    """Probe scores of every reference feature set (computed once, shared by all audited encoders)."""
    return {name: probe_all(feats, labels, folds, seed) for name, feats in feature_sets.items()}
