"""The plain-words verdict that opens a report: five lines, read from the same cells as the headline.

1. what was compared; 2. the class accuracy of every row beside the reference rows (and chance, when known);
3. the paired MCR − baseline differences with their 95% intervals, in words; 4. whether the trained encoders
clear the floor (random-init encoder, raw pixels; Saxe et al. 2011, Coates et al. 2011); 5. the scale caveat.
"""

from __future__ import annotations

import json

import pandas as pd

from mcr_eval.reports.headers import row_label
from mcr_eval.reports.headline import REFERENCE_LABELS
from mcr_eval.reports.tables import fmt_number

CLASS_COLUMNS = (("knn", "top1", {"k": 200}, "kNN k=200 top-1"), ("linear", "top1", {}, "linear top-1"))
CLEARLY_ABOVE = 0.05  # accuracy points above chance that count as "leaves chance"
SCALE_CAVEAT = ("These are small runs: they test the direction of the paper's claim (2-4 points more linear "
                "accuracy with MCR) on these data, not its numbers.")


def _column(frame: pd.DataFrame, task: str, metric: str, params: dict) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame()
    sub = frame[(frame["task"] == task) & (frame["metric"] == metric)]
    keep = sub["protocol_key"].map(lambda k: all(json.loads(k).get(p) == v for p, v in params.items()))
    return sub[keep.astype(bool)]


def _words(diff: float, low: float, high: float, pairs: int) -> str:
    if pairs < 2:
        return f"{diff:+.3f} (1 seed pair, no interval)"
    call = "higher with MCR" if low > 0 else "lower with MCR" if high < 0 else "no clear difference"
    return f"{diff:+.3f} [{low:+.3f}, {high:+.3f}], {call}"


def _compared(cells: pd.DataFrame) -> str:
    parts = []
    for method, sub in cells.groupby("method", sort=True):
        regs = set(sub["regularizer"])
        sides = ("with and without MCR" if {"none", "mcr"} <= regs else "with MCR only" if "mcr" in regs
                 else "without MCR")
        seeds = int(sub["n"].max())
        parts.append(f"{method} {sides} ({seeds} seed{'s' if seeds != 1 else ''} each)")
    data = ", ".join(sorted(cells["pretrain_data"].astype(str).unique()))
    return f"Compared: {'; '.join(parts)}, pretrained on {data}."


def verdict_lines(cells: pd.DataFrame, effects: pd.DataFrame, references: pd.DataFrame | None = None,
                  chance: float | None = None) -> list[str]:
    """Five plain sentences about the cell summaries, paired effects and reference cells of a report."""
    lines = [_compared(cells)]
    task, metric, params, name = next(((t, m, p, n) for t, m, p, n in CLASS_COLUMNS
                                       if not _column(cells, t, m, p).empty), (None, None, None, None))
    if task is None:
        return lines + ["No kNN or linear top-1 records: this report says nothing about class accuracy.",
                        "The tables below hold what was measured, with their protocols in the legends.",
                        "Reference rows compare only kNN and linear top-1, so none are shown.", SCALE_CAVEAT]
    col = _column(cells, task, metric, params)
    ordered = sorted(col.itertuples(), key=lambda r: (r.method, r.regularizer != "none", r.regularizer))
    rows = {row_label(r.method, r.regularizer): r.mean for r in ordered}
    ref_means = {r.method: r.mean for r in _column(references, task, metric, params).itertuples()}
    refs = {label: ref_means[run] for run, label in REFERENCE_LABELS.items() if run in ref_means}
    shown = ", ".join(f"{k} {fmt_number(v)}" for k, v in rows.items())
    shown += "".join(f"; {k} {fmt_number(v)}" for k, v in refs.items())
    shown += f"; chance {fmt_number(chance)}" if chance is not None else ""
    lines.append(f"Class accuracy ({name}): {shown}.")
    eff = _column(effects, task, metric, params) if not effects.empty else pd.DataFrame()
    if eff.empty:
        lines.append("No method has both a baseline and an MCR run, so no MCR effect is measured.")
    else:
        said = [f"{r.method} {_words(r.diff, r.ci_low, r.ci_high, r.pairs)}" for r in eff.itertuples()]
        lines.append(f"MCR − base on {name}, paired by seed with 95% intervals: {'; '.join(said)}.")
    lines.append(_floors(rows, refs, chance))
    lines.append(SCALE_CAVEAT)
    return lines


def _floors(rows: dict[str, float], refs: dict[str, float], chance: float | None) -> str:
    said = []
    if chance is not None:
        low = [k for k, v in rows.items() if v - chance < CLEARLY_ABOVE]
        said.append("every trained encoder clearly leaves chance" if not low else
                    f"{', '.join(low)} {'stays' if len(low) == 1 else 'stay'} within "
                    f"{CLEARLY_ABOVE:.2f} of chance")
    for ref, floor in refs.items():
        below = [k for k, v in rows.items() if v <= floor]
        said.append(f"every trained encoder beats the {ref}" if not below else
                    f"{', '.join(below)} {'does' if len(below) == 1 else 'do'} not beat the {ref}")
    if not refs:
        said.append("no reference rows were evaluated (random-init encoder, raw pixels), so there is no floor "
                    "to read these numbers against")
    text = "; ".join(said)
    return text[0].upper() + text[1:] + "."
