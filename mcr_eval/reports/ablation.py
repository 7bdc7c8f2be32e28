"""Ablation tables: one table per ablation, one row per variant, the headline metrics as columns.

A variant is a run name (its records' ``run`` field) with a label; rows of one table differ in exactly the
thing the ablation changes, so a column may differ between rows only in the keys that follow each
encoder's training views (the retention audit's factor roles, see :mod:`records_table`). Any other protocol
difference is an error, never averaged away. With one seed per variant, an optional *spread* row gives the
seed-to-seed standard deviation of a reference configuration, the yardstick for reading the differences.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mcr_eval.reports.builder import CSS, preamble_html, write_text_atomic
from mcr_eval.reports.plots import online_knn_curves
from mcr_eval.reports.records_table import protocol_key, read_records
from mcr_eval.reports.statistics import paired_effect
from mcr_eval.reports.tables import Table, column_legend, fmt_effect, fmt_value, to_html, to_latex, to_markdown
from mcr_train.errors import DataError

# (task, metric, protocol parameters the column must have)
ABLATION_COLUMNS = (
    ("knn", "top1", {"k": 200}),
    ("linear", "top1", {}),
    ("retention", "non_shared_retention", {}),
    ("retention", "shared_retention", {}),
    ("retention", "retention.color", {}),
    ("retention", "retention.pos_x", {}),
    ("retention", "retention.detail_present", {}),
    # the real-image invariance audit (studies on Fashion-MNIST and other real data)
    ("retention", "invariance.crop_out", {}),
    ("retention", "invariance.rotation", {}),
    ("retention", "invariance.blur", {}),
    ("representation", "rankme", {}),
)


def _column_frame(frame: pd.DataFrame, task: str, metric: str, params: dict) -> pd.DataFrame:
    sub = frame[(frame["task"] == task) & (frame["metric"] == metric)]
    return sub[sub["protocol"].map(lambda p: all(p.get(k) == v for k, v in params.items())).astype(bool)]


def _check_protocols(sub: pd.DataFrame, title: str, task: str, metric: str) -> str:
    """The protocol shared by the column (view-dependent keys folded); error if anything else differs."""
    keys = set(sub["protocol"].map(protocol_key))
    if len(keys) > 1:
        a, b = sorted(keys)[:2]
        raise DataError(f"ablation '{title}', column {task}/{metric} mixes protocols ({a} vs {b}); evaluate "
                        "every variant with the same protocol")
    return keys.pop()


def _cell(values: pd.Series) -> str:
    n = int(values.count())
    std = float(values.std(ddof=1)) if n > 1 else math.nan
    return fmt_value(float(values.mean()), std, n) if n else "—"


def _spread_cell(values: pd.Series) -> str:
    n = int(values.count())
    return f"{float(values.std(ddof=1)):.3f} (n={n})" if n > 1 else "—"


def _contrast_cell(sub: pd.DataFrame, treated: Sequence[str], reference: Sequence[str]) -> str:
    """Treated minus reference, paired by seed, with the 95% Student-t interval (see :mod:`statistics`)."""
    a = sub[sub["run"].isin(treated)].groupby("seed")["value"].mean()
    b = sub[sub["run"].isin(reference)].groupby("seed")["value"].mean()
    common = a.index.intersection(b.index)
    effect = paired_effect([float(a[s] - b[s]) for s in common])
    if effect.n == 0:
        return "—"
    return fmt_effect(effect.mean, effect.low, effect.high, effect.n, effect.significant)


def ablation_table(frame: pd.DataFrame, title: str, variants: Sequence[tuple[str, str]],
                   spread: tuple[str, Sequence[str]] | None = None,
                   contrasts: Sequence[tuple[str, str]] = ()) -> Table:
    """``variants``: (label, run name) in row order; a label given for several runs (one per seed) is one row.
    Cells are mean ± std over the label's records. ``spread``: (label, run names) of one configuration's seeds;
    its row holds their sample std per column. ``contrasts``: (label A, label B) pairs, each a row of A minus B
    paired by seed with its 95% t-interval."""
    labels = list(dict.fromkeys(label for label, _ in variants))
    runs_of = {label: [run for lab, run in variants if lab == label] for label in labels}
    for a, b in contrasts:
        if a not in runs_of or b not in runs_of:
            raise DataError(f"ablation '{title}': contrast '{a}' − '{b}' names a row the table does not have; "
                            f"its rows are {labels}")
    runs = [run for _, run in variants] + (list(spread[1]) if spread else [])
    col_keys, grid = [], [[] for _ in range(len(labels) + bool(spread) + len(contrasts))]
    for task, metric, params in ABLATION_COLUMNS:
        sub = _column_frame(frame, task, metric, params)
        sub = sub[sub["run"].isin(runs)]
        if sub.empty:
            continue
        protocol = _check_protocols(sub, title, task, metric)
        col_keys.append((task, sub["dataset"].iloc[0], sub["split"].iloc[0], metric, protocol))
        row = iter(grid)
        for label in labels:
            next(row).append(_cell(sub[sub["run"].isin(runs_of[label])]["value"].astype(float)))
        if spread:
            next(row).append(_spread_cell(sub[sub["run"].isin(spread[1])]["value"].astype(float)))
        for a, b in contrasts:
            next(row).append(_contrast_cell(sub, runs_of[a], runs_of[b]))
    if not col_keys:
        raise DataError(f"ablation '{title}' has no records for its runs {runs}; evaluate them first")
    rows = labels + ([spread[0]] if spread else [])
    blocks = [(len(labels), "Seed-to-seed spread (sample std)")] if spread else []
    if contrasts:
        blocks.append((len(rows), "Paired by seed (95% t-interval; * = interval excludes 0)"))
    rows += [f"{a} − {b}, paired by seed (95% t-interval)" for a, b in contrasts]
    names, notes, shared = column_legend(col_keys)
    shared = "; ".join(filter(None, [shared, "rows differ only in the ablated setting"]))
    return Table(f"Ablation: {title}", names, rows, grid, notes, shared, blocks)


def ablation_tables(records: list[dict], variants: Sequence[tuple[str, str, str]],
                    spread: tuple[str, Sequence[str]] | None = None,
                    contrasts: Sequence[tuple[str, str]] = ()) -> list[Table]:
    """``variants``: (table title, row label, run name) triples; tables keep their first-seen order.
    ``spread`` (optional): a seed-to-seed std row appended to every table (see :func:`ablation_table`).
    ``contrasts``: (label A, label B) paired-difference rows, added to every table that has both rows."""
    frame = pd.DataFrame(records)
    needed = {run for _, _, run in variants} | set(spread[1] if spread else ())
    missing = sorted(needed - set(frame["run"]))
    if missing:
        raise DataError(f"no records for ablation run(s) {missing}; evaluate them before building the report")
    titles = list(dict.fromkeys(t for t, _, _ in variants))
    tables = []
    for t in titles:
        rows = [(label, run) for tt, label, run in variants if tt == t]
        labels = {label for label, _ in rows}
        mine = [c for c in contrasts if set(c) <= labels]
        tables.append(ablation_table(frame, t, rows, spread, mine))
    unused = [c for c in contrasts if not any(set(c) <= {lab for tt, lab, _ in variants if tt == t} for t in titles)]
    if unused:
        raise DataError(f"contrast(s) {unused} match no ablation table; each names two row labels of one table")
    return tables


def _number(cell: str) -> float:
    return float(cell.split()[0]) if cell != "—" else math.nan


def _bars(table: Table, out: Path, index: int, n_variants: int, has_spread: bool) -> Path | None:
    """kNN and linear top-1 of every variant (the first ``n_variants`` rows), with the spread row (if any, right
    after them) as error bars on every bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = [i for i, c in enumerate(table.columns) if c in ("kNN k=200", "Linear")]
    if not picks:
        return None
    rows, cells = table.rows[:n_variants], table.cells[:n_variants]
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(rows), 3.4))
    width = 0.8 / len(picks)
    for j, col in enumerate(picks):
        err = _number(table.cells[n_variants][col]) if has_spread else math.nan
        ax.bar([i + j * width for i in range(len(rows))], [_number(row[col]) for row in cells], width,
               yerr=None if math.isnan(err) else err, capsize=3, label=f"{table.columns[col]} top-1")
    ax.set_xticks([i + width * (len(picks) - 1) / 2 for i in range(len(rows))], rows, rotation=20,
                  ha="right", fontsize=8)
    ax.set_ylabel("top-1 accuracy")
    ax.set_title(textwrap.shorten(table.title.removeprefix("Ablation: "), 60, placeholder="…"), fontsize=9)
    if has_spread:
        ax.set_xlabel(f"error bars: {table.rows[n_variants]}", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / f"ablation_{index}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_ablation_report(results: Path, variants: Sequence[tuple[str, str, str]], out: Path, title: str,
                          preamble: str = "", spread: tuple[str, Sequence[str]] | None = None,
                          log_dirs: Sequence[Path] = (), contrasts: Sequence[tuple[str, str]] = ()) -> Path:
    """report.md, index.html, tables.tex, ablations.csv and one bar chart per table under ``out``; plus the
    online kNN curves of the variants' runs when their TensorBoard logs (under ``log_dirs``) hold them.
    ``contrasts``: paired-difference rows (see :func:`ablation_tables`)."""
    tables = ablation_tables(read_records([results]), variants, spread, contrasts)
    figures_dir = out / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    figures = []
    for i, t in enumerate(tables):
        n_variants = len(t.rows) - (spread is not None) - sum(set(c) <= set(t.rows) for c in contrasts)
        if (p := _bars(t, figures_dir, i, n_variants, spread is not None)) is not None:
            figures.append(p)
    # Ablation runs differ in one setting, not in method: one panel per seed (run names end in -s<seed>).
    figures += online_knn_curves(list(log_dirs), figures_dir, {run for *_, run in variants},
                                 panel_of=lambda run: f"seed {run.rsplit('-s', 1)[-1]}")
    rel = [str(p.relative_to(out)) for p in figures]
    note = (f"Built from `{results}`. Cells are mean ± std over seeds (n records; n=1 has no spread), three "
            "decimals."
            + (f" The last row of each table (\"{spread[0]}\") is the sample std over those seeds: differences "
               "between rows smaller than about twice it are within seed noise." if spread else "")
            + (" Rows \"A − B, paired by seed\" give the mean difference over the seeds both rows have, with a 95% "
               "Student-t interval; `*` marks an interval that excludes 0." if contrasts else ""))
    md = ["# mcr ablation report", "", preamble.strip(), "", note, ""]
    # Every table has the same columns in practice; then their protocols are listed once, under the first.
    same = all(t.columns == tables[0].columns for t in tables)
    md += [to_markdown(t, legend=not same or i == 0) + "\n" for i, t in enumerate(tables)]
    md += [f"![{f}]({f})" for f in rel]
    write_text_atomic(out / "report.md", "\n".join(md) + "\n")
    body = ["<h1>mcr ablation report</h1>", *preamble_html(preamble), *preamble_html(note)]
    body += [to_html(t) for t in tables] + [f'<p><img src="{f}" alt="{f}"></p>' for f in rel]
    write_text_atomic(out / "index.html", f"<!doctype html><html><head><meta charset='utf-8'><title>{title}"
                      f"</title><style>{CSS}</style></head><body>{''.join(body)}</body></html>")
    tex = "\n\n".join(to_latex(t) for t in tables)
    write_text_atomic(out / "tables.tex", "% requires \\usepackage{booktabs}\n" + tex)
    rows = [{"ablation": t.title, "variant": r, **dict(zip(t.columns, cells))}
            for t in tables for r, cells in zip(t.rows, t.cells)]
    pd.DataFrame(rows).to_csv(out / "ablations.csv", index=False)
    return out / "index.html"
