"""The headline table: one compact table per pretraining group with the numbers people look at first.

Columns: kNN top-1 (k=200, T=0.1; Wu et al. 2018), linear top-1, the retention audit's non-shared and
shared summaries (or the invariance scores on real images), and RankMe (Garrido et al. 2023). Rows: each
base method, its MCR variant, and the paired MCR − baseline effect with its 95% t-interval. Every column
keeps its exact protocol in the header; the full tables follow in the report.
"""

from __future__ import annotations

import json

import pandas as pd

from mcr_eval.reports.headers import group_title, row_label
from mcr_eval.reports.records_table import GROUP_KEYS
from mcr_eval.reports.statistics import COLUMN_KEYS
from mcr_eval.reports.tables import Table, column_headers, fmt_effect, fmt_value

# (task, metric or metric prefix, protocol parameters a column must have)
HEADLINE = (
    ("knn", "top1", {"k": 200}),
    ("linear", "top1", {}),
    ("retention", "non_shared_retention", {}),
    ("retention", "shared_retention", {}),
    ("retention", "invariance.", {}),
    ("representation", "rankme", {}),
)


def _wanted(task: str, metric: str, protocol_key: str) -> bool:
    params = json.loads(protocol_key)
    for want_task, want_metric, want_params in HEADLINE:
        matches_metric = metric.startswith(want_metric) if want_metric.endswith(".") else metric == want_metric
        if task == want_task and matches_metric and all(params.get(k) == v for k, v in want_params.items()):
            return True
    return False


def _order(col: tuple) -> tuple:
    task, metric = col[0], col[3]
    rank = next(i for i, (t, m, _) in enumerate(HEADLINE)
                if t == task and (metric.startswith(m) if m.endswith(".") else metric == m))
    return rank, col


def headline_tables(cells: pd.DataFrame, effects: pd.DataFrame) -> list[Table]:
    tables = []
    for group, sub in cells.groupby(list(GROUP_KEYS), sort=True):
        keep = sub[[_wanted(r.task, r.metric, r.protocol_key) for r in sub.itertuples()]]
        if keep.empty:
            continue
        col_keys = sorted({tuple(r) for r in keep[list(COLUMN_KEYS)].values}, key=_order)
        lookup = {(r.method, r.regularizer, *[getattr(r, k) for k in COLUMN_KEYS]): r for r in keep.itertuples()}
        eff = effects
        if not effects.empty:
            eff = effects[(effects[list(GROUP_KEYS)] == pd.Series(dict(zip(GROUP_KEYS, group)))).all(axis=1)]
        eff_lookup = {(r.method, *[getattr(r, k) for k in COLUMN_KEYS]): r for r in eff.itertuples()}
        rows, grid = [], []
        for method in sorted(keep["method"].unique()):
            regs = sorted(keep[keep["method"] == method]["regularizer"].unique(), key=lambda g: (g != "none", g))
            for reg in regs:
                rows.append(row_label(method, reg))
                grid.append([fmt_value(c.mean, c.std, c.n) if (c := lookup.get((method, reg, *col))) is not None
                             else "—" for col in col_keys])
            if any((method, *col) in eff_lookup for col in col_keys):
                rows.append(f"{method}: MCR − base (95% t-interval)")
                grid.append([fmt_effect(e.diff, e.ci_low, e.ci_high, e.pairs, e.significant)
                             if (e := eff_lookup.get((method, *col))) is not None else "—" for col in col_keys])
        tables.append(Table(f"Headline · {group_title(*group)}", *column_headers(col_keys), rows, grid))
    return tables

