"""Detection / instance-segmentation transfer with MMDetection (MoCo protocol, He et al. 2020).

    mcr-eval detect CKPT --config configs/detection/mask-rcnn_r50_fpn_syncbn-1x_coco.py \\
        --data-root /data/coco --work-dir work_dirs/det --out results.jsonl [--trials 5] [--max-iters N]

CKPT is our encoder.safetensors (or its run folder), any checkpoint `mcr-eval convert` reads (a torchvision
state dict gives the supervised baseline), or `random` for the random-init baseline. The backbone weights
are verified after initialization; box and mask AP/AP50/AP75 are appended as records (tasks detection and
segmentation). Multi-GPU: torchrun --nproc_per_node N -m mcr_eval.cli detect ... --launcher pytorch.
"""

from __future__ import annotations

import argparse

from mcr_eval.checkpoints import FORMATS
from mcr_eval.preflight import ensure_writable
from mcr_train.errors import ConfigError


def _cfg_option(text: str) -> tuple[str, object]:
    from mmengine.config import DictAction

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"'{text}' is not KEY=VALUE")
    return key, DictAction._parse_iterable(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="CKPT",
                        help="encoder.safetensors / run folder / foreign checkpoint, or 'random' (random init)")
    parser.add_argument("--config", required=True, help="detection config, e.g. configs/detection/*.py")
    parser.add_argument("--work-dir", default="work_dirs/detect", help="logs, converted weights, checkpoints")
    parser.add_argument("--max-iters", type=int, default=None,
                        help="train this many iterations (LR steps scaled) instead of the config's schedule")
    parser.add_argument("--data-root", default=None, help="dataset folder replacing the config's data_root")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first trial")
    parser.add_argument("--trials", type=int, default=1, help="number of seeds (seed, seed+1, ...); MoCo uses 5 on VOC")
    parser.add_argument("--out", default=None, help="append result records (JSON lines) to this file")
    parser.add_argument("--format", choices=FORMATS, default=None, help="checkpoint layout (default: detect)")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none",
                        help="mmengine launcher (pytorch under torchrun)")
    parser.add_argument("--workers", type=int, default=None, help="dataloader workers per process")
    parser.add_argument("--no-checkpoint", action="store_true", help="do not save detector checkpoints")
    parser.add_argument("--cfg-options", nargs="+", type=_cfg_option, default=[], metavar="KEY=VALUE",
                        help="override config entries, as in mmdet's tools/train.py")


def run(args: argparse.Namespace) -> int:
    if args.trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {args.trials}")
    if args.max_iters is not None and args.max_iters < 1:
        raise ConfigError(f"--max-iters must be a positive integer, got {args.max_iters}; omit it to run the "
                          "config's own schedule")
    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers must be 0 or more, got {args.workers}")
    if args.out:
        ensure_writable(args.out, "--out", directory=False)
    ensure_writable(args.work_dir, "--work-dir", directory=True)
    from mcr_eval.transfer.run import DetectOptions, run_detection

    options = DetectOptions(checkpoint=args.checkpoint, config=args.config, work_dir=args.work_dir,
                            max_iters=args.max_iters, data_root=args.data_root, seed=args.seed,
                            launcher=args.launcher, workers=args.workers, save_checkpoints=not args.no_checkpoint,
                            cfg_options=dict(args.cfg_options), format=args.format)
    run_detection(options, trials=args.trials, out=args.out)
    return 0
