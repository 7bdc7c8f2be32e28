"""Linear probe on a frozen encoder (BN in eval mode, weights and BN statistics verified unchanged).
fast: cached center-crop features, multinomial logistic regression, L2 chosen on a held-out 20% of train.
standard: SGD + RandomResizedCrop/flip, cosine schedule, 100 epochs; last epoch reported."""

from __future__ import annotations

import argparse
import sys

from mcr_eval.commands._shared import EncoderSession, add_data_arguments, add_encoder_arguments, emit
from mcr_eval.data import augment_transform, load_split
from mcr_eval.features import checkpoint_source
from mcr_eval.preflight import ensure_writable
from mcr_eval.probes.linear import L2_GRID, fast_linear_probe, standard_linear_probe
from mcr_eval.records import records_for_encoder
from mcr_train.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_encoder_arguments(parser)
    add_data_arguments(parser)
    parser.add_argument("--mode", choices=("fast", "standard"), default="fast")
    parser.add_argument("--epochs", type=int, default=100, help="standard mode epochs (default 100)")
    parser.add_argument("--lr", type=float, default=None, help="standard mode lr (default 0.1 x batch/256)")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="fast mode held-out share of train")


def run(args: argparse.Namespace, session: EncoderSession | None = None) -> int:
    """``session``: an already built encoder session (the reference rows pass theirs); default: from ``args``."""
    if args.epochs < 1 or not 0 < args.val_fraction < 1:
        raise ConfigError("--epochs must be >= 1 and --val-fraction in (0, 1)")
    if args.out:
        ensure_writable(args.out, "--out", directory=False)
    session = session or EncoderSession(args)
    if args.mode == "fast":
        train = session.features(args.train_split)
        test = session.features(args.test_split)
        result = fast_linear_probe(
            train.features,
            train.labels,
            test.features,
            test.labels,
            val_fraction=args.val_fraction,
            seed=args.seed,
            device=args.device,
        )
        protocol = {
            **session.base_protocol(),
            "mode": "fast",
            "classifier": "multinomial logistic regression",
            "standardize": True,
            "l2_selection": f"held-out {args.val_fraction:g} of train",
            "l2_grid": list(L2_GRID),  # the chosen value is an outcome, recorded as metric selected_l2
            "n_train": result["n_train"],
            "seed": args.seed,
        }
        if not result["converged"]:
            print(f"warning: the fast probe's refit at l2={result['l2']:g} stopped after {result['iterations']} "
                  f"iterations with largest gradient entry {result['max_grad']:.1e} (tolerance 1e-4); nearly "
                  "separable features converge slowly at weak l2, and the accuracy is reported as reached",
                  file=sys.stderr)
        n_test = result["n_test"]
        metrics = {"top1": result["top1"], "top5": result["top5"], "selected_l2": result["l2"]}
    else:
        train_set = load_split(
            args.data, args.train_split, augment_transform(session.input_size, session.mean, session.std)
        )
        test_set = load_split(args.data, args.test_split, session.eval_transform)
        classes = getattr(train_set, "classes", None)
        num_classes = len(classes) if classes else int(max(train_set.targets)) + 1
        result = standard_linear_probe(
            session.model,
            train_set,
            test_set,
            num_classes,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            num_workers=args.workers,
            device=args.device,
            seed=args.seed,
            progress=not args.quiet,
            source=checkpoint_source(session.meta) or "this checkpoint",
        )
        protocol = {
            **session.base_protocol(),
            "mode": "standard",
            "features": "frozen encoder, BN eval",
            "augmentation": "RandomResizedCrop(0.08-1)+flip",
            "optimizer": "SGD momentum 0.9",
            "schedule": "cosine",
            "epochs": args.epochs,
            "lr": result["lr"],
            "batch_size": args.batch_size,
            "weight_decay": 0.0,
            "reported": "last epoch",
            "seed": args.seed,
        }
        n_test = len(test_set)
        metrics = {"top1": result["top1"], "top5": result["top5"]}
    records = records_for_encoder(
        session.meta,
        "linear",
        args.data,
        args.test_split,
        protocol,
        metrics,
        n_test,
    )
    emit(args, records)
    return 0
