"""The per-factor retention table and the summary retention scores (audit v2).

Every factor is probed by two probe families (:mod:`.probes`): ``linear`` (ridge) and ``kernel`` (RBF
kernel ridge, the nonlinear probe of von Kuegelgen et al., NeurIPS 2021). For family ``F``, factor ``f``
with encoder probe score ``p_f``, chance ``c_f`` and **ceiling** ``u_f`` (the same family's probe on the
input pixels themselves, which hold everything there is to keep), the **retention** is

    retention_f = clip((p_f - c_f) / (u_f - c_f), 0, 1)

the share of what the probe can read about ``f`` from the input that it can still read from the
features. An encoder that keeps its input reads 1. A feature set that makes a factor easier to read than
the pixels do is capped at 1: it kept all of it that this probe can see. Retention is undefined (``None``,
with the reason in ``why_undefined``) when the ceiling itself is within :data:`MIN_REFERENCE_GAP` of
chance: nothing then says how much of the factor there was to keep (at 32 px this is so for ``shape`` and
``texture``). Each score is also set against a **supervised reference** (:mod:`.supervised_reference`, the
same probe on a small network trained with labels on every factor): ``vs_supervised_f`` uses it in place of
the ceiling and is defined for shape and texture too, but it measures how readable the encoder makes a factor
compared with supervision, not how much of it the encoder kept. The **non-shared retention** is the
mean over the factors the training views destroy (:mod:`.factors`) of the kernel retention, the
headline; the **shared retention** the same over the others; the linear family's summaries are reported
beside them. The raw-pixel (16 x 16 pool) and random-init probes are references to read against, not the
scale. The random ``control`` label is reported but never enters a summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mcr_eval.audit.factors import CONTROL_FACTOR, FactorLabels
from mcr_eval.audit.probes import DEFAULT_FOLDS, ProbeScore, probe_all

#: A ceiling closer to chance than this leaves retention undefined: a probe's fold-to-fold spread is about
#: 0.03, so a ratio over a smaller gap would be mostly noise.
MIN_REFERENCE_GAP = 0.1
REFERENCE_NAMES = ("raw_pixels", "random_init")
#: Probe families in report order; the first gives the headline retention.
FAMILIES = ("kernel", "linear")
HEADLINE_FAMILY = FAMILIES[0]


@dataclass(frozen=True)
class FamilyScore:
    """One probe family on one factor: the encoder's probe, the ceiling and the retention between them."""

    probe: ProbeScore
    ceiling: ProbeScore | None
    retention: float | None
    supervised: ProbeScore | None = None
    vs_supervised: float | None = None


@dataclass(frozen=True)
class RetentionRow:
    """One factor: its role, each family's scores, the reference probes and why retention may be missing."""

    factor: str
    role: str  # "shared", "non-shared" or "control"
    scores: dict[str, FamilyScore]
    references: dict[str, ProbeScore]
    why_undefined: str | None = None

    @property
    def probe(self) -> ProbeScore:
        return self.scores[HEADLINE_FAMILY].probe

    @property
    def retention(self) -> float | None:
        return self.scores[HEADLINE_FAMILY].retention

    @property
    def reference(self) -> float | None:
        values = [r.mean for r in self.references.values()]
        return max(values) if values else None


@dataclass
class RetentionAudit:
    """All rows plus the summaries; ``interventions`` is filled by :mod:`.interventions`, ``disentanglement``
    (DCI, MIG, SAP) by the runner."""

    rows: list[RetentionRow]
    summaries: dict[str, dict[str, float | None]]  # family -> {"non-shared": ..., "shared": ...}
    destroyed: list[str]
    views: str | None
    folds: int
    n: int
    size: int = 32
    interventions: dict[str, dict[str, float]] = field(default_factory=dict)
    disentanglement: dict[str, float] = field(default_factory=dict)

    @property
    def non_shared_retention(self) -> float | None:
        return self.summaries[HEADLINE_FAMILY]["non-shared"]

    @property
    def shared_retention(self) -> float | None:
        return self.summaries[HEADLINE_FAMILY]["shared"]

    def row(self, factor: str) -> RetentionRow:
        return next(r for r in self.rows if r.factor == factor)


def normalized_retention(probe: float, chance: float, ceiling: float | None) -> float | None:
    """``clip((probe - chance) / (ceiling - chance), 0, 1)``, None without a usable ceiling."""
    if ceiling is None or ceiling - chance < MIN_REFERENCE_GAP:
        return None
    return float(np.clip((probe - chance) / (ceiling - chance), 0.0, 1.0))


def _mean_or_none(values: list[float | None]) -> float | None:
    usable = [v for v in values if v is not None]
    return float(np.mean(usable)) if usable else None


def _why_undefined(scores: dict[str, FamilyScore], size: int) -> str | None:
    family_score = scores[HEADLINE_FAMILY]
    ceiling = family_score.ceiling
    if family_score.retention is not None or ceiling is None:
        return None
    return (f"the {HEADLINE_FAMILY} probe reads it from the {size} px input itself at {ceiling.mean:.3f}, within "
            f"{MIN_REFERENCE_GAP} of chance ({ceiling.chance:.3f}): nothing sets how much there was to keep")


def build_table(probes: dict[str, dict[str, ProbeScore]], ceilings: dict[str, dict[str, ProbeScore]],
                references: dict[str, dict[str, ProbeScore]], roles: dict[str, str], size: int = 32,
                supervised: dict[str, dict[str, ProbeScore]] | None = None) -> list[RetentionRow]:
    """Rows from per-family probe scores (``family -> factor -> score``), the matching ceilings and (optional)
    supervised-reference scores."""
    supervised = supervised or {}
    rows = []
    for name in probes[HEADLINE_FAMILY]:
        role = "control" if name == CONTROL_FACTOR else roles[name]
        scores = {}
        for family, family_probes in probes.items():
            score, ceiling = family_probes[name], ceilings.get(family, {}).get(name)
            learned = supervised.get(family, {}).get(name)
            retention = None if role == "control" or ceiling is None else normalized_retention(
                score.mean, score.chance, ceiling.mean)
            vs_learned = None if role == "control" or learned is None else normalized_retention(
                score.mean, score.chance, learned.mean)
            scores[family] = FamilyScore(score, ceiling, retention, learned, vs_learned)
        refs = {ref: scored[name] for ref, scored in references.items() if name in scored}
        why = None if role == "control" else _why_undefined(scores, size)
        rows.append(RetentionRow(name, role, scores, refs, why))
    return rows


def summaries(rows: list[RetentionRow]) -> dict[str, dict[str, float | None]]:
    """Per family, the mean retention over the non-shared and over the shared factors."""
    families = list(rows[0].scores) if rows else []
    return {family: {role: _mean_or_none([r.scores[family].retention for r in rows if r.role == role])
                     for role in ("non-shared", "shared")} for family in families}


def audit_retention(features: np.ndarray, labels: FactorLabels, roles: dict[str, str],
                    references: dict[str, dict[str, ProbeScore]], ceilings: dict[str, dict[str, ProbeScore]],
                    destroyed: list[str], views: str | None = None, folds: int = DEFAULT_FOLDS, seed: int = 0,
                    size: int = 32, supervised: dict[str, dict[str, ProbeScore]] | None = None) -> RetentionAudit:
    """Probe every factor on ``features`` with every family of ``ceilings`` and set the scores against the
    precomputed ceilings, supervised-reference scores and reference probes."""
    probes = {family: probe_all(features, labels, folds, seed, family) for family in ceilings}
    return audit_from_probes(probes, labels, roles, references, ceilings, destroyed, views, folds, size, supervised)


def audit_from_probes(probes: dict[str, dict[str, ProbeScore]], labels: FactorLabels, roles: dict[str, str],
                      references: dict[str, dict[str, ProbeScore]], ceilings: dict[str, dict[str, ProbeScore]],
                      destroyed: list[str], views: str | None = None, folds: int = DEFAULT_FOLDS, size: int = 32,
                      supervised: dict[str, dict[str, ProbeScore]] | None = None) -> RetentionAudit:
    """The audit of already computed per-family probe scores (``family -> factor -> score``)."""
    rows = build_table(probes, ceilings, references, roles, size, supervised)
    n = len(next(iter(labels.values.values())))
    return RetentionAudit(rows, summaries(rows), list(destroyed), views, folds, n, size)


def reference_probes(feature_sets: dict[str, np.ndarray], labels: FactorLabels, folds: int = DEFAULT_FOLDS,
                     seed: int = 0, family: str = "linear") -> dict[str, dict[str, ProbeScore]]:
    """Probe scores of every reference feature set (computed once, shared by all audited encoders)."""
    return {name: probe_all(feats, labels, folds, seed, family) for name, feats in feature_sets.items()}
