"""Build comparison reports from result records only (never re-runs a model).

A plain-words verdict first; tables (Markdown, CSV, LaTeX booktabs, self-contained HTML) with short headers
and the protocols in a legend under each, mean ± std over seeds, reference rows (random-init encoder, raw
pixels), the paired MCR effect with 95% t-intervals, plots, and a paper-claims section.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mcr_eval.preflight import ensure_writable
from mcr_eval.reports.builder import FORMATS, build_report
from mcr_eval.reports.tables import to_markdown
from mcr_train.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", type=Path, help="results .jsonl files written with --out")
    parser.add_argument("--out", type=Path, required=True, help="report directory")
    parser.add_argument("--format", default=",".join(FORMATS), help="comma-separated subset of md,csv,tex,html")
    parser.add_argument("--logs", type=Path, nargs="*", default=[], help="work dirs with TensorBoard logs")
    parser.add_argument("--figures", type=Path, nargs="*", default=[], help="folders of PNGs to include")
    parser.add_argument("--preamble", type=Path, default=None,
                        help="Markdown file: its first short paragraph goes above the headline table, the rest "
                        "(or all after a '<!-- details -->' line) below it")
    parser.add_argument("--verdict", type=Path, default=None,
                        help="text file of plain-words lines that open the report (default: written from the records)")
    parser.add_argument("--chance", type=float, default=None,
                        help="chance accuracy of the class task (e.g. 0.1 for ten balanced classes), for the verdict")


def run(args: argparse.Namespace) -> int:
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    preamble = ""
    if args.preamble is not None:
        if not args.preamble.is_file():
            raise ConfigError(f"preamble file {args.preamble} does not exist; pass a Markdown file or drop --preamble")
        preamble = args.preamble.read_text()
    ensure_writable(args.out, "--out", directory=True)
    verdict = None
    if args.verdict is not None:
        if not args.verdict.is_file():
            raise ConfigError(f"verdict file {args.verdict} does not exist; pass a text file or drop --verdict")
        verdict = [line.strip().removeprefix("- ") for line in args.verdict.read_text().splitlines() if line.strip()]
    report = build_report(args.results, args.out, formats, args.logs, args.figures, preamble, verdict, args.chance)
    for table in report.headline or report.tables[:1]:  # short headers fit a terminal; protocols listed below
        print(to_markdown(table) + "\n")
    print("Verdict:\n" + "\n".join(f"  {line}" for line in report.verdict))
    print(f"report written to {args.out}: " + ", ".join(p.name for p in report.files))
    if (args.out / "index.html").is_file():
        print(f"open {args.out / 'index.html'}")
    return 0
