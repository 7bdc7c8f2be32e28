"""``mcr-data``: write factor scenes, preview them, and check any dataset spec.

    mcr-data scenes --n N --size S --seed K --out DIR [--multi] [--coco]
    mcr-data preview --out grid.png
    mcr-data check SPEC
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mcr_train.errors import DataError, cli_errors


def _cmd_scenes(args: argparse.Namespace) -> int:
    from mcr_train.data.export import write_multi_scenes, write_single_scenes
    from mcr_train.data.scenes import check_size

    if args.n < 1:
        raise DataError(f"--n must be at least 1, got {args.n}")
    check_size(args.size)
    if args.coco and not args.multi:
        raise DataError("--coco exports detection instances and needs --multi")
    out = Path(args.out)
    if args.multi:
        rate = write_multi_scenes(out, args.n, args.size, args.seed, args.coco)
    else:
        rate = write_single_scenes(out, args.n, args.size, args.seed)
    print(f"wrote {args.n} {'multi-object' if args.multi else 'single-object'} scenes of {args.size} px "
          f"to {out} ({rate:.0f} images/s including PNG encoding)")
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    from mcr_train.data.preview import scenes_grid

    path = scenes_grid(Path(args.out), columns=args.columns, size=args.size, seed=args.seed)
    print(f"wrote {path}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from mcr_train.data.spec import build_dataset, dataset_stats, parse_spec

    spec = parse_spec(args.spec)
    loaded = []
    for split in args.splits.split(","):
        start = time.perf_counter()
        ds = build_dataset(spec, split)
        loaded.append((split, ds, ds.load_image(0), time.perf_counter() - start))
    mean, std = dataset_stats(spec)
    print(f"{spec}: normalization mean={list(mean)} std={list(std)}")
    for split, ds, image, seconds in loaded:
        counts = ds.class_counts()
        print(f"  {split}: {len(ds)} images, {len(ds.classes)} classes, first image {image.size[0]}x"
              f"{image.size[1]} {image.mode} ({seconds:.1f}s)")
        print("    per class: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    describe = getattr(loaded[0][1], "describe_factors", None)  # factor datasets: file arrays and factor table
    for line in describe() if callable(describe) else []:
        print("  " + line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcr-data", description="Embedded factor scenes and dataset checks.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("scenes", help="write factor scenes (PNGs, masks, factors.csv, COCO instances)")
    p.add_argument("--n", type=int, default=100, help="number of images")
    p.add_argument("--size", type=int, default=64, help="image side in pixels (>= 16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--multi", action="store_true", help="1-5 objects per image (detection mode)")
    p.add_argument("--coco", action="store_true", help="also write COCO instances.json (with --multi)")
    p.set_defaults(run=_cmd_scenes)
    p = sub.add_parser("preview", help="write a PNG grid of scenes with their masks")
    p.add_argument("--out", required=True)
    p.add_argument("--columns", type=int, default=8)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_cmd_preview)
    p = sub.add_parser("check", help="print sizes and per-class counts of a data spec")
    p.add_argument("spec", help="e.g. scenes, fashion-mnist, digits, cifar10:ROOT, imagenet:ROOT?classes=F, "
                   "dsprites:FILE.npz?n=N, 3dshapes:FILE.h5?n=N")
    p.add_argument("--splits", default="train,test", help="comma-separated splits to check")
    p.set_defaults(run=_cmd_check)
    return parser


@cli_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
