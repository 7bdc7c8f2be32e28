"""Build comparison reports from result records only (never re-runs a model).

Tables (Markdown, CSV, LaTeX booktabs, self-contained HTML) with the protocol in every header and
mean ± std over seeds, the paired MCR effect with 95% t-intervals, plots, and a paper-claims section.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mcr_eval.reports.builder import FORMATS, build_report
from mcr_eval.reports.tables import to_markdown


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", type=Path, help="results .jsonl files written with --out")
    parser.add_argument("--out", type=Path, required=True, help="report directory")
    parser.add_argument("--format", default=",".join(FORMATS), help="comma-separated subset of md,csv,tex,html")
    parser.add_argument("--logs", type=Path, nargs="*", default=[], help="work dirs with TensorBoard logs")
    parser.add_argument("--figures", type=Path, nargs="*", default=[], help="folders of PNGs to include")


def run(args: argparse.Namespace) -> int:
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    report = build_report(args.results, args.out, formats, args.logs, args.figures)
    headline = [t for t in report.tables + report.effects if t.title.split()[0].rstrip(":") in ("knn", "linear")]
    for table in headline or report.tables[:1]:
        print(to_markdown(table) + "\n")
    print(f"report written to {args.out}: " + ", ".join(p.name for p in report.files))
    if (args.out / "index.html").is_file():
        print(f"open {args.out / 'index.html'}")
    return 0
