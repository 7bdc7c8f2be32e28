"""Arguments and steps shared by the probe commands (knn, linear, semisup, represent)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mcr_eval.checkpoints import FORMATS, load_encoder
from mcr_eval.data import center_crop_transform, default_input_size, load_split, normalization
from mcr_eval.features import FeatureCache, FeatureSet, cached_features, feature_key
from mcr_eval.records import append_records
from mcr_train.errors import ConfigError


def add_encoder_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint",
        help="encoder.safetensors (+ encoder.json), its run folder, or a foreign "
        "checkpoint (torchvision, solo-learn, lightly, MMPretrain, MoCo)",
    )
    parser.add_argument("--format", choices=FORMATS, default=None, help="checkpoint layout (default: detect)")
    parser.add_argument(
        "--arch",
        choices=("resnet18", "resnet34", "resnet50"),
        default=None,
        help="backbone (default: encoder.json, else read from the weights)",
    )
    parser.add_argument("--stem", choices=("cifar", "imagenet"), default=None, help="ResNet stem (default: detect)")
    parser.add_argument("--width", type=int, default=None, help="ResNet base width (default: detect)")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        required=True,
        help="data spec: scenes, fashion-mnist[:ROOT], digits, "
        "cifar10:ROOT, cifar100:ROOT, stl10:ROOT, tiny-imagenet:ROOT, "
        "imagenet:ROOT, folder:ROOT",
    )
    parser.add_argument("--train-split", default="train", help="split the probe is fitted on (default: train)")
    parser.add_argument("--test-split", default="test", help="split the probe is scored on (default: test)")
    parser.add_argument("--out", default=None, help="results file; records are appended as JSON lines")
    parser.add_argument(
        "--input-size",
        type=int,
        default=None,
        help="crop size (default: encoder.json, else 32 for the CIFAR stem, 224 otherwise)",
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2, help="data-loading processes")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when present)")
    parser.add_argument("--cache-dir", default=None, help="feature cache folder (default: ~/.cache/mcr/features)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write cached features")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


class EncoderSession:
    """A loaded encoder plus the data options of one command invocation."""

    def __init__(self, args: argparse.Namespace):
        if args.batch_size < 1 or args.workers < 0:
            raise ConfigError("--batch-size must be >= 1 and --workers >= 0")
        self.args = args
        self.model, self.meta = load_encoder(
            args.checkpoint, format=args.format, arch=args.arch, stem=args.stem, width=args.width
        )
        self.input_size = int(args.input_size or default_input_size(self.meta))
        if self.input_size < 1:
            raise ConfigError(f"--input-size must be positive, got {self.input_size}")
        self.mean, self.std = normalization(self.meta)
        self.cache = None if args.no_cache else FeatureCache(args.cache_dir)

    @property
    def eval_transform(self):
        return center_crop_transform(self.input_size, self.mean, self.std)

    def features(
        self,
        split: str,
        transform: Any = None,
        model: nn.Module | None = None,
        meta: dict[str, Any] | None = None,
        key_extra: dict[str, Any] | None = None,
    ) -> FeatureSet:
        transform = transform or self.eval_transform
        dataset = load_split(self.args.data, split, transform)
        parts = {**feature_key(meta or self.meta, self.args.data, split, transform), **(key_extra or {})}
        return cached_features(
            self.cache,
            parts,
            model or self.model,
            dataset,
            batch_size=self.args.batch_size,
            num_workers=self.args.workers,
            device=self.args.device,
            desc=f"features {split}",
            progress=not self.args.quiet,
        )

    def base_protocol(self) -> dict[str, Any]:
        return {
            "features": "center-crop",
            "input_size": self.input_size,
            "train_split": self.args.train_split,
            "checkpoint_format": self.meta["source_format"],
        }


def emit(args: argparse.Namespace, records: list[dict[str, Any]]) -> None:
    """Print one summary line per record and append them to ``--out`` when given."""
    for record in records:
        value = record["value"]
        shown = "nan" if value is None else f"{value:.4f}"
        print(
            f"{record['task']:<14} {record['dataset']:<16} {record['metric']:<22} {shown:>10}  "
            f"{json.dumps(record['protocol'], sort_keys=True)}"
        )
    if args.out:
        path = append_records(args.out, records)
        print(f"appended {len(records)} records to {path}", file=sys.stderr)


def subset_dir(args: argparse.Namespace) -> Path:
    if getattr(args, "subset_dir", None):
        return Path(args.subset_dir)
    return (Path(args.out).parent if args.out else Path(".")) / "subsets"


def as_labels(feats: FeatureSet) -> torch.Tensor:
    return feats.labels.to(torch.int64)
