"""Report figures (matplotlib, PNG): metric bars with error bars, retention heat-maps, training curves."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Collection
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mcr_eval.reports.headers import epochs_text, row_label  # noqa: E402
from mcr_eval.reports.headline import column_order, wanted  # noqa: E402
from mcr_eval.reports.records_table import GROUP_KEYS  # noqa: E402
from mcr_eval.reports.statistics import COLUMN_KEYS  # noqa: E402
from mcr_eval.reports.tables import column_legend  # noqa: E402

MAX_PANELS = 24


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-")[:80]


def metric_bars(cells: pd.DataFrame, out_dir: Path) -> list[Path]:
    """One figure per table group: a panel per headline column (short name as title; the protocols are in the
    tables' legends), a bar per row, error bars = std over seeds."""
    paths = []
    for group, sub in cells.groupby(list(GROUP_KEYS), sort=True):
        columns = sorted({tuple(r) for r in sub[list(COLUMN_KEYS)].values if wanted(r[0], r[3], r[4])},
                         key=column_order)[:MAX_PANELS]
        if not columns:
            continue
        names, _, _ = column_legend(columns)
        ncols = min(3, len(columns))
        nrows = math.ceil(len(columns) / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
        for ax, col, name in zip(axes.flat, columns, names):
            mask = np.logical_and.reduce([sub[k] == v for k, v in zip(COLUMN_KEYS, col)])
            data = sub[mask].assign(_treated=sub["regularizer"] != "none").sort_values(["method", "_treated"])
            labels = [row_label(m, r) for m, r in zip(data["method"], data["regularizer"])]
            colors = ["#4C72B0" if r == "none" else "#DD8452" for r in data["regularizer"]]
            ax.bar(range(len(data)), data["mean"], yerr=data["std"].fillna(0), color=colors, capsize=4)
            ax.set_xticks(range(len(data)), labels, rotation=30, ha="right", fontsize=8)
            ax.set_title(name, fontsize=10)
        for ax in list(axes.flat)[len(columns):]:
            ax.axis("off")
        title = f"{group[0]}, {epochs_text(group[2])} epochs: mean ± std over seeds (blue: baseline, orange: MCR)"
        fig.suptitle(textwrap.fill(title, width=int(14 * fig.get_figwidth())), fontsize=9)
        fig.tight_layout()
        path = out_dir / f"bars_{_slug('_'.join(map(str, group)))}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def retention_heatmap(frame: pd.DataFrame, out_dir: Path, quantity: str = "retention") -> list[Path]:
    """Factors x encoders of the audit's ``<quantity>.<factor>`` records; non-shared factors first."""
    ret = frame[(frame["task"] == "retention") & frame["metric"].str.startswith(quantity + ".")
                & frame["protocol"].map(lambda p: "factor" in p)]
    if ret.empty:
        return []
    ret = ret.assign(factor=ret["protocol"].map(lambda p: p["factor"]),
                     shared=ret["protocol"].map(lambda p: p.get("role") == "shared"),
                     encoder=[row_label(m, r) for m, r in zip(ret["method"], ret["regularizer"])])
    table = ret.groupby(["factor", "encoder"])["value"].mean().unstack("encoder")
    shared = ret.groupby("factor")["shared"].first()
    table = table.loc[sorted(table.index, key=lambda f: (bool(shared[f]), f))]
    fig, ax = plt.subplots(figsize=(1.4 * table.shape[1] + 3.5, 0.45 * table.shape[0] + 1.6))
    im = ax.imshow(table.values, cmap="viridis", aspect="auto", vmin=0, vmax=max(1.0, np.nanmax(table.values)))
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(table.shape[0]),
                  [f"{f} ({'shared' if shared[f] else 'non-shared'})" for f in table.index], fontsize=8)
    for (i, j), v in np.ndenumerate(table.values):
        if not np.isnan(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.5 else "black")
    fig.colorbar(im, ax=ax)
    ax.set_title(f"{quantity} per factor (mean over seeds)", fontsize=9)
    fig.tight_layout()
    path = out_dir / f"heatmap_{_slug(quantity)}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def _scalar_curves(log_dirs: list[Path], tags: tuple[str, ...],
                   runs: Collection[str] | None = None) -> dict[str, tuple[list[int], list[float]]]:
    """Per run (first folder below each log root; only ``runs`` when given): the first of ``tags`` its
    TensorBoard events hold."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    merged: dict[str, dict[int, float]] = {}
    for root in log_dirs:
        for event_dir in sorted({p.parent for p in Path(root).rglob("events.out.tfevents.*")}):
            name = str(event_dir.relative_to(Path(root)).parts[0]) if event_dir != Path(root) else root.name
            if runs is not None and name not in runs:
                continue
            acc = EventAccumulator(str(event_dir), size_guidance={"scalars": 0})
            acc.Reload()
            available = acc.Tags().get("scalars", [])
            tag = next((t for want in tags for t in available if t == want or t.endswith("/" + want)), None)
            if tag is not None:
                # A resumed run logs each sitting in its own folder (sorted by start time): a later sitting
                # redoes the steps after the checkpoint it resumed from, so its values replace the earlier ones.
                merged.setdefault(name, {}).update({e.step: e.value for e in acc.Scalars(tag)})
    return {name: (sorted(points), [points[k] for k in sorted(points)]) for name, points in merged.items()}


def method_of(run: str) -> str:
    return run.split("-")[0]


def _plot_curves(curves: dict, path: Path, ylabel: str, title: str, marker: str | None = None,
                 panel_of: Callable[[str], str] = method_of) -> Path:
    # One panel per method by default (losses of different methods are on different scales); MCR runs dashed.
    panels: dict[str, list[str]] = {}
    for name in sorted(curves):
        panels.setdefault(panel_of(name), []).append(name)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (method, names) in zip(axes[0], panels.items()):
        for i, name in enumerate(names):
            steps, values = curves[name]
            ax.plot(steps, values, label=name, linewidth=1, linestyle="--" if "-mcr" in name else "-",
                    color=plt.cm.tab10(i % 10), marker=marker, markersize=3)
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        ax.set_title(method, fontsize=9)
        ax.legend(fontsize=6)
    # About 14 characters of 9 pt text per inch: wrapped, a long title stays inside a one-panel figure.
    fig.suptitle(textwrap.fill(title, width=int(14 * fig.get_figwidth())), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def training_curves(log_dirs: list[Path], out_dir: Path, runs: Collection[str] | None = None) -> list[Path]:
    """Plot each run's SSL loss from its TensorBoard logs (of ``runs`` only when given: a log folder borrowed
    from another study holds runs this report does not cover), and its online kNN accuracy where logged.

    Regularized runs log the base loss as ``ssl`` and the regularized total as ``loss``; ``ssl`` is
    plotted when present, so baseline and MCR curves show the same quantity. ``knn/top1`` comes from the
    online monitor (``knn_monitor`` in training configs, :class:`mcr_eval.hooks.KnnMonitorHook`).
    """
    paths = []
    if curves := _scalar_curves(log_dirs, ("ssl", "loss"), runs):
        paths.append(_plot_curves(curves, out_dir / "curves_ssl_loss.png", "SSL loss",
                                  "training curves: the base SSL loss of each run (TensorBoard logs; MCR dashed)"))
    return paths + online_knn_curves(log_dirs, out_dir, runs)


def online_knn_curves(log_dirs: list[Path], out_dir: Path, runs: Collection[str] | None = None,
                      panel_of: Callable[[str], str] = method_of) -> list[Path]:
    """The online kNN monitor's top-1 of each run (of ``runs`` when given), if any run logged it; one panel
    per ``panel_of(run name)``."""
    if not (curves := _scalar_curves(log_dirs, ("knn/top1",), runs)):
        return []
    return [_plot_curves(curves, out_dir / "curves_knn_top1.png", "kNN top-1 (held out)",
                         "online kNN during pretraining (k=200, T=0.1 unless the config says otherwise; MCR dashed)",
                         marker="o", panel_of=panel_of)]
