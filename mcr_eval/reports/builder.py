"""Build a report directory from result records only: tables, paired effects, plots and claims.

Reading order (docs/reports.md): the plain-words verdict, a short summary, the headline table with its
reference rows and legend, then the details, the full tables and the figures.
"""

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
from mcr_eval.reports.headers import protocol_text, short_name
from mcr_eval.reports.headline import headline_tables
from mcr_eval.reports.records_table import is_reference, read_records, records_frame
from mcr_eval.reports.statistics import cell_summaries, paired_effects
from mcr_eval.reports.tables import (
    Table,
    comparison_tables,
    effect_tables,
    fmt_number,
    to_html,
    to_latex,
    to_markdown,
)
from mcr_eval.reports.audit_verdict import audit_verdict_line, audit_verdict_tables
from mcr_eval.reports.verdict import verdict_lines
from mcr_train.errors import ConfigError

FORMATS = ("md", "csv", "tex", "html")
CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;
margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f2f2f2;max-width:16em}caption{font-weight:bold;text-align:left;margin-bottom:.4em}
.scroll{overflow-x:auto;max-width:100%}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
code{background:#f5f5f5;padding:1px 3px}pre{background:#f5f5f5;padding:.6em;overflow-x:auto}
tbody+tbody{border-top:2px solid #555}tr.block th{background:#fafafa;font-style:italic;font-weight:normal}
td{white-space:nowrap}ul.legend{font-size:12px;color:#444;list-style:none;padding-left:0;margin-top:0}
.verdict{background:#f6f8fa;border-left:4px solid #4C72B0;padding:.4em 1em;margin:1em 0}"""


@dataclass
class Report:
    out: Path
    tables: list[Table]
    effects: list[Table]
    figures: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    headline: list[Table] = field(default_factory=list)
    audit: list[Table] = field(default_factory=list)
    preamble: str = ""
    verdict: list[str] = field(default_factory=list)


DETAILS_MARK = "<!-- details -->"
MAX_SUMMARY_SENTENCES = 5
MAX_SUMMARY_CHARS = 600


def split_preamble(text: str) -> tuple[str, str]:
    """(summary above the headline table, details below it). Text before a ``<!-- details -->`` line is the
    summary; without that line, the leading headings and a first paragraph of at most five short sentences
    are, and the rest goes below the table."""
    text = text.strip()
    if DETAILS_MARK in text:
        summary, _, details = text.partition(DETAILS_MARK)
        return summary.strip(), details.strip()
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    summary = []
    while blocks and blocks[0].startswith("#"):
        summary.append(blocks.pop(0))
    if blocks and not blocks[0].startswith(("|", "```", "- ")):
        sentences = len(re.findall(r"[.!?](?:\s|$)", blocks[0]))
        if sentences <= MAX_SUMMARY_SENTENCES and len(blocks[0]) <= MAX_SUMMARY_CHARS:
            summary.append(blocks.pop(0))
    return "\n\n".join(summary), "\n\n".join(blocks)


def write_text_atomic(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def _sources_note(sources: list[str]) -> str:
    return (f"Cells are mean ± sample std over seeds (n records), three decimals. Built from {len(sources)} "
            "results file(s): " + ", ".join(f"`{s}`" for s in sources) + ".")


def _markdown(report: Report, claims: list[str], sources: list[str], rel_figs: list[str]) -> str:
    summary, details = split_preamble(report.preamble)
    parts = ["# mcr comparison report", ""]
    if report.verdict:
        parts += ["**Verdict.**", ""] + [f"- {line}" for line in report.verdict] + [""]
    if summary:
        parts += [summary, ""]
    if report.headline:
        parts += ["## Headline", ""] + [to_markdown(t) + "\n" for t in report.headline]
    if report.audit:
        parts += ["## What MCR kept (audit v2)", ""] + [to_markdown(t) + "\n" for t in report.audit]
    parts += [_sources_note(sources), ""]
    if details:
        parts += ["## Details", "", details, ""]
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


def _html(report: Report, claims: list[str], sources: list[str], rel_figs: list[str]) -> str:
    summary, details = split_preamble(report.preamble)
    body = ["<h1>mcr comparison report</h1>"]
    if report.verdict:
        items = "".join(f"<li>{_inline(line)}</li>" for line in report.verdict)
        body.append(f"<div class='verdict'><strong>Verdict.</strong><ul>{items}</ul></div>")
    body += preamble_html(summary)
    if report.headline:
        body += ["<h2>Headline</h2>"] + [to_html(t) for t in report.headline]
    if report.audit:
        body += ["<h2>What MCR kept (audit v2)</h2>"] + [to_html(t) for t in report.audit]
    body += preamble_html(_sources_note(sources))
    if details:
        body += ["<h2>Details</h2>", *preamble_html(details)]
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


def _csv(frame: pd.DataFrame, numbers: tuple[str, ...]) -> pd.DataFrame:
    """A summary frame for CSV: short column names, the protocol as text, numbers as the tables print them."""
    if frame.empty:
        return frame
    out = frame.drop(columns=["protocol_key"]).assign(
        column=[short_name(r.task, r.metric, r.protocol_key) for r in frame.itertuples()],
        protocol=frame["protocol_key"].map(protocol_text))
    for name in numbers:
        out[name] = frame[name].map(lambda v: "" if pd.isna(v) else fmt_number(float(v)))
    return out


def build_report(results: list[Path], out: Path, formats: tuple[str, ...] = FORMATS,
                 log_dirs: list[Path] | None = None, figure_dirs: list[Path] | None = None,
                 preamble: str = "", verdict: list[str] | None = None, chance: float | None = None) -> Report:
    """Write the report files under ``out``. ``verdict``: the plain-words lines that open the report (default:
    :func:`verdict_lines` of these records, with ``chance`` the class task's chance accuracy when known)."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ConfigError(f"unknown report format(s) {unknown}; choose from {list(FORMATS)}")
    records = read_records(results)
    full = records_frame(records)
    reference = is_reference(full)
    frame = full[~reference] if (~reference).any() else full
    cells = cell_summaries(frame)
    effects = paired_effects(frame)
    ref_cells = cell_summaries(full[reference]) if reference.any() and (~reference).any() else pd.DataFrame()
    report = Report(out, comparison_tables(cells), effect_tables(effects),
                    headline=headline_tables(cells, effects, ref_cells), preamble=preamble)
    report.verdict = list(verdict) if verdict is not None else verdict_lines(cells, effects, ref_cells, chance)
    report.audit = audit_verdict_tables(cells, effects, frame)
    if verdict is None:
        report.verdict += audit_verdict_line(report.audit)
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
            compact = "\n\n".join(to_markdown(t) for t in report.headline) + "\n"
            report.files.append(write_text_atomic(out / "headline.md", compact))
    if "csv" in formats:
        summary = pd.concat([_csv(cells, ("mean", "std")), _csv(ref_cells, ("mean", "std")).assign(
            variant="reference")]) if not ref_cells.empty else _csv(cells, ("mean", "std"))
        summary.to_csv(out / "summary.csv", index=False)
        _csv(pd.DataFrame(effects), ("diff", "ci_low", "ci_high")).to_csv(out / "paired_effects.csv", index=False)
        report.files += [out / "summary.csv", out / "paired_effects.csv"]
    if "tex" in formats:
        tex = "% requires \\usepackage{booktabs}\n" + "\n\n".join(
            to_latex(t) for t in report.headline + report.audit + report.tables + report.effects)
        report.files.append(write_text_atomic(out / "tables.tex", tex))
    if "html" in formats:
        report.files.append(write_text_atomic(out / "index.html", _html(report, claims, sources, rel_figs)))
    return report
