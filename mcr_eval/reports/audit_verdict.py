"""The paired audit verdict: per factor, did MCR keep more of it than its baseline?

From audit v2 records (:mod:`mcr_eval.audit.report`): for each base method with baseline and MCR runs, one
row per scene factor with the factor's chance and input-pixel scores, both sides' mean kernel-probe score, the
seed-paired difference MCR − base with its 95% Student-t interval (:mod:`.statistics`), and one word: **kept
more** or **kept less** when the interval excludes 0, else **no detectable difference**.

The word pairs the probe scores, not the retention: retention clips at the input's score, which a trained
encoder can exceed (a probe of fixed capacity reads position better from good features than from raw
pixels), so two encoders that both pass it would tie at 1.0 whatever they keep. Every factor has a probe
score, so shape and texture, which have no retention at 32 px, are compared too. Non-shared factors (those the
training views destroy, the ones MCR is meant to keep) come first.
"""

from __future__ import annotations

import json

import pandas as pd

from mcr_eval.audit.probes import FAMILY_PROTOCOL
from mcr_eval.reports.records_table import GROUP_KEYS
from mcr_eval.reports.tables import Table, fmt_effect

KEPT_MORE, KEPT_LESS, NO_DIFFERENCE, TOO_FEW = "kept more", "kept less", "no detectable difference", "too few pairs"
SCORE = "probe."
ROLE_ORDER = {"non-shared": 0, "shared": 1}
#: The columns before the two sides' scores; the baseline's column, named after its method, comes next.
LEADING_COLUMNS = ["role", "chance", "input"]
LEGEND = ("kernel-probe accuracy (R² for pos_x and pos_y) on each side's features, seed mean; chance: the "
          "majority class (0 for R²); input: the same probe on the input pixels; MCR − base: seed-paired "
          "difference of the scores with its 95% t-interval, * excludes 0. Scores, not retention, are paired: "
          "retention clips at the input's score, which trained features can exceed")


def word(effect: pd.Series) -> str:
    """One word for a paired effect row (``diff``, ``ci_low``, ``ci_high``, ``pairs``)."""
    if effect["pairs"] < 2:
        return TOO_FEW
    if effect["ci_low"] > 0:
        return KEPT_MORE
    if effect["ci_high"] < 0:
        return KEPT_LESS
    return NO_DIFFERENCE


def _v2_kernel(protocol_key: str) -> bool:
    params = json.loads(protocol_key)
    return params.get("audit") == "v2" and params.get("probe") == FAMILY_PROTOCOL["kernel"]


def _roles(frame: pd.DataFrame) -> dict[tuple[str, str], str]:
    """``(method, factor) -> role`` from the records' protocols (the role depends on the training views, so
    it is not part of a column's protocol key)."""
    rows = frame[(frame["task"] == "retention") & (frame["regularizer"] == "none")]
    return {(m, metric.partition(".")[2]): str(p.get("role", ""))
            for m, metric, p in zip(rows["method"], rows["metric"], rows["protocol"])}


def _factor_effects(effects: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """The paired kernel-probe score effects, one row per factor (the control label left out)."""
    rows = effects[(effects["task"] == "retention") & effects["metric"].str.startswith(SCORE)
                   & effects["protocol_key"].map(_v2_kernel)].copy()
    if rows.empty:
        return rows
    rows["factor"] = rows["metric"].str.partition(".")[2]
    roles = _roles(frame)
    rows["role"] = [roles.get((m, f), "") for m, f in zip(rows["method"], rows["factor"])]
    return rows[rows["role"] != "control"]


def _mean(cells: pd.DataFrame, effect: pd.Series, regularizer: str, metric: str) -> str:
    match = cells[(cells["method"] == effect["method"]) & (cells["regularizer"] == regularizer)
                  & (cells["metric"] == metric) & (cells["protocol_key"] == effect["protocol_key"])
                  & (cells["dataset"] == effect["dataset"])]
    for key in GROUP_KEYS:
        match = match[match[key] == effect[key]]
    return f"{match['mean'].iloc[0]:.3f}" if not match.empty else "—"


def audit_verdict_tables(cells: pd.DataFrame, effects: pd.DataFrame, frame: pd.DataFrame,
                         treatment: str = "mcr") -> list[Table]:
    """One table per (pretraining group, base method) that has paired audit v2 records; ``frame`` holds the
    records themselves (for each factor's role)."""
    if effects.empty or cells.empty:
        return []
    rows = _factor_effects(effects, frame)
    tables = []
    for key, sub in rows.groupby([*GROUP_KEYS, "method"], sort=True):
        method = key[-1]
        sub = sub.assign(order=sub["role"].map(ROLE_ORDER).fillna(2)).sort_values(["order", "factor"])
        cells_out = []
        for _, effect in sub.iterrows():
            factor = effect["factor"]
            cells_out.append([effect["role"], _mean(cells, effect, "none", f"chance.{factor}"),
                              _mean(cells, effect, "none", f"ceiling.{factor}"),
                              _mean(cells, effect, "none", effect["metric"]),
                              _mean(cells, effect, treatment, effect["metric"]),
                              fmt_effect(effect["diff"], effect["ci_low"], effect["ci_high"], int(effect["pairs"]),
                                         bool(effect["significant"])), word(effect)])
        pairs = int(sub["pairs"].max())
        tables.append(Table(
            title=f"Audit v2 · what {method}+MCR kept next to {method}, per factor · {pairs} seed pairs",
            columns=[*LEADING_COLUMNS, method, f"{method}+MCR", "MCR − base", "verdict"],
            rows=list(sub["factor"]), cells=cells_out, shared=LEGEND))
    return tables


def audit_verdict_line(tables: list[Table]) -> list[str]:
    """A verdict line per table: which non-shared factors MCR kept more or less of."""
    lines = []
    for table in tables:
        method = table.columns[len(LEADING_COLUMNS)]
        non_shared = [(row, cell[-1]) for row, cell in zip(table.rows, table.cells) if cell[0] == "non-shared"]
        if not non_shared:
            continue
        more = [r for r, w in non_shared if w == KEPT_MORE]
        less = [r for r, w in non_shared if w == KEPT_LESS]
        same = [r for r, w in non_shared if w in (NO_DIFFERENCE, TOO_FEW)]
        parts = [f"kept more of {', '.join(more)}" if more else "",
                 f"kept less of {', '.join(less)}" if less else "",
                 f"made no detectable difference on {', '.join(same)}" if same else ""]
        lines.append(f"Audit v2, non-shared factors ({method}): MCR " + "; ".join(p for p in parts if p) + ".")
    return lines
