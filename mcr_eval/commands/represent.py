"""Representation metrics on test-split features: RankMe, effective rank, uniformity, MEC coding length
(center-crop features), alignment between two seeded RandomResizedCrop/flip views, and linear CKA
against a second encoder (--compare)."""

from __future__ import annotations

import argparse

import torch

from mcr_eval.checkpoints import load_encoder
from mcr_eval.commands._shared import EncoderSession, add_data_arguments, add_encoder_arguments, emit
from mcr_eval.data import augment_transform
from mcr_eval.metrics.representation import alignment, linear_cka, representation_summary
from mcr_eval.records import records_for_encoder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_encoder_arguments(parser)
    add_data_arguments(parser)
    parser.add_argument("--compare", default=None, help="second encoder for linear CKA (any supported layout)")
    parser.add_argument("--compare-format", default=None, help="layout of --compare (default: detect)")


def run(args: argparse.Namespace) -> int:
    session = EncoderSession(args)
    split = args.test_split
    feats = session.features(split)
    metrics = representation_summary(feats.features)
    views = []
    for view in (1, 2):
        transform = augment_transform(session.input_size, session.mean, session.std, min_scale=0.2)
        torch.manual_seed(args.seed * 1000 + view)
        views.append(session.features(split, transform, key_extra={"view": view, "seed": args.seed}).features)
    metrics["alignment"] = alignment(*views)
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
        metrics["linear_cka"] = linear_cka(feats.features, other_feats.features)
        protocol["cka_against"] = other_meta["checkpoint"]
    records = records_for_encoder(session.meta, "representation", args.data, split, protocol, metrics, len(feats))
    emit(args, records)
    return 0
