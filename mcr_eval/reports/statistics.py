"""Per-cell summaries (mean ± sample std over seeds) and the paired MCR effect with a t-interval.

The paired effect follows the usual paired design: for each base method and column, MCR minus
baseline is taken per (seed, replicate) present in both, and the 95% confidence interval of the mean
difference is ``mean ± t_{0.975, n-1} · sd / sqrt(n)`` (Student's t). It is called significant only
when that interval excludes 0, and not computed at all for fewer than 2 pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from mcr_eval.reports.records_table import FAMILY_KEYS, GROUP_KEYS, ROW_KEYS

COLUMN_KEYS = (*FAMILY_KEYS, "protocol_key")
BASELINE = "none"
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float  # sample std (ddof=1); nan when n == 1
    n: int


def summarize(values: pd.Series) -> Summary:
    n = int(values.count())
    std = float(values.std(ddof=1)) if n > 1 else math.nan
    return Summary(float(values.mean()), std, n)


def cell_summaries(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (group, row, column) with mean, std and n over all records of that cell."""
    keys = [*GROUP_KEYS, *ROW_KEYS, *COLUMN_KEYS]
    out = frame.groupby(keys, sort=True)["value"].agg(mean="mean", std=lambda v: v.std(ddof=1), n="count")
    return out.reset_index()


@dataclass(frozen=True)
class PairedEffect:
    mean: float
    low: float
    high: float
    n: int

    @property
    def enough(self) -> bool:
        return self.n >= 2

    @property
    def significant(self) -> bool:
        return self.enough and (self.low > 0 or self.high < 0)


def paired_effect(diffs: list[float]) -> PairedEffect:
    n = len(diffs)
    if n == 0:
        return PairedEffect(math.nan, math.nan, math.nan, 0)
    mean = sum(diffs) / n
    if n < 2:
        return PairedEffect(mean, math.nan, math.nan, n)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * sd / math.sqrt(n)
    return PairedEffect(mean, mean - half, mean + half, n)


def paired_effects(frame: pd.DataFrame, treatment: str = "mcr") -> pd.DataFrame:
    """MCR minus baseline for every (group, method, column), paired by (seed, replicate)."""
    rows = []
    for key, sub in frame.groupby([*GROUP_KEYS, "method", *COLUMN_KEYS], sort=True):
        base = sub[sub["regularizer"] == BASELINE].set_index(["seed", "replicate"])["value"]
        treat = sub[sub["regularizer"] == treatment].set_index(["seed", "replicate"])["value"]
        if base.empty or treat.empty:
            continue
        common = base.index.intersection(treat.index)
        effect = paired_effect([float(treat[i] - base[i]) for i in common])
        rows.append({**dict(zip([*GROUP_KEYS, "method", *COLUMN_KEYS], key)), "diff": effect.mean,
                     "ci_low": effect.low, "ci_high": effect.high, "pairs": effect.n,
                     "significant": effect.significant, "enough": effect.enough})
    return pd.DataFrame(rows)
