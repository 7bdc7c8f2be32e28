"""Retention records (docs/contracts.md §2), Markdown/CSV tables and heat-maps.

Metric names of the ``retention`` records (audit v2; every protocol carries ``audit: v2`` and its probe
family, ``rbf-nystroem-ridge-loo`` or ``ridge-loo``): per factor, ``probe.<factor>``, ``probe_std.<factor>``
(std over folds), ``ceiling.<factor>`` and ``retention.<factor>`` of the nonlinear (kernel) probe, the same
with a ``linear_`` prefix for the linear probe (the protocol carries ``factor``, ``role`` and ``kind``:
accuracy or r2), ``chance.<factor>``, ``ref_raw_pixels.<factor>``, ``ref_random_init.<factor>`` (linear
probe), ``sensitivity.<factor>``, ``cf_accuracy.<factor>``, ``cf_chance.<factor>``; per encoder,
``non_shared_retention`` and ``shared_retention`` (kernel, the headline), ``linear_non_shared_retention``,
``linear_shared_retention``, ``dci_disentanglement``, ``dci_completeness``, ``dci_informativeness``,
``mig``, ``sap``; on real images ``invariance.<transform>``. Audit v1 records (before the ceiling and the
kernel probe) carry no ``audit`` key and ``probe: ridge-loo``; reports name their summary "Linear retention
(v1)".
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mcr_eval.audit.probes import FAMILY_PROTOCOL
from mcr_eval.audit.retention import HEADLINE_FAMILY, RetentionAudit
from mcr_eval.audit.runner import ALWAYS_VISIBLE
from mcr_eval.checkpoints.safe_io import atomic_write
from mcr_eval.records import make_record, run_fields

PROBE_PROTOCOL = ("kernel: RBF kernel ridge on Nystroem features, linear: ridge; width and penalty by "
                  "leave-one-out; {folds}-fold CV mean; ceiling: the same probe on the {size} px input pixels")
COLUMNS = ("factor", "role", "kind", "probe", "std", "ceiling", "retention", "supervised", "vs_supervised",
           "linear_probe", "linear_ceiling",
           "linear_retention", "chance", "raw_pixels", "random_init", "sensitivity", "cf_accuracy", "cf_chance",
           "why_undefined")
DISENTANGLEMENT_PROTOCOL = {"dci": "lasso importances, 1/3 held out (Eastwood & Williams 2018)",
                            "mig": "20 equal-width bins (Chen et al. 2018)",
                            "sap": "one-feature predictors, 1/3 held out (Kumar et al. 2018)"}
DISENTANGLEMENT = (("dci_disentanglement", "DCI D"), ("dci_completeness", "DCI C"),
                   ("dci_informativeness", "DCI I"), ("mig", "MIG"), ("sap", "SAP"))


def _mean(score: Any) -> float | None:
    return None if score is None else score.mean


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def table_rows(audit: RetentionAudit) -> list[dict[str, Any]]:
    """One dict per factor with the :data:`COLUMNS` keys (None where a value does not exist)."""
    rows = []
    for row in audit.rows:
        cf = audit.interventions.get(row.factor, {})
        refs = row.references
        linear = row.scores.get("linear")
        rows.append({
            "factor": row.factor, "role": row.role, "kind": row.probe.metric, "probe": row.probe.mean,
            "std": row.probe.std, "ceiling": _mean(row.scores[HEADLINE_FAMILY].ceiling),
            "retention": row.retention, "supervised": _mean(row.scores[HEADLINE_FAMILY].supervised),
            "vs_supervised": row.scores[HEADLINE_FAMILY].vs_supervised,
            "linear_probe": linear.probe.mean if linear else None,
            "linear_ceiling": _mean(linear.ceiling) if linear else None,
            "linear_retention": linear.retention if linear else None, "chance": row.probe.chance,
            "raw_pixels": refs["raw_pixels"].mean if "raw_pixels" in refs else None,
            "random_init": refs["random_init"].mean if "random_init" in refs else None,
            "sensitivity": cf.get("sensitivity"), "cf_accuracy": cf.get("cf_accuracy"),
            "cf_chance": cf.get("cf_chance"), "why_undefined": row.why_undefined,
        })
    return rows


def _summary_line(audit: RetentionAudit) -> str:
    line = (f"**non-shared retention {_fmt(audit.non_shared_retention)}**, shared retention "
            f"{_fmt(audit.shared_retention)} (kernel probe)")
    if "linear" in audit.summaries:
        linear = audit.summaries["linear"]
        line += f"; linear probe: {_fmt(linear['non-shared'])} and {_fmt(linear['shared'])}"
    return line


def _legend(audit: RetentionAudit) -> str:
    protocol = PROBE_PROTOCOL.format(folds=audit.folds, size=audit.size)
    return (f"¹ clip((probe − chance) / (ceiling − chance), 0, 1). ² {protocol}; accuracy, or R² for pos_x and "
            f"pos_y; {audit.n} scenes; views `{audit.views or 'n/a'}` destroy "
            f"{', '.join(audit.destroyed) or 'nothing'}. ³ The same probe on the input pixels: what there is to "
            "keep. ⁴ The same formula with the probe on a supervised network in place of the ceiling: how readable "
            "the encoder makes the factor next to supervision (not kept information). ⁵ Linear probe on the "
            "image pooled to 16 × 16 px and on a random-init encoder: references to read against. "
            "⁶ Counterfactual shift / random-pair distance (l2-normalized features).")


def markdown_table(name: str, audit: RetentionAudit) -> str:
    """The per-factor table of one encoder: summary first, then the rows, then the legend."""
    lines = [f"### {name}", "", _summary_line(audit), "",
             "| factor | role | retention¹ | kernel probe² | ceiling³ | vs supervised⁴ | linear retention | "
             "linear probe² | linear ceiling³ | chance | raw pixels⁵ | random init⁵ | sensitivity⁶ |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for r in table_rows(audit):
        retention = _fmt(r["retention"])
        if r["why_undefined"]:
            notes.append(f"\\* {r['factor']}: {r['why_undefined']}.")
            retention = "—\\*"
        lines.append(f"| {r['factor']} | {r['role']} | {retention} | {_fmt(r['probe'])} ± {_fmt(r['std'])} | "
                     f"{_fmt(r['ceiling'])} | {_fmt(r['vs_supervised'])} | {_fmt(r['linear_retention'])} | "
                     f"{_fmt(r['linear_probe'])} | {_fmt(r['linear_ceiling'])} | {_fmt(r['chance'])} | "
                     f"{_fmt(r['raw_pixels'])} | {_fmt(r['random_init'])} | {_fmt(r['sensitivity'])} |")
    if audit.disentanglement:
        lines += ["", "Disentanglement against the always-visible factors: " + ", ".join(
            f"{label} {_fmt(audit.disentanglement.get(key))}" for key, label in DISENTANGLEMENT) + "."]
    return "\n".join(lines + ["", _legend(audit), *notes, ""])


def factor_matrix(audits: Mapping[str, RetentionAudit]) -> str:
    """Factors x encoders: kernel-probe retention per factor, the two summaries last."""
    first = next(iter(audits.values()))
    factors = [r for r in first.rows if r.role != "control"]
    names = list(audits)
    lines = ["| factor | role | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for row in factors:
        cells = ["—" if a.row(row.factor).retention is None else f"{a.row(row.factor).retention:.2f}"
                 for a in audits.values()]
        lines.append(f"| {row.factor} | {row.role} | " + " | ".join(cells) + " |")
    for label, attr in (("**non-shared retention**", "non_shared_retention"), ("shared retention", "shared_retention")):
        lines.append(f"| {label} | | " + " | ".join(_fmt(getattr(a, attr), 2) for a in audits.values()) + " |")
    undefined = [r.factor for r in factors if r.why_undefined]
    note = (f" —: no retention, since no probe reads {' or '.join(undefined)} from the {first.size} px input "
            "(the per-encoder tables say why and give the score against the supervised reference)."
            if undefined else "")
    return "\n".join(lines + ["", "Retention: the kernel probe's score between chance (0) and the same probe on "
                                   f"the input pixels (1); roles under the training views.{note}"])


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
    base = {"audit": "v2", "folds": audit.folds, "views": audit.views, "destroyed": audit.destroyed,
            "input": "pixel space, encoder normalization", "ceiling": f"same probe on the {audit.size} px input"}
    records = []

    def add(metric: str, value: float | None, n: int, family: str = HEADLINE_FAMILY, **extra: Any) -> None:
        if value is not None:
            protocol = {**base, "probe": FAMILY_PROTOCOL[family], **extra}
            records.append(make_record(run, "retention", dataset, "test", protocol, metric, value, n))

    for row in audit.rows:
        # Measured quantities are metrics of their own; the protocol holds only what defines the number.
        extra = {"role": row.role, "kind": row.probe.metric, "factor": row.factor}
        for family, score in row.scores.items():
            prefix = "" if family == HEADLINE_FAMILY else f"{family}_"
            add(f"{prefix}probe.{row.factor}", score.probe.mean, score.probe.n, family, **extra)
            add(f"{prefix}probe_std.{row.factor}", score.probe.std, score.probe.n, family, **extra)
            add(f"{prefix}ceiling.{row.factor}", _mean(score.ceiling), score.probe.n, family, **extra)
            add(f"{prefix}retention.{row.factor}", score.retention, score.probe.n, family, **extra)
            add(f"{prefix}supervised.{row.factor}", _mean(score.supervised), score.probe.n, family, **extra)
            add(f"{prefix}vs_supervised.{row.factor}", score.vs_supervised, score.probe.n, family, **extra)
        add(f"chance.{row.factor}", row.probe.chance, row.probe.n, **extra)
        for ref, score in row.references.items():
            add(f"ref_{ref}.{row.factor}", score.mean, score.n, "linear", **extra)
        cf = audit.interventions.get(row.factor)
        if cf:
            add(f"sensitivity.{row.factor}", cf["sensitivity"], cf["n"], **extra)
            add(f"cf_accuracy.{row.factor}", cf["cf_accuracy"], cf["n"], **extra)
            add(f"cf_chance.{row.factor}", cf["cf_chance"], cf["n"], **extra)
    for family, summary in audit.summaries.items():
        prefix = "" if family == HEADLINE_FAMILY else f"{family}_"
        add(f"{prefix}non_shared_retention", summary["non-shared"], audit.n, family)
        add(f"{prefix}shared_retention", summary["shared"], audit.n, family)
    for metric, value in audit.disentanglement.items():
        protocol = {"audit": "v2", "views": audit.views, "factors": list(ALWAYS_VISIBLE),
                    "estimator": DISENTANGLEMENT_PROTOCOL[metric.partition("_")[0]]}
        records.append(make_record(run, "retention", dataset, "test", protocol, metric, value, audit.n))
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
        text = ["# Feature-retention audit (v2)", "", factor_matrix(audits), ""]
        text += [markdown_table(n, a) for n, a in audits.items()]
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
