"""Comparison tables (rows: method x regularizer; columns: task/metric with protocol) in four formats."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import pandas as pd

from mcr_eval.reports.headers import column_header, group_title, protocol_text, row_label, split_protocols
from mcr_eval.reports.records_table import GROUP_KEYS
from mcr_eval.reports.statistics import COLUMN_KEYS


@dataclass
class Table:
    """One comparison table: a title and a grid of already formatted cells."""

    title: str
    protocol: str
    columns: list[str]
    rows: list[str]
    cells: list[list[str]]


def _number_format(*values: float) -> str:
    """Four decimals, or scientific notation when every value is below 1e-3 and one is not zero (chosen L2
    penalties, differences in a score that is 1 by construction), which four decimals would show as 0."""
    largest = max((abs(v) for v in values if not math.isnan(v)), default=0.0)
    return ".2e" if 0 < largest < 1e-3 else ".4f"


def fmt_value(mean: float, std: float, n: int) -> str:
    fmt = _number_format(mean)
    spread = "" if math.isnan(std) else f" ± {std:{fmt}}"
    return f"{mean:{fmt}}{spread} (n={n})"


def fmt_effect(diff: float, low: float, high: float, pairs: int, significant: bool) -> str:
    if pairs < 2:
        return f"{diff:+{_number_format(diff)}} (n={pairs}: too few pairs for an interval)"
    fmt = _number_format(diff, low, high)
    mark = " *" if significant else ""
    return f"{diff:+{fmt}} [{low:+{fmt}}, {high:+{fmt}}] (n={pairs}){mark}"


def column_headers(col_keys: list[tuple]) -> tuple[str, list[str]]:
    """Protocol text shared by all columns, and column headers carrying only what distinguishes them."""
    common, distinct = split_protocols([c[-1] for c in col_keys])
    shared = protocol_text(common) if common != "{}" else "none shared; each column header states its own"
    return shared, [column_header(*c[:-1], d) for c, d in zip(col_keys, distinct)]


def with_blocks(frame: pd.DataFrame) -> pd.DataFrame:
    """Adds ``block``: the task, split by metric family for tasks with many per-factor metrics
    (``retention · probe``, ``retention · sensitivity``, ...), so no table grows a hundred columns wide."""
    family = frame["metric"].str.split(".").str[0]
    per_factor = frame["metric"].str.contains(".", regex=False)
    return frame.assign(block=frame["task"].where(~per_factor, frame["task"] + " · " + family))


def comparison_tables(cells: pd.DataFrame) -> list[Table]:
    tables = []
    for (*group, task), sub in with_blocks(cells).groupby([*GROUP_KEYS, "block"], sort=True):
        col_keys = sorted({tuple(r) for r in sub[list(COLUMN_KEYS)].values})
        row_keys = sorted({tuple(r) for r in sub[["method", "regularizer"]].values},
                          key=lambda r: (r[0], r[1] != "none", r[1]))
        lookup = {(r.method, r.regularizer, *[getattr(r, k) for k in COLUMN_KEYS]): r for r in sub.itertuples()}
        grid = []
        for method, reg in row_keys:
            line = []
            for col in col_keys:
                r = lookup.get((method, reg, *col))
                line.append(fmt_value(r.mean, r.std, r.n) if r is not None else "—")
            grid.append(line)
        tables.append(Table(f"{task} · {group_title(*group)}", *column_headers(col_keys),
                            [row_label(m, g) for m, g in row_keys], grid))
    return tables


def effect_tables(effects: pd.DataFrame) -> list[Table]:
    tables = []
    if effects.empty:
        return tables
    for (*group, task), sub in with_blocks(effects).groupby([*GROUP_KEYS, "block"], sort=True):
        col_keys = sorted({tuple(r) for r in sub[list(COLUMN_KEYS)].values})
        methods = sorted(sub["method"].unique())
        lookup = {(r.method, *[getattr(r, k) for k in COLUMN_KEYS]): r for r in sub.itertuples()}
        grid = []
        for method in methods:
            line = []
            for col in col_keys:
                r = lookup.get((method, *col))
                line.append("—" if r is None else fmt_effect(r.diff, r.ci_low, r.ci_high, r.pairs, r.significant))
            grid.append(line)
        title = (f"{task}: MCR − baseline, paired by seed, 95% t-interval (* = interval excludes 0) · "
                 f"{group_title(*group)}")
        tables.append(Table(title, *column_headers(col_keys), [f"{m}: MCR − base" for m in methods], grid))
    return tables


def to_markdown(table: Table) -> str:
    head = "| | " + " | ".join(c.replace("|", "\\|") for c in table.columns) + " |"
    sep = "|---" * (len(table.columns) + 1) + "|"
    body = ["| " + row + " | " + " | ".join(cells) + " |" for row, cells in zip(table.rows, table.cells)]
    return "\n".join([f"**{table.title}**", "", f"Protocol (all columns): {table.protocol}", "", head, sep, *body])


def compact_markdown(table: Table, legend: bool = True) -> str:
    """A table with short column names and each column's full protocol listed underneath (for READMEs
    and narrow reports, where a header carrying the whole protocol does not fit). ``legend=False`` leaves the
    protocol list out, for a table whose columns equal those of one already listed."""
    short = [c.split(" · ")[0] for c in table.columns]
    lines = [f"**{table.title}**", "", "| | " + " | ".join(short) + " |", "|---" * (len(short) + 1) + "|"]
    lines += ["| " + row + " | " + " | ".join(cells) + " |" for row, cells in zip(table.rows, table.cells)]
    if not legend:
        return "\n".join(lines + ["", "Protocols: as listed under the first table."])
    lines += ["", "Protocols: " + "; ".join(f"*{s}*: {c.split(' · ', 1)[1]}" for s, c in zip(short, table.columns))
              + (f" (shared: {table.protocol})" if not table.protocol.startswith("none shared") else "") + "."]
    return "\n".join(lines)


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("±", r"$\pm$"), ("−", "$-$"), ("·", r"$\cdot$"), ("—", "--")):
        text = text.replace(a, b)
    return text


def to_latex(table: Table) -> str:
    """A booktabs table; headers are long, so they sit in p-columns."""
    spec = "l" + "p{3.2cm}" * len(table.columns)
    caption = f"{_tex(table.title)}. Protocol (all columns): {_tex(table.protocol)}"
    lines = [r"\begin{table}[t]", r"\centering\small", rf"\caption{{{caption}}}",
             rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join([""] + [_tex(c) for c in table.columns]) + r" \\", r"\midrule"]
    lines += [" & ".join([_tex(row)] + [_tex(c) for c in cells]) + r" \\" for row, cells in zip(table.rows,
                                                                                               table.cells)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines)


def _html_header(column: str) -> str:
    """Metric name on top, the rest of the header (data, split, protocol) in small print below it."""
    name, _, rest = column.partition(" · ")
    tail = f"<br><small>{html.escape(rest)}</small>" if rest else ""
    return f"<th>{html.escape(name)}{tail}</th>"


def to_html(table: Table) -> str:
    head = "".join(_html_header(c) for c in table.columns)
    body = "".join(
        f"<tr><th>{html.escape(row)}</th>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
        for row, cells in zip(table.rows, table.cells)
    )
    return (f"<div class='scroll'><table><caption>{html.escape(table.title)}<br><small>Protocol (all columns): "
            f"{html.escape(table.protocol)}</small></caption><thead><tr><th></th>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")
