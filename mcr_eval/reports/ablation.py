"""Ablation tables: one table per ablation, one row per variant, the headline metrics as columns.

A variant is a run name (its records' ``run`` field) with a label; rows of one table differ in exactly the
thing the ablation changes, so a column may only mix protocols in keys that follow the training views
(``views``, ``destroyed``, ``role``). Any other protocol difference is an error, never averaged away.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mcr_eval.reports.builder import CSS, preamble_html, write_text_atomic
from mcr_eval.reports.headers import column_header
from mcr_eval.reports.records_table import ENCODER_KEYS, read_records
from mcr_eval.reports.tables import Table, fmt_value, to_html, to_latex, to_markdown
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
    ("representation", "rankme", {}),
)


def _column_frame(frame: pd.DataFrame, task: str, metric: str, params: dict) -> pd.DataFrame:
    sub = frame[(frame["task"] == task) & (frame["metric"] == metric)]
    return sub[sub["protocol"].map(lambda p: all(p.get(k) == v for k, v in params.items())).astype(bool)]


def _check_protocols(sub: pd.DataFrame, title: str, task: str, metric: str) -> str:
    """The protocol shared by the column (view-dependent keys dropped); error if anything else differs."""
    keys = {json.dumps({k: v for k, v in p.items() if k not in ENCODER_KEYS}, sort_keys=True, default=str)
            for p in sub["protocol"]}
    if len(keys) > 1:
        a, b = sorted(keys)[:2]
        raise DataError(f"ablation '{title}', column {task}/{metric} mixes protocols ({a} vs {b}); evaluate "
                        "every variant with the same protocol")
    return keys.pop() if keys else "{}"


def ablation_table(frame: pd.DataFrame, title: str, variants: Sequence[tuple[str, str]]) -> Table:
    """``variants``: (label, run name) in row order; cells are mean ± std over the run's seeds."""
    columns, grid = [], [[] for _ in variants]
    for task, metric, params in ABLATION_COLUMNS:
        sub = _column_frame(frame, task, metric, params)
        sub = sub[sub["run"].isin([run for _, run in variants])]
        if sub.empty:
            continue
        protocol = _check_protocols(sub, title, task, metric)
        view_note = " (factor roles follow each row's views)" if task == "retention" else ""
        columns.append(column_header(task, sub["dataset"].iloc[0], sub["split"].iloc[0], metric, protocol)
                       + view_note)
        for i, (_, run) in enumerate(variants):
            values = sub[sub["run"] == run]["value"].astype(float)
            n = int(values.count())
            std = float(values.std(ddof=1)) if n > 1 else math.nan
            grid[i].append(fmt_value(float(values.mean()), std, n) if n else "—")
    if not columns:
        raise DataError(f"ablation '{title}' has no records for its runs {[r for _, r in variants]}; "
                        "evaluate them first")
    return Table(f"Ablation: {title}", "in each column header; rows differ only in the ablated setting",
                 columns, [label for label, _ in variants], grid)


def ablation_tables(records: list[dict], variants: Sequence[tuple[str, str, str]]) -> list[Table]:
    """``variants``: (table title, row label, run name) triples; tables keep their first-seen order."""
    frame = pd.DataFrame(records)
    missing = sorted({run for _, _, run in variants} - set(frame["run"]))
    if missing:
        raise DataError(f"no records for ablation run(s) {missing}; evaluate them before building the report")
    titles = list(dict.fromkeys(t for t, _, _ in variants))
    return [ablation_table(frame, t, [(label, run) for tt, label, run in variants if tt == t]) for t in titles]


def _bars(table: Table, out: Path, index: int) -> Path | None:
    """kNN and linear top-1 of every variant: the two columns people compare first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = [i for i, c in enumerate(table.columns) if c.startswith(("kNN top1", "Linear top1"))]
    if not picks:
        return None
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(table.rows), 3.2))
    width = 0.8 / len(picks)
    for j, col in enumerate(picks):
        values = [float(row[col].split()[0]) if row[col] != "—" else math.nan for row in table.cells]
        ax.bar([i + j * width for i in range(len(table.rows))], values, width, label=table.columns[col].split(" ·")[0])
    ax.set_xticks([i + width * (len(picks) - 1) / 2 for i in range(len(table.rows))], table.rows, rotation=20,
                  ha="right", fontsize=8)
    ax.set_ylabel("top-1 accuracy")
    ax.set_title(table.title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / f"ablation_{index}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_ablation_report(results: Path, variants: Sequence[tuple[str, str, str]], out: Path, title: str,
                          preamble: str = "") -> Path:
    """report.md, index.html, tables.tex, ablations.csv and one bar chart per table under ``out``."""
    tables = ablation_tables(read_records([results]), variants)
    figures_dir = out / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    figures = [p for i, t in enumerate(tables) if (p := _bars(t, figures_dir, i)) is not None]
    rel = [str(p.relative_to(out)) for p in figures]
    md = [f"# {title}", "", preamble.strip(), "", f"Built from `{results}`. Cells are mean ± std over seeds "
          "(n records; n=1 has no spread).", ""]
    md += [to_markdown(t) + "\n" for t in tables] + [f"![{f}]({f})" for f in rel]
    write_text_atomic(out / "report.md", "\n".join(md) + "\n")
    body = [f"<h1>{title}</h1>", *preamble_html(preamble)] + [to_html(t) for t in tables]
    body += [f'<p><img src="{f}" alt="{f}"></p>' for f in rel]
    write_text_atomic(out / "index.html", f"<!doctype html><html><head><meta charset='utf-8'><title>{title}"
                      f"</title><style>{CSS}</style></head><body>{''.join(body)}</body></html>")
    tex = "\n\n".join(to_latex(t) for t in tables)
    write_text_atomic(out / "tables.tex", "% requires \\usepackage{booktabs}\n" + tex)
    rows = [{"ablation": t.title, "variant": r, **dict(zip(t.columns, cells))}
            for t in tables for r, cells in zip(t.rows, t.cells)]
    pd.DataFrame(rows).to_csv(out / "ablations.csv", index=False)
    return out / "index.html"

