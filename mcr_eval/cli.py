"""``mcr-eval <command> ...``: one entry point, one module per command under ``mcr_eval.commands``.

Each command module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util

from mcr_train.errors import cli_errors

COMMANDS: dict[str, tuple[str, str]] = {
    "knn": ("mcr_eval.commands.knn", "weighted kNN on frozen features (5-NN, k=20 T=0.07, k=200 T=0.1)"),
    "linear": ("mcr_eval.commands.linear", "linear probe on a frozen encoder (fast or standard)"),
    "semisup": ("mcr_eval.commands.semisup", "fine-tune on 1%%/10%% class-balanced label subsets"),
    "represent": ("mcr_eval.commands.represent", "representation metrics (RankMe, eff. rank, align/unif, MEC, CKA)"),
    "convert": ("mcr_eval.commands.convert", "convert a checkpoint to torchvision, mmdet or detectron2 format"),
    "detect": ("mcr_eval.commands.detect", "detection / instance-segmentation transfer with MMDetection"),
    "retain": ("mcr_eval.commands.retain", "counterfactual feature-retention audit"),
    "attribute": ("mcr_eval.commands.attribute", "Captum attribution with quantitative scores"),
    "report": ("mcr_eval.commands.report", "build comparison reports from result records"),
    "study": ("mcr_eval.commands.study", "run a study config: train what is missing, evaluate, build its report"),
}


def _available() -> dict[str, tuple[str, str]]:
    # A command appears once its module exists; nothing is stubbed.
    return {name: spec for name, spec in COMMANDS.items() if importlib.util.find_spec(spec[0]) is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcr-eval", description="Evaluate SSL encoders (mcr suite).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in _available().items():
        module = importlib.import_module(module_name)
        cmd = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip())
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


@cli_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
