"""Build comparison reports from result records only (never re-runs a model).

Tables (Markdown, CSV, LaTeX booktabs, self-contained HTML) with the protocol in every header and
mean ± std over seeds, the paired MCR effect with 95% t-intervals, plots, and a paper-claims section.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mcr_eval.reports.builder import FORMATS, build_report
from mcr_eval.reports.tables import compact_markdown
from mcr_train.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", type=Path, help="results .jsonl files written with --out")
    parser.add_argument("--out", type=Path, required=True, help="report directory")
    parser.add_argument("--format", default=",".join(FORMATS), help="comma-separated subset of md,csv,tex,html")
    parser.add_argument("--logs", type=Path, nargs="*", default=[], help="work dirs with TensorBoard logs")
    parser.add_argument("--figures", type=Path, nargs="*", default=[], help="folders of PNGs to include")
    parser.add_argument("--preamble", type=Path, default=None,
                        help="Markdown file placed at the top (scale, hardware, regeneration command)")


def run(args: argparse.Namespace) -> int:
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    preamble = ""
    if args.preamble is not None:
        if not args.preamble.is_file():
            raise ConfigError(f"preamble file {args.preamble} does not exist; pass a Markdown file or drop --preamble")
        preamble = args.preamble.read_text()
    report = build_report(args.results, args.out, formats, args.logs, args.figures, preamble)
    for table in report.headline or report.tables[:1]:  # short headers fit a terminal; protocols listed below
        print(compact_markdown(table) + "\n")
    print(f"report written to {args.out}: " + ", ".join(p.name for p in report.files))
    if (args.out / "index.html").is_file():
        print(f"open {args.out / 'index.html'}")
    return 0
