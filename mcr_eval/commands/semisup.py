"""Semi-supervised fine-tuning on 1% and 10% class-balanced label subsets (SimCLR / Barlow Twins protocol):
subsets drawn by --seed and saved as index lists; whole encoder + linear head fine-tuned with
RandomResizedCrop/flip, SGD Nesterov, cosine schedule; last epoch reported."""

from __future__ import annotations

import argparse

from mcr_eval.commands._shared import (
    EncoderSession,
    add_data_arguments,
    add_encoder_arguments,
    emit,
    subset_dir,
)
from mcr_eval.data import augment_transform, dataset_labels, load_split, num_classes_of
from mcr_eval.features import checkpoint_source
from mcr_eval.preflight import ensure_writable
from mcr_eval.probes.semisup import balanced_subset, finetune, load_subset, save_subset
from mcr_eval.records import records_for_encoder
from mcr_train.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_encoder_arguments(parser)
    add_data_arguments(parser)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1], help="label fractions")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr-encoder", type=float, default=0.005)
    parser.add_argument("--lr-head", type=float, default=0.5)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument(
        "--subset-dir",
        default=None,
        help="where index lists are read/saved (default: <folder of --out>/subsets)",
    )


def subset_name(spec: str, fraction: float, seed: int) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in spec.split(":")[0])
    return f"{slug}_{fraction * 100:g}pct_seed{seed}.json"


def run(args: argparse.Namespace) -> int:
    if args.epochs < 1:
        raise ConfigError("--epochs must be >= 1")
    if args.out:
        ensure_writable(args.out, "--out", directory=False)
    ensure_writable(subset_dir(args), "--subset-dir", directory=True)
    session = EncoderSession(args)
    train_set = load_split(
        args.data, args.train_split, augment_transform(session.input_size, session.mean, session.std)
    )
    test_set = load_split(args.data, args.test_split, session.eval_transform)
    labels = dataset_labels(train_set)
    num_classes = num_classes_of(train_set, labels)
    records = []
    for fraction in args.fractions:
        path = subset_dir(args) / subset_name(args.data, fraction, args.seed)
        if path.is_file():
            indices = load_subset(path)
        else:
            indices = balanced_subset(labels, fraction, args.seed)
            save_subset(path, indices, args.data, fraction, args.seed)
        result = finetune(
            session.model,
            train_set,
            indices,
            test_set,
            num_classes,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr_encoder=args.lr_encoder,
            lr_head=args.lr_head,
            weight_decay=args.weight_decay,
            num_workers=args.workers,
            device=args.device,
            seed=args.seed,
            progress=not args.quiet,
            source=checkpoint_source(session.meta) or "this checkpoint",
        )
        protocol = {
            **session.base_protocol(),
            "features": "fine-tuned encoder",
            "label_fraction": fraction,
            "subset": "class-balanced, by seed",
            "subset_file": str(path),
            "n_labelled": len(indices),
            "epochs": args.epochs,
            "optimizer": "SGD nesterov momentum 0.9",
            "schedule": "cosine",
            "lr_encoder": args.lr_encoder,
            "lr_head": args.lr_head,
            "weight_decay": args.weight_decay,
            "augmentation": "RandomResizedCrop(0.08-1)+flip",
            "reported": "last epoch",
            "seed": args.seed,
        }
        records += records_for_encoder(
            session.meta,
            "semisup",
            args.data,
            args.test_split,
            protocol,
            {"top1": result["top1"], "top5": result["top5"]},
            len(test_set),
        )
    emit(args, records)
    return 0
