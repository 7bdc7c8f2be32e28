"""Weighted kNN on frozen center-crop features: cosine similarity on l2-normalized features,
exp(s/T)-weighted votes; reports 5-NN (T=0.07), k=20 T=0.07 (DINO) and k=200 T=0.1 (InstDisc/lightly),
top-1 and top-5."""

from __future__ import annotations

import argparse

from mcr_eval.commands._shared import EncoderSession, add_data_arguments, add_encoder_arguments, emit
from mcr_eval.data import load_split
from mcr_eval.preflight import ensure_writable
from mcr_eval.probes.knn import KNN_SETTINGS, check_settings, knn_evaluate
from mcr_eval.records import records_for_encoder
from mcr_train.errors import ConfigError


def parse_settings(text: str | None) -> tuple[tuple[int, float], ...]:
    """``"5:0.07,20:0.07,200:0.1"`` -> ((5, 0.07), (20, 0.07), (200, 0.1))."""
    if not text:
        return KNN_SETTINGS
    try:
        pairs = tuple((int(k), float(t)) for k, t in (item.split(":") for item in text.split(",")))
    except ValueError:
        raise ConfigError(f"--settings '{text}' is not a list of k:T pairs; write e.g. 5:0.07,200:0.1") from None
    if any(k < 1 or t <= 0 for k, t in pairs):
        raise ConfigError(f"--settings '{text}' needs k >= 1 and T > 0")
    return pairs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_encoder_arguments(parser)
    add_data_arguments(parser)
    parser.add_argument("--settings", default=None, help="k:T pairs (default: 5:0.07,20:0.07,200:0.1)")


def run(args: argparse.Namespace, session: EncoderSession | None = None) -> int:
    """``session``: an already built encoder session (the reference rows pass theirs); default: from ``args``."""
    settings = parse_settings(args.settings)
    if args.out:
        ensure_writable(args.out, "--out", directory=False)
    n_train = len(load_split(args.data, args.train_split))
    check_settings(settings, n_train, f" of split '{args.train_split}' of '{args.data}'",
                   f"pass --settings with every k <= {n_train}, e.g. --settings 5:0.07,{min(20, n_train)}:0.07")
    session = session or EncoderSession(args)
    train = session.features(args.train_split)
    test = session.features(args.test_split)
    results = knn_evaluate(train.features, train.labels, test.features, test.labels, settings, device=args.device)
    records = []
    for result in results:
        protocol = {
            **session.base_protocol(),
            "k": result["k"],
            "T": result["T"],
            "similarity": "cosine",
            "weighting": "exp(s/T)",
            "n_train": len(train),
        }
        records += records_for_encoder(
            session.meta,
            "knn",
            args.data,
            args.test_split,
            protocol,
            {"top1": result["top1"], "top5": result["top5"]},
            len(test),
        )
    emit(args, records)
    return 0
