"""Run a study: your own grid of methods x regularizers x seeds x evaluations, from one config file.

A study config (``configs/studies/<name>.py``, an mmengine config) lists the runs as data: methods x regularizers
x seeds x variants, with per-group options, borrowed runs and report tables; the prose of its report goes in
``<name>.md`` beside it. This command pretrains every run that is missing, evaluates each encoder (kNN, fast
linear probe, representation metrics, retention audit; attribution and reference rows where the config asks),
and builds the report. It is resumable: finished runs and evaluations are skipped, a run stopped mid-way
continues from its last checkpoint, and parts of a long study run with --only. In a clone of the published
reports, runs whose results are committed are not retrained, so the command rebuilds a report in seconds.

A config of your own, say my_study.py at the repository root (each group of `runs` is a grid; a group may also
set variants, iters, lr_factors or lr_chosen_by, options and config; see mcr_eval/study/loader.py):

  _base_ = ['configs/studies/_base_/data_scenes.py', 'configs/studies/_base_/scale_300.py']
  runs = [dict(methods=['simclr', 'byol'], regularizers=['none', 'mcr'], seeds=[0, 1, 2])]

Examples:
  mcr-eval study my_study.py --jobs 2                                    # train, evaluate, report
  mcr-eval study configs/studies/scenes.py --out reports/scenes          # rebuild a published report
  mcr-eval study configs/studies/smoke.py --out /tmp/smoke               # two tiny runs through every step
  mcr-eval study my_study.py --only 'simclr-*-s0' --jobs 2               # a part of your own grid
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mcr_train.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("config", help="study config (configs/studies/NAME.py) or a published study's NAME")
    parser.add_argument("--out", type=Path, default=None,
                        help="report folder (default: the config's `out`, else reports/NAME for configs/studies, "
                             "else work_dirs/studies/NAME)")
    parser.add_argument("--jobs", type=int, default=2, help="single-threaded runs at a time (default 2)")
    parser.add_argument("--steps", nargs="+", default=["pretrain", "evaluate", "report"],
                        choices=["pretrain", "evaluate", "report"], help="steps to run (default: all three)")
    parser.add_argument("--only", nargs="+", default=(), metavar="PATTERN",
                        help="train and evaluate only the runs whose names match these glob patterns (a part of a "
                             "long study); the report covers every run evaluated so far")
    parser.add_argument("--evaluate-one", metavar="RUN", help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from mcr_eval.study.loader import load_study
    from mcr_eval.study.paths import default_out
    from mcr_eval.study.runner import evaluate_in_process, run_study

    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {args.jobs}")
    study = load_study(args.config)
    out = args.out or default_out(study)
    if args.evaluate_one:
        runs = {r.name: r for r in study.runs}
        if args.evaluate_one not in runs or args.results is None:
            raise ConfigError(f"--evaluate-one needs a run of '{study.name}' and --results; runs: {sorted(runs)}")
        evaluate_in_process(study, runs[args.evaluate_one], out, args.results)
        return 0
    run_study(study, out, args.jobs, args.steps, args.only)
    return 0
