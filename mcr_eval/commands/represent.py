"""Representation metrics on test-split features: RankMe, effective rank, uniformity, MEC coding length
(center-crop features), alignment between two seeded RandomResizedCrop/flip views, and linear CKA
against a second encoder (--compare)."""

from __future__ import annotations

import argparse
import sys

import torch

from mcr_eval.checkpoints import load_encoder
from mcr_eval.commands._shared import EncoderSession, add_data_arguments, add_encoder_arguments, emit
from mcr_eval.data import augment_transform
from mcr_eval.features import checkpoint_source
from mcr_eval.metrics.representation import alignment, defined_metrics, linear_cka, representation_summary
from mcr_eval.preflight import ensure_writable
from mcr_eval.records import records_for_encoder
from mcr_train.errors import DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_encoder_arguments(parser)
    add_data_arguments(parser)
    parser.add_argument("--compare", default=None, help="second encoder for linear CKA (any supported layout)")
    parser.add_argument("--compare-format", default=None, help="layout of --compare (default: detect)")


def run(args: argparse.Namespace) -> int:
    if args.out:
        ensure_writable(args.out, "--out", directory=False)
    session = EncoderSession(args)
    split = args.test_split
    feats = session.features(split)
    undefined: dict[str, str] = {}
    metrics = representation_summary(feats.features, undefined)
    views = []
    for view in (1, 2):
        transform = augment_transform(session.input_size, session.mean, session.std, min_scale=0.2)
        torch.manual_seed(args.seed * 1000 + view)
        views.append(session.features(split, transform, key_extra={"view": view, "seed": args.seed}).features)
    metrics.update(defined_metrics({"alignment": lambda: alignment(*views)}, undefined))
    protocol = {
        **session.base_protocol(),
        "rankme_eps": 1e-7,
        "uniformity_t": 2,
        "uniformity_max_samples": 4096,
        "alignment_alpha": 2,
        "alignment_views": "RandomResizedCrop(0.2-1)+flip x2",
        "mec_eps_sq": 64.0,
        "seed": args.seed,
    }
    if args.compare:
        other, other_meta = load_encoder(args.compare, format=args.compare_format)
        other_feats = session.features(split, model=other, meta=other_meta)
        metrics.update(defined_metrics({"linear_cka": lambda: linear_cka(feats.features, other_feats.features)},
                                       undefined))
        protocol["cka_against"] = other_meta["checkpoint"]
    source = checkpoint_source(session.meta) or "this checkpoint"
    if not metrics:
        raise DataError(f"no representation metric is defined on the features of {source}: "
                        f"{'; '.join(undefined.values())}; the encoder has collapsed, evaluate another checkpoint")
    if undefined:
        print(f"note: not recorded for {source}: {'; '.join(undefined.values())}", file=sys.stderr)
    records = records_for_encoder(session.meta, "representation", args.data, split, protocol, metrics, len(feats))
    emit(args, records)
    return 0
