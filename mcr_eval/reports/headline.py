"""The headline table: one compact table per pretraining group with the numbers people look at first.

Columns: kNN top-1 (k=200, T=0.1; Wu et al. 2018), linear top-1, the retention audit's non-shared and
shared summaries (or the invariance scores on real images), and RankMe (Garrido et al. 2023). Row blocks:
each base method and its MCR variant; the reference rows (a random-init encoder of the same architecture and
the raw pixels, :mod:`mcr_eval.reference_rows`), the floor every trained encoder is read against; and the
paired MCR − baseline differences with their 95% t-intervals, set apart below. Headers are short; the
protocols are in the legend under the table.
"""

from __future__ import annotations

import json

import pandas as pd

from mcr_eval.reports.headers import group_title, row_label
from mcr_eval.reports.records_table import GROUP_KEYS, measurement_key
from mcr_eval.reports.statistics import COLUMN_KEYS
from mcr_eval.reports.tables import EFFECT_BLOCK, Table, column_legend, fmt_effect, fmt_value

# (task, metric or metric prefix, protocol parameters a column must have)
HEADLINE = (
    ("knn", "top1", {"k": 200}),
    ("linear", "top1", {}),
    ("retention", "non_shared_retention", {}),
    ("retention", "shared_retention", {}),
    ("retention", "invariance.", {}),
    ("representation", "rankme", {}),
)
REFERENCE_BLOCK = "Reference (untrained)"
REFERENCE_LABELS = {"random-init": "random-init encoder", "raw-pixels": "raw pixels"}


def _matches(task: str, metric: str, want_task: str, want_metric: str) -> bool:
    return task == want_task and (metric.startswith(want_metric) if want_metric.endswith(".") else
                                  metric == want_metric)


def wanted(task: str, metric: str, protocol_key: str) -> bool:
    """Whether a column belongs in the headline."""
    params = json.loads(protocol_key)
    return any(_matches(task, metric, t, m) and all(params.get(k) == v for k, v in p.items())
               for t, m, p in HEADLINE)


def column_order(col: tuple) -> tuple:
    rank = next(i for i, (t, m, _) in enumerate(HEADLINE) if _matches(col[0], col[3], t, m))
    return rank, col


def _agrees(reference_key: str, column_key: str) -> bool:
    """Whether a reference measurement has every parameter the column states (the encoder-describing keys
    aside); parameters the column does not state, such as those added to records after it was measured, do
    not count."""
    ref, col = json.loads(measurement_key(reference_key)), json.loads(measurement_key(column_key))
    return all(k in ref and ref[k] == v for k, v in col.items())


def _reference_cells(references: pd.DataFrame, backbone: str, col_keys: list[tuple]) -> dict[str, list[str]]:
    """Per reference run, its cell in each column (same measurement, the encoder-describing keys aside); the
    random-init encoder only under its own backbone."""
    if references.empty:
        return {}
    rows: dict[str, list[str]] = {}
    for run in REFERENCE_LABELS:
        mine = references[references["method"] == run]
        if run == "random-init":
            mine = mine[mine["backbone"] == backbone]
        if mine.empty:
            continue
        line = []
        for task, dataset, split, metric, key in col_keys:
            same = mine[(mine["task"] == task) & (mine["dataset"] == dataset) & (mine["split"] == split)
                        & (mine["metric"] == metric)]
            c = next((r for r in same.itertuples() if _agrees(r.protocol_key, key)), None)
            line.append(fmt_value(c.mean, c.std, c.n) if c is not None else "—")
        if any(cell != "—" for cell in line):
            rows[REFERENCE_LABELS[run]] = line
    return rows


def headline_tables(cells: pd.DataFrame, effects: pd.DataFrame,
                    references: pd.DataFrame | None = None) -> list[Table]:
    """``references``: cell summaries of the reference records (``method`` is the reference run name)."""
    references = references if references is not None else pd.DataFrame()
    tables = []
    for group, sub in cells.groupby(list(GROUP_KEYS), sort=True):
        keep = sub[[wanted(r.task, r.metric, r.protocol_key) for r in sub.itertuples()]]
        if keep.empty:
            continue
        col_keys = sorted({tuple(r) for r in keep[list(COLUMN_KEYS)].values}, key=column_order)
        lookup = {(r.method, r.regularizer, *[getattr(r, k) for k in COLUMN_KEYS]): r for r in keep.itertuples()}
        eff = effects
        if not effects.empty:
            eff = effects[(effects[list(GROUP_KEYS)] == pd.Series(dict(zip(GROUP_KEYS, group)))).all(axis=1)]
        eff_lookup = {(r.method, *[getattr(r, k) for k in COLUMN_KEYS]): r for r in eff.itertuples()}
        rows, grid, diff_rows, diff_grid = [], [], [], []
        for method in sorted(keep["method"].unique()):
            regs = sorted(keep[keep["method"] == method]["regularizer"].unique(), key=lambda g: (g != "none", g))
            for reg in regs:
                rows.append(row_label(method, reg))
                grid.append([fmt_value(c.mean, c.std, c.n) if (c := lookup.get((method, reg, *col))) is not None
                             else "—" for col in col_keys])
            if any((method, *col) in eff_lookup for col in col_keys):
                diff_rows.append(f"{method}+MCR − {method}")
                diff_grid.append([fmt_effect(e.diff, e.ci_low, e.ci_high, e.pairs, e.significant)
                                  if (e := eff_lookup.get((method, *col))) is not None else "—" for col in col_keys])
        blocks = []
        refs = _reference_cells(references, group[1], col_keys)
        if refs:
            blocks.append((len(rows), REFERENCE_BLOCK))
            rows += list(refs)
            grid += list(refs.values())
        if diff_rows:
            blocks.append((len(rows), EFFECT_BLOCK))
            rows += diff_rows
            grid += diff_grid
        names, notes, shared = column_legend(col_keys)
        tables.append(Table(f"Headline · {group_title(*group)}", names, rows, grid, notes, shared, blocks))
    return tables
