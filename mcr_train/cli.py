"""``mcr-train CONFIG [--work-dir DIR] [--cfg-options k=v ...] [--max-iters N] [--resume]
[--launcher none|pytorch] [--seed S]``: pretrain one SSL method and export its encoder.

Multi-GPU and multi-node: ``torchrun --nproc-per-node 8 -m mcr_train.cli CONFIG --launcher pytorch``.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from pathlib import Path

from mmengine.config import Config, DictAction

from mcr_train.errors import ConfigError, TrainingError, cli_errors


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mcr-train", description="Self-supervised pretraining with mmengine.")
    parser.add_argument("config", help="training config, e.g. configs/train/simclr_resnet18-cifar_1xb128-30e_scenes.py")
    parser.add_argument("--work-dir", help="output folder (default: work_dirs/<config name>)")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        default={},
        help="override config keys, e.g. optimizer.lr=0.1 data.batch_size=64",
    )
    parser.add_argument("--max-iters", type=int, help="cap the schedule at N iterations (compressed, complete)")
    parser.add_argument("--resume", action="store_true", help="resume from the last checkpoint in the work dir")
    parser.add_argument(
        "--launcher",
        choices=["none", "pytorch"],
        default="none",
        help="'pytorch' under torchrun for multi-process training",
    )
    parser.add_argument("--seed", type=int, help="training seed (overrides the config)")
    return parser.parse_args(argv)


def load_config(path: str) -> Config:
    if not Path(path).is_file():
        raise ConfigError(f"config file {path} does not exist; pick one from configs/train/")
    try:
        return Config.fromfile(path)
    except Exception as exc:  # syntax errors and bad _base_ references
        raise ConfigError(f"cannot read config {path}: {' '.join(str(exc).split())}") from None


def apply_cfg_options(cfg: Config, options: dict) -> None:
    """Merge ``--cfg-options``; every key must already exist, so typos fail instead of being ignored."""
    for key in options:
        node, walked = cfg.to_dict(), []
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                where = ".".join(walked) or "the top level"
                known = sorted(node.keys()) if isinstance(node, dict) else []
                raise ConfigError(f"--cfg-options key '{key}' is not in the config; keys at {where}: {known}")
            node = node[part]
            walked.append(part)
    cfg.merge_from_dict(options)


def check_backbone(backbone: dict) -> None:
    from mcr_train.models.backbone import STEMS, feature_dim

    feature_dim(backbone.get("arch", "resnet18"), backbone.get("width", 64))
    stem = backbone.get("stem", "cifar")
    if stem not in STEMS:
        raise ConfigError(f"unknown stem '{stem}'; choose 'cifar' (3x3, no max-pool) or 'imagenet'")


def encoder_meta(cfg: Config, model, views, schedule, mean, std) -> dict:
    from mcr_train.export import file_sha256, git_commit, suite_version

    epochs = schedule.max_iters / schedule.iters_per_epoch
    epochs = int(epochs) if math.isclose(epochs, round(epochs)) else round(epochs, 4)
    regularizer = getattr(model, "regularizer_info", None)
    backbone = model.backbone_cfg
    return dict(
        method=cfg.model.type,
        regularizer=regularizer() if callable(regularizer) else {"type": "none"},
        arch=backbone.get("arch", "resnet18"),
        stem=backbone.get("stem", "cifar"),
        width=int(backbone.get("width", 64)),
        feature_dim=int(model.feature_dim),
        input_size=int(cfg.data.input_size),
        mean=list(mean),
        std=list(std),
        pretrain_data=str(cfg.data.spec),
        views=views.name,
        destroyed_factors=views.destroyed_factors(),
        epochs=epochs,
        iters=int(schedule.max_iters),
        seed=int(cfg.seed),
        config=str(cfg.filename),
        config_sha256=file_sha256(cfg.filename),
        suite_version=suite_version(),
        git_commit=git_commit(),
    )


@dataclass
class TrainingJob:
    """Everything a run needs after parsing: the merged config, the runner, and export metadata."""

    cfg: Config
    runner: object
    views: object
    schedule: object
    dataset: object
    mean: tuple
    std: tuple
    work_dir: Path


def prepare_training(argv: list[str] | None = None) -> TrainingJob:
    """Parse arguments, validate the config and data, and build the mmengine Runner (no training yet)."""
    args = parse_args(argv)
    from mcr_train.data import build_dataset, dataset_stats
    from mcr_train.engine.monitor import config_hooks
    from mcr_train.engine.runner import build_runner, with_defaults, world_size_for
    from mcr_train.engine.schedule import plan_schedule
    from mcr_train.methods.registry import get_method
    from mcr_train.views import build_views
    from mcr_train.views.dataset import RawImageDataset, TwoViewDataset
    from mcr_train.views.device import DeviceTwoViewPreprocessor  # noqa: F401  (registers it)

    cfg = with_defaults(load_config(args.config))
    apply_cfg_options(cfg, args.cfg_options)
    if args.seed is not None:
        cfg.seed = args.seed
    work_dir = Path(args.work_dir or cfg.get("work_dir") or Path("work_dirs") / Path(args.config).stem)
    model_cls = get_method(cfg.model.get("type"))
    regularizer = cfg.get("regularizer")
    if regularizer and str(dict(regularizer).get("type", "none")).lower() != "none":
        from mcr_train.mcr.registry import regularized_model_class  # the method file stays untouched

        model_cls = regularized_model_class(model_cls, dict(regularizer))
    check_backbone(cfg.model.get("backbone", {}))
    spec = str(cfg.data.spec)
    mean, std = dataset_stats(spec)
    views = build_views(cfg.data.views, int(cfg.data.input_size), mean, std)
    base = build_dataset(spec, str(cfg.data.get("split", "train")))
    if cfg.data.get("device_views", False):
        dataset = RawImageDataset(base)  # views are drawn on the device by DeviceTwoViewPreprocessor
        cfg.model["data_preprocessor"] = dict(
            type="DeviceTwoViewPreprocessor", views=views.name, size=views.size, mean=list(mean), std=list(std)
        )
    else:
        dataset = TwoViewDataset(base, views, seed=int(cfg.seed))
    world = world_size_for(args.launcher)
    schedule = plan_schedule(
        len(dataset), int(cfg.data.batch_size) * world, cfg.schedule.epochs, cfg.schedule.warmup_epochs, args.max_iters
    )
    hooks = config_hooks(cfg, mean, std)
    runner = build_runner(cfg, model_cls, dataset, work_dir, schedule, args.launcher, args.resume, hooks)
    return TrainingJob(cfg, runner, views, schedule, dataset, tuple(mean), tuple(std), work_dir)


def run_training(job: TrainingJob) -> None:
    """Train, then (on rank 0) export ``encoder.safetensors`` and ``encoder.json`` into the work dir."""
    from mcr_train.engine.checkpoint import find_resumable_checkpoint
    from mcr_train.engine.hooks import unwrap
    from mcr_train.export import export_encoder

    try:
        job.runner.train()
    except TrainingError as exc:
        last = find_resumable_checkpoint(job.work_dir)
        raise TrainingError(f"{exc} (last good checkpoint: {last or 'none saved yet'})") from None
    if int(os.environ.get("RANK", "0")) == 0:
        model = unwrap(job.runner.model)
        meta = encoder_meta(job.cfg, model, job.views, job.schedule, job.mean, job.std)
        export_encoder(model.backbone, job.work_dir, meta)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    run_training(prepare_training(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
