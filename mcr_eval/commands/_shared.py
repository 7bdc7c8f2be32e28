"""Arguments and steps shared by the probe commands (knn, linear, semisup, represent).

Every record's protocol states the input normalization (``normalization``: ``encoder.json``, ``imagenet``,
``dataset`` or ``user``, with ``norm_mean``/``norm_std``) and the stem's ``stem_padding``, because both change
the features of the same weights.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mcr_eval.checkpoints import FORMATS, load_encoder
from mcr_eval.checkpoints.safe_io import clean_stale_outputs
from mcr_eval.data import center_crop_transform, default_input_size, load_split, normalization
from mcr_eval.features import FeatureCache, FeatureSet, cached_features, checkpoint_source, feature_key
from mcr_eval.records import append_records
from mcr_train.errors import ConfigError

STEM_PADDING_HELP = (
    "zero padding of the stem conv (default: encoder.json, else the checkpoint layout's: 2 for solo-learn's "
    "CIFAR stem, 1 for other CIFAR stems, 3 for the ImageNet stem)"
)
NORM_CHOICES = ("auto", "imagenet", "dataset")
EXAMPLE_MEAN, EXAMPLE_STD = "0.4914 0.4822 0.4465", "0.2470 0.2435 0.2616"  # CIFAR-10's


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
    parser.add_argument("--stem-padding", type=int, default=None, help=STEM_PADDING_HELP)


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
    parser.add_argument(
        "--norm",
        choices=NORM_CHOICES,
        default="auto",
        help="input normalization: auto = encoder.json's mean/std, else ImageNet's (foreign checkpoints); "
        "imagenet; dataset = the --data dataset's own per-channel statistics (default: auto)",
    )
    parser.add_argument(
        "--mean",
        nargs="+",
        default=None,
        metavar="M",
        help="per-channel input mean, 3 values (R G B) on the 0-1 scale; needs --std and replaces --norm",
    )
    parser.add_argument(
        "--std",
        nargs="+",
        default=None,
        metavar="S",
        help="per-channel input std, 3 positive values (R G B) on the 0-1 scale; needs --mean",
    )


def parse_channels(values: Sequence[str], option: str, positive: bool = False) -> list[float]:
    """``--mean``/``--std`` values (space- or comma-separated) as 3 finite floats, ``> 0`` when ``positive``."""
    example = f"{option} {EXAMPLE_STD if positive else EXAMPLE_MEAN}"
    items = [part for value in values for part in str(value).split(",") if part.strip()]
    try:
        numbers = [float(item) for item in items]
    except ValueError:
        raise ConfigError(f"{option} takes numbers, got '{' '.join(values)}'; write e.g. {example}") from None
    if len(numbers) != 3:
        raise ConfigError(f"{option} takes 3 values (one per RGB channel), got {len(numbers)}; write e.g. {example}")
    if not all(math.isfinite(v) for v in numbers):
        raise ConfigError(f"{option} values must be finite, got {' '.join(items)}; write e.g. {example}")
    if positive and any(v <= 0 for v in numbers):
        raise ConfigError(f"{option} values must be > 0 (they divide the input), got {' '.join(items)}; "
                          f"write e.g. {example}")
    return numbers


def resolve_normalization(args: argparse.Namespace, meta: dict[str, Any]) -> tuple[list[float], list[float], str]:
    """(mean, std, source) of the input normalization chosen by ``--norm`` / ``--mean`` / ``--std``."""
    from mcr_train.data.spec import IMAGENET_MEAN, IMAGENET_STD, dataset_stats

    norm = getattr(args, "norm", "auto") or "auto"
    mean_arg, std_arg = getattr(args, "mean", None), getattr(args, "std", None)
    if mean_arg is not None or std_arg is not None:
        if mean_arg is None or std_arg is None:
            given, needed = ("--mean", "--std") if std_arg is None else ("--std", "--mean")
            raise ConfigError(f"{given} needs {needed} as well; pass both, e.g. --mean {EXAMPLE_MEAN} "
                              f"--std {EXAMPLE_STD}")
        if norm != "auto":
            raise ConfigError(f"--mean/--std and --norm {norm} both set the normalization; pass only one of them")
        return parse_channels(mean_arg, "--mean"), parse_channels(std_arg, "--std", positive=True), "user"
    if norm == "imagenet":
        return list(IMAGENET_MEAN), list(IMAGENET_STD), "imagenet"
    if norm == "dataset":
        mean, std = dataset_stats(args.data)
        return [float(v) for v in mean], [float(v) for v in std], "dataset"
    mean, std = normalization(meta)
    if meta.get("mean") and meta.get("std"):
        return mean, std, "encoder.json"
    print(
        f"[mcr-eval] note: normalizing the {meta.get('source_format', 'foreign')} checkpoint with ImageNet's "
        "mean/std; pass --norm dataset or --mean/--std if it was trained with other statistics",
        file=sys.stderr,
    )
    return mean, std, "imagenet"


class EncoderSession:
    """A loaded encoder plus the data options of one command invocation."""

    norm_source = "auto"  # set by __init__; sessions built elsewhere keep the encoder's default

    def __init__(self, args: argparse.Namespace):
        if args.batch_size < 1 or args.workers < 0:
            raise ConfigError("--batch-size must be >= 1 and --workers >= 0")
        self.args = args
        self.model, self.meta = load_encoder(
            args.checkpoint,
            format=args.format,
            arch=args.arch,
            stem=args.stem,
            width=args.width,
            stem_padding=getattr(args, "stem_padding", None),
        )
        self.input_size = int(args.input_size or default_input_size(self.meta))
        if self.input_size < 1:
            raise ConfigError(f"--input-size must be positive, got {self.input_size}")
        self.mean, self.std, self.norm_source = resolve_normalization(args, self.meta)
        self.cache = None if args.no_cache else FeatureCache(args.cache_dir)
        if args.out:  # temp files of a killed earlier append to the same results file
            clean_stale_outputs(args.out)

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
            source=checkpoint_source(meta or self.meta),
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
            "stem_padding": self.meta.get("stem_padding"),
            "normalization": self.norm_source,
            "norm_mean": [float(v) for v in self.mean],
            "norm_std": [float(v) for v in self.std],
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
