"""Build a report directory from result records only: tables, paired effects, plots and claims."""

from __future__ import annotations

import html
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mcr_eval.reports import plots
from mcr_eval.reports.claims import claims_section
from mcr_eval.reports.headline import headline_tables
from mcr_eval.reports.records_table import read_records, records_frame
from mcr_eval.reports.statistics import cell_summaries, paired_effects
from mcr_eval.reports.tables import (
    Table,
    compact_markdown,
    comparison_tables,
    effect_tables,
    to_html,
    to_latex,
    to_markdown,
)
from mcr_train.errors import ConfigError

FORMATS = ("md", "csv", "tex", "html")
CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;
margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f2f2f2;max-width:16em}caption{font-weight:bold;text-align:left;margin-bottom:.4em}
.scroll{overflow-x:auto;max-width:100%}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
code{background:#f5f5f5;padding:1px 3px}pre{background:#f5f5f5;padding:.6em;overflow-x:auto}"""


@dataclass
class Report:
    out: Path
    tables: list[Table]
    effects: list[Table]
    figures: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    headline: list[Table] = field(default_factory=list)
    preamble: str = ""


def write_text_atomic(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def _markdown(report: Report, claims: list[str], sources: list[str], rel_figs: list[str]) -> str:
    parts = ["# mcr comparison report", ""]
    if report.preamble:
        parts += [report.preamble.strip(), ""]
    parts += [f"Built from {len(sources)} results file(s): " + ", ".join(f"`{s}`" for s in sources)
              + ". Cells are mean ± sample std over seeds (n records).", ""]
    if report.headline:
        parts += ["## Headline", ""] + [to_markdown(t) + "\n" for t in report.headline]
    parts += ["## Comparison tables", ""]
    parts += [to_markdown(t) + "\n" for t in report.tables]
    parts += ["## Paired MCR effect", ""]
    parts += [to_markdown(t) + "\n" for t in report.effects] or ["No base method has both baseline and MCR "
                                                                 "records.\n"]
    parts += claims + [""]
    if rel_figs:
        parts += ["## Figures", ""] + [f"![{f}]({f})" for f in rel_figs]
    return "\n".join(parts) + "\n"


def _bold(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)


def _inline(text: str) -> str:
    """The little inline Markdown a preamble uses: bold, inline code and links."""
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", _bold(html.escape(text)))
    return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', text)


def _table_cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _preamble_table(block: str) -> str:
    """A pipe table (header, ``|---|`` rule, rows) as an HTML table."""
    header, _rule, *rows = block.splitlines()
    head = "".join(f"<th>{_inline(c)}</th>" for c in _table_cells(header))
    body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _table_cells(r)) + "</tr>" for r in rows)
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _is_pipe_table(block: str) -> bool:
    lines = block.splitlines()
    return (len(lines) >= 2 and all(line.lstrip().startswith("|") for line in lines)
            and set(lines[1].replace("|", "").strip()) <= set("-: "))


def preamble_html(text: str) -> list[str]:
    out = []
    for block in (b.strip() for b in text.strip().split("\n\n") if b.strip()):
        if _is_pipe_table(block):
            out.append(_preamble_table(block))
        elif block.startswith("#"):
            level = min(len(block) - len(block.lstrip("#")) + 1, 4)
            out.append(f"<h{level}>{_inline(block.lstrip('#').strip())}</h{level}>")
        elif block.startswith("```"):
            out.append(f"<pre><code>{html.escape(block.strip('`').strip())}</code></pre>")
        elif all(line.lstrip().startswith("- ") for line in block.splitlines()):
            items = "".join(f"<li>{_inline(line.lstrip()[2:])}</li>" for line in block.splitlines())
            out.append(f"<ul>{items}</ul>")
        else:
            out.append(f"<p>{_inline(' '.join(block.splitlines()))}</p>")
    return out


def _html(report: Report, claims: list[str], rel_figs: list[str]) -> str:
    body = ["<h1>mcr comparison report</h1>", *preamble_html(report.preamble)]
    if report.headline:
        body += ["<h2>Headline</h2>"] + [to_html(t) for t in report.headline]
    body += ["<h2>Comparison tables</h2>"]
    body += [to_html(t) for t in report.tables]
    body += ["<h2>Paired MCR effect</h2>"] + ([to_html(t) for t in report.effects] or
                                               ["<p>No base method has both baseline and MCR records.</p>"])
    body += ["<h2>Paper claims vs measured</h2>"]
    body += [f"<p>{_bold(html.escape(line.lstrip('- ')))}</p>" for line in claims[2:] if line.strip()]
    if rel_figs:
        body += ["<h2>Figures</h2>"] + [f'<p><a href="{f}"><img src="{f}" alt="{f}"></a></p>' for f in rel_figs]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>mcr report</title><style>{CSS}</style>"
            f"</head><body>{''.join(body)}</body></html>")


def build_report(results: list[Path], out: Path, formats: tuple[str, ...] = FORMATS,
                 log_dirs: list[Path] | None = None, figure_dirs: list[Path] | None = None,
                 preamble: str = "") -> Report:
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ConfigError(f"unknown report format(s) {unknown}; choose from {list(FORMATS)}")
    records = read_records(results)
    frame = records_frame(records)
    cells = cell_summaries(frame)
    effects = paired_effects(frame)
    report = Report(out, comparison_tables(cells), effect_tables(effects),
                    headline=headline_tables(cells, effects), preamble=preamble)
    figures_dir = out / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    report.figures += plots.metric_bars(cells, figures_dir)
    report.figures += plots.retention_heatmap(frame, figures_dir)
    if log_dirs:
        report.figures += plots.training_curves([Path(d) for d in log_dirs], figures_dir, set(frame["run"]))
    for src in figure_dirs or []:
        for png in sorted(Path(src).glob("*.png")):
            report.figures.append(Path(shutil.copy2(png, figures_dir / f"{Path(src).name}_{png.name}")))
    rel_figs = [str(p.relative_to(out)) for p in report.figures]
    claims = claims_section(effects)
    sources = [str(p) for p in results]
    if "md" in formats:
        report.files.append(write_text_atomic(out / "report.md", _markdown(report, claims, sources, rel_figs)))
        if report.headline:
            compact = "\n\n".join(compact_markdown(t) for t in report.headline) + "\n"
            report.files.append(write_text_atomic(out / "headline.md", compact))
    if "csv" in formats:
        cells.to_csv(out / "summary.csv", index=False)
        pd.DataFrame(effects).to_csv(out / "paired_effects.csv", index=False)
        report.files += [out / "summary.csv", out / "paired_effects.csv"]
    if "tex" in formats:
        tex = "% requires \\usepackage{booktabs}\n" + "\n\n".join(to_latex(t) for t in report.tables + report.effects)
        report.files.append(write_text_atomic(out / "tables.tex", tex))
    if "html" in formats:
        report.files.append(write_text_atomic(out / "index.html", _html(report, claims, rel_figs)))
    return report
