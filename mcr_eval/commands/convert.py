"""Convert an encoder checkpoint (our export or any supported foreign layout) to torchvision (.pth or
.safetensors), mmdet (backbone.* keys for init_cfg prefix='backbone.') or detectron2 (.pkl, MoCo's
renaming rules)."""

from __future__ import annotations

import argparse

from mcr_eval.checkpoints import FORMATS, TARGETS, convert_checkpoint
from mcr_eval.commands._shared import STEM_PADDING_HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="encoder.safetensors, its run folder, or a foreign checkpoint")
    parser.add_argument("--to", required=True, choices=TARGETS, help="target layout")
    parser.add_argument("-o", "--output", required=True, help="output file")
    parser.add_argument("--format", choices=FORMATS, default=None, help="input layout (default: detect)")
    parser.add_argument("--arch", choices=("resnet18", "resnet34", "resnet50"), default=None)
    parser.add_argument("--stem", choices=("cifar", "imagenet"), default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--stem-padding", type=int, default=None, help=STEM_PADDING_HELP)
    parser.add_argument("--dtype", choices=("float32", "float16"), default="float32",
                        help="float16 halves a torchvision checkpoint (half the bytes; loaders cast back to float32)")


def run(args: argparse.Namespace) -> int:
    path = convert_checkpoint(
        args.checkpoint,
        args.to,
        args.output,
        format=args.format,
        arch=args.arch,
        stem=args.stem,
        width=args.width,
        stem_padding=args.stem_padding,
        dtype=args.dtype,
    )
    print(f"wrote {args.to} checkpoint {path}")
    return 0
