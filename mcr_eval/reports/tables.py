"""Comparison tables (rows: method x regularizer; columns: short names with footnote marks; the protocols in a
legend under the table) in Markdown, LaTeX booktabs and HTML.

Numbers have three decimals; values whose magnitude is below 1e-3 (chosen L2 penalties, differences in a
score that is 1 by construction) are written as ``5.08e-06`` instead, which three decimals would show as 0.
Row blocks (``Table.blocks``) set apart rows of another kind, such as paired differences or reference rows.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import pandas as pd

from mcr_eval.reports.headers import (
    group_title,
    legend_text,
    mark,
    protocol_text,
    row_label,
    short_name,
    split_protocols,
)
from mcr_eval.reports.records_table import GROUP_KEYS
from mcr_eval.reports.statistics import COLUMN_KEYS

EFFECT_BLOCK = "MCR − base, paired by seed (95% t-interval; * = interval excludes 0)"


@dataclass
class Table:
    """One table: short column names, already formatted cells, and the legend that states the protocols.

    ``notes[i]`` is column ``i``'s protocol (columns with equal notes share a footnote mark); ``shared`` is
    the protocol every column has in common. ``blocks``: ``(first row index, block title)`` of each row block
    after the first."""

    title: str
    columns: list[str]
    rows: list[str]
    cells: list[list[str]]
    notes: list[str] = field(default_factory=list)
    shared: str = ""
    blocks: list[tuple[int, str]] = field(default_factory=list)

    def marks(self) -> list[str]:
        """The footnote mark of every column."""
        order = list(dict.fromkeys(n for n in self.notes if n))
        return [mark(order.index(n) + 1) if n else "" for n in self.notes]

    def headers(self) -> list[str]:
        return [f"{c}{m}" for c, m in zip(self.columns, self.marks() or [""] * len(self.columns))]

    def legend(self) -> list[str]:
        """One line per footnote mark (``¹ kNN k=200: ...``), then the protocol all columns share."""
        lines = []
        for note in dict.fromkeys(n for n in self.notes if n):
            names = [c for c, n in zip(self.columns, self.notes) if n == note]
            lines.append(f"{self.marks()[self.notes.index(note)]} {', '.join(names)}: {note}")
        if self.shared:
            lines.append(f"All columns: {self.shared}")
        return lines

    def block_of(self, row: int) -> str | None:
        """The title of the block that starts at ``row``, if one does."""
        return next((title for start, title in self.blocks if start == row), None)


def _number_format(*values: float) -> str:
    largest = max((abs(v) for v in values if not math.isnan(v)), default=0.0)
    return ".2e" if 0 < largest < 1e-3 else ".3f"


def fmt_number(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:{_number_format(value)}}"


def fmt_value(mean: float, std: float, n: int) -> str:
    fmt = _number_format(mean)
    spread = "" if math.isnan(std) else f" ± {std:{fmt}}"
    return f"{mean:{fmt}}{spread} (n={n})"


def fmt_effect(diff: float, low: float, high: float, pairs: int, significant: bool) -> str:
    if pairs < 2:
        return f"{diff:+{_number_format(diff)}} (n={pairs}: too few pairs for an interval)"
    fmt = _number_format(diff, low, high)
    star = " *" if significant else ""
    return f"{diff:+{fmt}} [{low:+{fmt}}, {high:+{fmt}}] (n={pairs}){star}"


def column_legend(col_keys: list[tuple]) -> tuple[list[str], list[str], str]:
    """Short names, per-column legend notes and the shared protocol of ``(task, dataset, split, metric,
    protocol_key)`` columns."""
    common, distinct = split_protocols([c[-1] for c in col_keys])
    names = [short_name(task, metric, key) for task, _, _, metric, key in col_keys]
    datasets = {(c[1], c[2]) for c in col_keys}
    if len(datasets) == 1:  # one dataset and split: said once, with the shared parameters
        dataset, split = datasets.pop()
        notes = [protocol_text(d) for d in distinct]
        shared = legend_text(dataset, split, common)
    else:
        notes = [legend_text(dataset, split, d) for (_, dataset, split, _, _), d in zip(col_keys, distinct)]
        shared = protocol_text(common)
    if len(set(names)) < len(names):  # two columns of one name (a metric measured on two datasets)
        names = [f"{n} ({c[1]})" if names.count(n) > 1 else n for n, c in zip(names, col_keys)]
    return names, notes, shared


def with_blocks(frame: pd.DataFrame) -> pd.DataFrame:
    """Adds ``block``: the task, split by metric family for tasks with many per-factor metrics
    (``retention · probe``, ``retention · sensitivity``, ...), so no table grows a hundred columns wide."""
    family = frame["metric"].str.split(".").str[0]
    per_factor = frame["metric"].str.contains(".", regex=False)
    return frame.assign(block=frame["task"].where(~per_factor, frame["task"] + " · " + family))


def _sorted_columns(sub: pd.DataFrame) -> list[tuple]:
    return sorted({tuple(r) for r in sub[list(COLUMN_KEYS)].values},
                  key=lambda c: (c[3] != "top1", short_name(c[0], c[3], c[4]), c))


def comparison_tables(cells: pd.DataFrame) -> list[Table]:
    tables = []
    for (*group, task), sub in with_blocks(cells).groupby([*GROUP_KEYS, "block"], sort=True):
        col_keys = _sorted_columns(sub)
        row_keys = sorted({tuple(r) for r in sub[["method", "regularizer"]].values},
                          key=lambda r: (r[0], r[1] != "none", r[1]))
        lookup = {(r.method, r.regularizer, *[getattr(r, k) for k in COLUMN_KEYS]): r for r in sub.itertuples()}
        grid = [[fmt_value(c.mean, c.std, c.n) if (c := lookup.get((method, reg, *col))) is not None else "—"
                 for col in col_keys] for method, reg in row_keys]
        names, notes, shared = column_legend(col_keys)
        tables.append(Table(f"{task} · {group_title(*group)}", names, [row_label(m, g) for m, g in row_keys], grid,
                            notes, shared))
    return tables


def effect_tables(effects: pd.DataFrame) -> list[Table]:
    tables = []
    if effects.empty:
        return tables
    for (*group, task), sub in with_blocks(effects).groupby([*GROUP_KEYS, "block"], sort=True):
        col_keys = _sorted_columns(sub)
        methods = sorted(sub["method"].unique())
        lookup = {(r.method, *[getattr(r, k) for k in COLUMN_KEYS]): r for r in sub.itertuples()}
        grid = [["—" if (r := lookup.get((method, *col))) is None else
                 fmt_effect(r.diff, r.ci_low, r.ci_high, r.pairs, r.significant) for col in col_keys]
                for method in methods]
        names, notes, shared = column_legend(col_keys)
        title = f"{task}: {EFFECT_BLOCK} · {group_title(*group)}"
        tables.append(Table(title, names, [f"{m}+MCR − {m}" for m in methods], grid, notes, shared))
    return tables


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(table: Table, legend: bool = True) -> str:
    """A pipe table with short headers; each row block after the first opens with a bold title row, and the
    legend follows the table. ``legend=False`` points to the legend of the table above instead."""
    width = len(table.columns)
    lines = [f"**{table.title}**", "", "| | " + " | ".join(_md_cell(c) for c in table.headers()) + " |",
             "|---" * (width + 1) + "|"]
    for i, (row, cells) in enumerate(zip(table.rows, table.cells)):
        if (block := table.block_of(i)) is not None:
            lines.append(f"| **{_md_cell(block)}** |" + " |" * width)
        lines.append("| " + _md_cell(row) + " | " + " | ".join(_md_cell(c) for c in cells) + " |")
    if legend:
        lines += [""] + [f"{line}  " for line in table.legend()]
    else:
        lines += ["", "Protocols: as in the legend of the table above."]
    return "\n".join(lines).rstrip()



def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("$", r"\$"), ("{", r"\{"), ("}", r"\}"), ("^", r"\^{}"), ("~", r"\~{}"),
                 ("±", r"$\pm$"), ("−", "$-$"), ("·", r"$\cdot$"), ("—", "--")):
        text = text.replace(a, b)
    for digit, sup in zip("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"):
        text = text.replace(sup, rf"\textsuperscript{{{digit}}}")
    return text.replace("}\\textsuperscript{", "")


def to_latex(table: Table) -> str:
    """A booktabs table: short headers, row blocks under a rule with their title, the legend as notes."""
    width = len(table.columns)
    lines = [r"\begin{table}[t]", r"\centering\small", rf"\caption{{{_tex(table.title)}}}",
             rf"\begin{{tabular}}{{l{'r' * width}}}", r"\toprule",
             " & ".join([""] + [_tex(c) for c in table.headers()]) + r" \\", r"\midrule"]
    for i, (row, cells) in enumerate(zip(table.rows, table.cells)):
        if (block := table.block_of(i)) is not None:
            lines += [r"\midrule", rf"\multicolumn{{{width + 1}}}{{l}}{{\emph{{{_tex(block)}}}}} \\"]
        lines.append(" & ".join([_tex(row)] + [_tex(c) for c in cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [r"\par\smallskip\raggedright\footnotesize " + r" \\ ".join(_tex(n) for n in table.legend())]
    lines.append(r"\end{table}")
    return "\n".join(lines)


def to_html(table: Table) -> str:
    """A table with short headers; each later row block in its own ``tbody`` under a title row; the legend in
    small print below."""
    width = len(table.columns)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.headers())
    bodies, current = [], []
    for i, (row, cells) in enumerate(zip(table.rows, table.cells)):
        if (block := table.block_of(i)) is not None:
            bodies.append(current)
            current = [f"<tr class='block'><th colspan='{width + 1}'>{html.escape(block)}</th></tr>"]
        current.append(f"<tr><th>{html.escape(row)}</th>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                       + "</tr>")
    bodies.append(current)
    body = "".join(f"<tbody>{''.join(rows)}</tbody>" for rows in bodies if rows)
    legend = "".join(f"<li>{html.escape(line)}</li>" for line in table.legend())
    return (f"<div class='scroll'><table><caption>{html.escape(table.title)}</caption><thead><tr><th></th>{head}"
            f"</tr></thead>{body}</table></div><ul class='legend'>{legend}</ul>")
