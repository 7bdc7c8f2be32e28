"""Retention records (docs/contracts.md §2), Markdown/CSV tables and heat-maps.

Metric names of the ``retention`` records: ``probe.<factor>`` (its protocol carries ``factor``,
``role`` and ``kind``: accuracy or r2), ``probe_std.<factor>`` (std over folds), ``chance.<factor>``,
``ref_raw_pixels.<factor>``, ``ref_random_init.<factor>``, ``retention.<factor>``, ``sensitivity.<factor>``,
``cf_accuracy.<factor>``, ``cf_chance.<factor>``,
``non_shared_retention``, ``shared_retention`` and ``invariance.<transform>``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mcr_eval.audit.retention import RetentionAudit
from mcr_eval.checkpoints.safe_io import atomic_write
from mcr_eval.records import make_record, run_fields

PROBE_PROTOCOL = "ridge probe, penalty by leave-one-out, {folds}-fold CV mean (std over folds)"
COLUMNS = ("factor", "role", "kind", "probe", "std", "chance", "raw_pixels", "random_init", "retention",
           "sensitivity", "cf_accuracy", "cf_chance")


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def table_rows(audit: RetentionAudit) -> list[dict[str, Any]]:
    """One dict per factor with the :data:`COLUMNS` keys (None where a value does not exist)."""
    rows = []
    for row in audit.rows:
        cf = audit.interventions.get(row.factor, {})
        refs = row.references
        rows.append({
            "factor": row.factor, "role": row.role, "kind": row.probe.metric, "probe": row.probe.mean,
            "std": row.probe.std, "chance": row.probe.chance,
            "raw_pixels": refs["raw_pixels"].mean if "raw_pixels" in refs else None,
            "random_init": refs["random_init"].mean if "random_init" in refs else None,
            "retention": row.retention, "sensitivity": cf.get("sensitivity"),
            "cf_accuracy": cf.get("cf_accuracy"), "cf_chance": cf.get("cf_chance"),
        })
    return rows


def markdown_table(name: str, audit: RetentionAudit) -> str:
    """The headline per-factor table of one encoder, with its protocol and summary line."""
    lines = [f"### {name}", "",
             f"Protocol: {PROBE_PROTOCOL.format(folds=audit.folds)} on {audit.n} factor scenes; views "
             f"`{audit.views or 'n/a'}`, destroyed: {', '.join(audit.destroyed) or 'none'}. "
             "Sensitivity: counterfactual shift / random-pair distance (l2-normalized features).", "",
             "| factor | role | probe (acc / R^2) | chance | raw pixels | random init | retention | "
             "sensitivity | cf probe acc (chance) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table_rows(audit):
        lines.append(f"| {r['factor']} | {r['role']} | {_fmt(r['probe'])} ± {_fmt(r['std'])} ({r['kind']}) | "
                     f"{_fmt(r['chance'])} | {_fmt(r['raw_pixels'])} | {_fmt(r['random_init'])} | "
                     f"{_fmt(r['retention'], 2)} | {_fmt(r['sensitivity'])} | "
                     f"{_fmt(r['cf_accuracy'])} ({_fmt(r['cf_chance'], 2)}) |")
    lines += ["", f"**non-shared retention {_fmt(audit.non_shared_retention, 2)}**, "
                  f"shared retention {_fmt(audit.shared_retention, 2)}", ""]
    return "\n".join(lines)


def csv_text(audits: Mapping[str, RetentionAudit]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=("encoder",) + COLUMNS)
    writer.writeheader()
    for name, audit in audits.items():
        for row in table_rows(audit):
            writer.writerow({"encoder": name, **{k: ("" if v is None else v) for k, v in row.items()}})
    return buffer.getvalue()


def retention_records(meta: Mapping[str, Any], audit: RetentionAudit, dataset: str) -> list[dict[str, Any]]:
    """``retention`` records of one audited encoder (run/seed fields from its metadata)."""
    run = run_fields(meta)
    base = {"probe": "ridge-loo", "folds": audit.folds, "views": audit.views, "destroyed": audit.destroyed,
            "input": "pixel space, encoder normalization"}
    records = []

    def add(metric: str, value: float | None, n: int, **extra: Any) -> None:
        if value is not None:
            records.append(make_record(run, "retention", dataset, "test", {**base, **extra}, metric, value, n))

    for row in audit.rows:
        # Measured quantities are metrics of their own; the protocol holds only what defines the number.
        extra = {"role": row.role, "kind": row.probe.metric, "factor": row.factor}
        add(f"probe.{row.factor}", row.probe.mean, row.probe.n, **extra)
        add(f"probe_std.{row.factor}", row.probe.std, row.probe.n, **extra)
        add(f"chance.{row.factor}", row.probe.chance, row.probe.n, **extra)
        for ref, score in row.references.items():
            add(f"ref_{ref}.{row.factor}", score.mean, score.n, **extra)
        add(f"retention.{row.factor}", row.retention, row.probe.n, **extra)
        cf = audit.interventions.get(row.factor)
        if cf:
            add(f"sensitivity.{row.factor}", cf["sensitivity"], cf["n"], **extra)
            add(f"cf_accuracy.{row.factor}", cf["cf_accuracy"], cf["n"], **extra)
            add(f"cf_chance.{row.factor}", cf["cf_chance"], cf["n"], **extra)
    add("non_shared_retention", audit.non_shared_retention, audit.n)
    add("shared_retention", audit.shared_retention, audit.n)
    return records


def invariance_records(meta: Mapping[str, Any], scores: Mapping[str, float], dataset: str,
                       n: int) -> list[dict[str, Any]]:
    run = run_fields(meta)
    protocol = {"features": "l2-normalized", "score": "1 - mean shift / mean random-pair distance"}
    return [make_record(run, "retention", dataset, "test", {**protocol, "transform": name},
                        f"invariance.{name}", value, n) for name, value in scores.items()]


def heatmap_png(path: Path, values: np.ndarray, rows: Sequence[str], cols: Sequence[str], title: str,
                vmin: float = 0.0, vmax: float = 1.0) -> Path:
    """A labelled heat-map (NaN cells grey, values written in the cells), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(cols), 1.2 + 0.45 * len(rows)))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#bbbbbb")
    ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            colour = "black" if value > vmin + 0.6 * (vmax - vmin) else "white"
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)
    return Path(path)


def write_report(folder: Path, audits: Mapping[str, RetentionAudit],
                 invariance: Mapping[str, Mapping[str, float]] | None = None) -> list[Path]:
    """``retention.md``, ``retention.csv``, ``retention.png`` (and ``invariance.png``) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if audits:
        names = list(audits)
        text = ["# Feature-retention audit", ""]
        text += ["| encoder | non-shared retention | shared retention |", "|---|---|---|"]
        text += [f"| {n} | {_fmt(a.non_shared_retention, 2)} | {_fmt(a.shared_retention, 2)} |"
                 for n, a in audits.items()]
        text += [""] + [markdown_table(n, a) for n, a in audits.items()]
        written.append(atomic_write(folder / "retention.md", lambda tmp: Path(tmp).write_text("\n".join(text))))
        written.append(atomic_write(folder / "retention.csv", lambda tmp: Path(tmp).write_text(csv_text(audits))))
        factors = [r.factor for r in audits[names[0]].rows if r.role != "control"]
        labels = [f"{f} ({audits[names[0]].row(f).role[0].upper()})" for f in factors]
        grid = np.array([[np.nan if a.row(f).retention is None else a.row(f).retention for f in factors]
                         for a in audits.values()])
        written.append(heatmap_png(folder / "retention.png", grid, names, labels,
                                   "normalized retention per factor (N = non-shared, S = shared)"))
    if invariance:
        transforms = list(next(iter(invariance.values())))
        grid = np.array([[scores[t] for t in transforms] for scores in invariance.values()])
        written.append(heatmap_png(folder / "invariance.png", grid, list(invariance), transforms,
                                   "invariance to transformation counterfactuals", vmin=min(0.0, grid.min())))
    return written
