"""Counterfactual feature-retention audit: which factors an encoder keeps, shared vs non-shared.

On factor scenes (``--data scenes``), audit v2 (docs/audit.md): for every factor a cross-validated nonlinear
(RBF kernel ridge) and linear probe, each set against its ceiling (the same probe on the input pixels) and a
supervised reference network, next to chance and the raw-pixel / random-init references; the factor's role
under the training views (from encoder.json or --views); the retention per factor and the summary non-shared
retention (kernel probe); DCI, MIG and SAP; counterfactual sensitivity and probe accuracy. On real images
(``--data photos``, ``fashion-mnist``, ``folder:ROOT``, ...): invariance to hue shift, grayscale, crop-out,
rotation and blur (a transformation that changes no pixel of these images, such as a hue shift of grayscale
images, is not scored). Several checkpoints are audited on the same samples; records carry each run's name
and seed.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, fields

import numpy as np
import torch

from mcr_eval.audit.invariance import TRANSFORMS
from mcr_eval.audit.photos import dataset_images, photo_crops
from mcr_eval.audit.report import (
    invariance_records,
    markdown_table,
    retention_records,
    write_report,
)
from mcr_eval.audit.runner import (
    AuditedEncoder,
    SceneAudit,
    load_audited,
    real_image_invariance,
    require_views,
)
from mcr_eval.audit.scene_inputs import to_pixels
from mcr_eval.checkpoints import FORMATS
from mcr_eval.data import default_input_size
from mcr_eval.features import checkpoint_source, ensure_finite
from mcr_eval.preflight import ensure_writable
from mcr_eval.records import append_records
from mcr_train.data import parse_spec
from mcr_train.data.spec import scenes_options
from mcr_train.errors import ConfigError, DataError

AUDITS = ("auto", "factors", "invariance", "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoints", nargs="+", metavar="CKPT",
                        help="encoder.safetensors (+ encoder.json), its run folder, a foreign checkpoint, or "
                             "planted:hue-histogram|silhouette|corner")
    parser.add_argument("--data", default="scenes",
                        help="scenes[?size=S&seed=K] (factor audit), photos, fashion-mnist[:ROOT], folder:ROOT, "
                             "... (invariance audit)")
    parser.add_argument("--audit", choices=AUDITS, default="auto",
                        help="factors (scenes only), invariance, or all; auto: factors on scenes, else invariance")
    parser.add_argument("--views", default=None,
                        help="training view pipeline (e.g. simclr_cifar) or transforms crop,flip,jitter,grayscale; "
                             "default: encoder.json")
    parser.add_argument("--out", default=None, help="results file; records (task 'retention') are appended")
    parser.add_argument("--report", default=None, metavar="DIR", help="write retention.md/.csv and heat-map PNGs")
    parser.add_argument("--n", type=int, default=1000, help="audit scenes / real images (default 1000)")
    parser.add_argument("--counterfactuals", type=int, default=200,
                        help="interventions per factor (0: skip the counterfactual part)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds of the factor probes")
    parser.add_argument("--no-supervised", action="store_true",
                        help="skip the supervised reference network (trained once per image size, about 40 s, "
                             "and cached under ~/.cache/mcr/audit)")
    parser.add_argument("--crops", type=int, default=8, help="crops per photo for --data photos")
    parser.add_argument("--format", choices=FORMATS, default=None, help="checkpoint layout (default: detect)")
    parser.add_argument("--arch", choices=("resnet18", "resnet34", "resnet50"), default=None)
    parser.add_argument("--stem", choices=("cifar", "imagenet"), default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when present)")
    parser.add_argument("--seed", type=int, default=0)


def _choose_audits(data_name: str, audit: str, data: str) -> tuple[bool, bool]:
    """(factor audit, invariance audit) for ``--data``/``--audit``."""
    is_scenes = data_name == "scenes"
    if audit in ("factors", "all") and not is_scenes:
        raise DataError(f"the factor audit needs factor scenes, and '{data}' has no generative factors; pass "
                        "--data scenes (or --audit invariance for transformation counterfactuals on these images)")
    if audit == "auto":
        return is_scenes, not is_scenes
    return audit in ("factors", "all"), audit in ("invariance", "all")


@dataclass
class CheckedEncoder(AuditedEncoder):
    """An audited encoder whose features are refused when they hold NaN or inf."""

    def featurize(self, pixels: torch.Tensor, batch_size: int = 256, device: str = "cpu") -> np.ndarray:
        feats = super().featurize(pixels, batch_size, device)
        ensure_finite(torch.from_numpy(feats), checkpoint_source(self.meta) or f"'{self.name}'")
        return feats


def _checked(encoder: AuditedEncoder) -> CheckedEncoder:
    return CheckedEncoder(**{f.name: getattr(encoder, f.name) for f in fields(encoder)})


def _unique_names(encoders: list[AuditedEncoder]) -> None:
    seen: dict[str, int] = {}
    for encoder in encoders:
        count = seen.get(encoder.name, 0)
        seen[encoder.name] = count + 1
        if count:
            encoder.name = f"{encoder.name}#{count + 1}"


def _real_pixels(args: argparse.Namespace, data_name: str, size: int) -> tuple[torch.Tensor, str]:
    if data_name in ("photos", "scenes"):
        images, _ = photo_crops(size, args.crops, args.seed)
        return to_pixels(images), "photos"
    return to_pixels(dataset_images(args.data, args.n, size)), args.data


def run(args: argparse.Namespace) -> int:
    if args.n < 2 or args.folds < 2 or args.counterfactuals < 0 or args.batch_size < 1 or args.crops < 1:
        raise ConfigError("need --n >= 2, --folds >= 2, --counterfactuals >= 0, --batch-size >= 1, --crops >= 1")
    data_name = "photos" if args.data == "photos" else parse_spec(args.data).name
    factors_on, invariance_on = _choose_audits(data_name, args.audit, args.data)
    if args.out:
        ensure_writable(args.out, "--out", directory=False)
    if args.report:
        ensure_writable(args.report, "--report", directory=True)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    encoders = [_checked(load_audited(path, args.views, format=args.format, arch=args.arch, stem=args.stem,
                                      width=args.width)) for path in args.checkpoints]
    _unique_names(encoders)
    size = default_input_size(encoders[0].meta) if encoders[0].meta.get("arch") else 32
    records, audits, invariance = [], {}, {}
    if factors_on:
        for encoder in encoders:  # before the shared references are built
            require_views(encoder)
        options = scenes_options(parse_spec(args.data))
        size = int(parse_spec(args.data).options.get("size", size))
        scenes = SceneAudit(n=args.n, size=size, seed=options["seed"], folds=args.folds,
                            counterfactuals=args.counterfactuals, batch_size=args.batch_size, device=device,
                            supervised=not args.no_supervised)
        dataset = f"scenes?size={size}&seed={options['seed']}"
        for encoder in encoders:
            audits[encoder.name] = audit = scenes.run(encoder)
            print(markdown_table(encoder.name, audit))
            records += retention_records(encoder.meta, audit, dataset)
    if invariance_on:
        pixels, dataset = _real_pixels(args, data_name, size)
        invariance = real_image_invariance(encoders, pixels, args.seed, args.batch_size, device)
        by_name = {e.name: e for e in encoders}
        unscored = [t for t in TRANSFORMS if all(t not in scores for scores in invariance.values())]
        if unscored:
            print(f"not scored on {dataset}: {', '.join(unscored)} (they change no pixel of these images by half a "
                  "grey level)", file=sys.stderr)
        for name, scores in invariance.items():
            print(f"invariance {name} on {dataset}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
            records += invariance_records(by_name[name].meta, scores, dataset, len(pixels))
    if args.out:
        append_records(args.out, records)
        print(f"appended {len(records)} records to {args.out}", file=sys.stderr)
    if args.report:
        from pathlib import Path

        for path in write_report(Path(args.report), audits, invariance):
            print(f"wrote {path}", file=sys.stderr)
    return 0
