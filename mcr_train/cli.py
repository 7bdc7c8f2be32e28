"""``mcr-train CONFIG [--work-dir DIR] [--cfg-options k=v ...] [--max-iters N] [--resume | --overwrite]
[--launcher none|pytorch] [--seed S] [--device auto|cuda|cpu]``: pretrain one SSL method and export its encoder.

Multi-GPU and multi-node: ``torchrun --nproc-per-node 8 -m mcr_train.cli CONFIG --launcher pytorch``.

Every user error is one ``error: ...`` line (exit 2), found before any data is built and before anything is
written beyond the work dir itself (see :mod:`mcr_train.engine.validate` and :mod:`mcr_train.engine.workdir`).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mmengine.config import Config, DictAction

from mcr_train.errors import ConfigError, TrainingError, cli_errors


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one :class:`ConfigError` line instead of usage text."""

    def error(self, message: str):
        raise ConfigError(f"{message}; see mcr-train --help")


class _CfgOptions(DictAction):
    """mmengine's ``DictAction`` that rejects an item without ``=`` (it would raise a bare ValueError)."""

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values:
            key, sep, _ = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"--cfg-options item '{item}' is not key=value; write it as "
                                  f"{key.strip() or 'optimizer.lr'}=VALUE, e.g. optimizer.lr=0.1")
        super().__call__(parser, namespace, values, option_string)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _ArgumentParser(prog="mcr-train", description="Self-supervised pretraining with mmengine.")
    parser.add_argument("config", help="training config, e.g. configs/train/simclr_resnet18-cifar_1xb128-30e_scenes.py")
    parser.add_argument("--work-dir", help="output folder (default: work_dirs/<config name>/seed<seed>)")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=_CfgOptions,
        default={},
        help="override config keys, e.g. optimizer.lr=0.1 data.batch_size=64",
    )
    parser.add_argument("--max-iters", type=int, help="cap the schedule at N iterations (compressed, complete)")
    parser.add_argument("--resume", action="store_true", help="resume from the last checkpoint in the work dir")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a previous run in the work dir (its encoder, checkpoints and last_checkpoint are deleted "
        "when training starts; its logs stay); without it, a work dir that holds a run is refused",
    )
    parser.add_argument(
        "--launcher",
        choices=["none", "pytorch"],
        default="none",
        help="'pytorch' under torchrun for multi-process training",
    )
    parser.add_argument("--seed", type=int, help="training seed (overrides the config)")
    parser.add_argument(
        "--device", choices=["auto", "cuda", "cpu"], default="auto", help="where to train (auto: CUDA when present)"
    )
    args = parser.parse_args(argv)
    if args.resume and args.overwrite:
        raise ConfigError("--resume continues the run in the work dir and --overwrite replaces it; pass only one")
    return args


def load_config(path: str) -> Config:
    if not Path(path).is_file():
        raise ConfigError(f"config file {path} does not exist; pick one from configs/train/")
    try:
        return Config.fromfile(path)
    except Exception as exc:  # syntax errors and bad _base_ references
        raise ConfigError(f"cannot read config {path}: {' '.join(str(exc).split())}") from None


def _kind(value) -> str | None:
    """The kind of value a config key holds, for options that must keep it (``None``: anything goes)."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a dict"
    return None


def _check_option_type(key: str, old, new) -> None:
    kind = _kind(old)
    if kind is None or new is None or _kind(new) == kind:
        return
    example = f"{key}.<key>=VALUE" if kind == "a dict" else f"{key}={old}".replace(" ", "")
    raise ConfigError(f"--cfg-options {key} expects {kind} like the config's {old!r}, got {new!r}; "
                      f"pass e.g. {example}")


def apply_cfg_options(cfg: Config, options: dict) -> None:
    """Merge ``--cfg-options``; every key must already exist, so typos fail instead of being ignored, and
    keep its kind of value (a number stays a number), so ``data.batch_size=abc`` fails here, not in torch."""
    for key, value in options.items():
        node, walked = cfg.to_dict(), []
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                where = ".".join(walked) or "the top level"
                known = sorted(node.keys()) if isinstance(node, dict) else []
                raise ConfigError(f"--cfg-options key '{key}' is not in the config; keys at {where}: {known}")
            node = node[part]
            walked.append(part)
        _check_option_type(key, node, value)
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
    notices: list[str] = field(default_factory=list)


def _is_rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _notice(notices: list[str], line: str) -> None:
    """One line on stderr now, and into the run's log once the runner exists."""
    print(f"warning: {line}", file=sys.stderr)
    notices.append(line)


def prepare_work_dir(work_dir: Path, args: argparse.Namespace, notices: list[str]) -> Path | None:
    """Lock the (writable) work dir, clear a killed run's temporary files, and refuse to clobber a run.

    Returns the checkpoint to resume from (``--resume``), after checking its bytes."""
    from mcr_train.engine.checkpoint import choose_resume_checkpoint
    from mcr_train.engine.workdir import guard_previous_run, lock_work_dir, remove_stale_files

    if _is_rank_zero():
        stale_lock = lock_work_dir(work_dir)
        removed = remove_stale_files(work_dir) + ([stale_lock] if stale_lock else [])
        if removed:
            _notice(notices, f"removed stale files left by an interrupted run in {work_dir}: {', '.join(removed)}")
    guard_previous_run(work_dir, args.resume, args.overwrite)
    if not args.resume:
        return None
    resume_from, skipped = choose_resume_checkpoint(work_dir)
    for line in skipped:
        _notice(notices, line)
    return resume_from


def model_class(cfg: Config) -> type:
    """The registered method, wrapped by its regularizer when the config has one."""
    from mcr_train.methods.registry import get_method

    model_cls = get_method(cfg.model.get("type"))
    regularizer = cfg.get("regularizer")
    if regularizer and str(dict(regularizer).get("type", "none")).lower() != "none":
        from mcr_train.mcr.registry import regularized_model_class  # the method file stays untouched

        model_cls = regularized_model_class(model_cls, dict(regularizer))
    check_backbone(cfg.model.get("backbone", {}))
    return model_cls


def prepare_training(argv: list[str] | None = None) -> TrainingJob:
    """Parse arguments; validate the config, device, method and work dir; then build the data and the
    mmengine Runner (no training yet). Every check that needs no data runs before the data is built."""
    args = parse_args(argv)
    from mcr_train.engine.runner import with_defaults
    from mcr_train.engine.validate import select_device, validate_config
    from mcr_train.engine.workdir import (
        clear_previous_run,
        default_work_dir,
        ensure_writable,
        remove_created,
        unlock_work_dir,
    )

    cfg = with_defaults(load_config(args.config))
    apply_cfg_options(cfg, args.cfg_options)
    if args.seed is not None:
        cfg.seed = args.seed
    validate_config(cfg)
    select_device(args.device, cfg.get("amp"))
    model_cls = model_class(cfg)
    work_dir = Path(args.work_dir or cfg.get("work_dir") or default_work_dir(args.config, cfg.seed))
    created = ensure_writable(work_dir)
    notices: list[str] = []
    try:
        resume_from = prepare_work_dir(work_dir, args, notices)
        job = _build_job(cfg, model_cls, args, work_dir, resume_from, notices)
    except BaseException:
        unlock_work_dir(work_dir)
        remove_created(created)  # a run that never started leaves no empty folder behind
        raise
    if args.overwrite and _is_rank_zero():
        removed = clear_previous_run(work_dir)
        if removed:
            line = f"--overwrite: removed the previous run's {', '.join(removed)} from {work_dir}"
            _notice(notices, line)
            job.runner.logger.warning(line)
    return job


def _build_job(cfg: Config, model_cls: type, args: argparse.Namespace, work_dir: Path, resume_from: Path | None,
               notices: list[str]) -> TrainingJob:
    from mcr_train.data import build_dataset, dataset_stats
    from mcr_train.engine.monitor import config_hooks
    from mcr_train.engine.runner import build_runner, world_size_for
    from mcr_train.engine.schedule import plan_schedule
    from mcr_train.views import build_views
    from mcr_train.views.dataset import RawImageDataset, TwoViewDataset
    from mcr_train.views.device import DeviceTwoViewPreprocessor  # noqa: F401  (registers it)

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
    runner = build_runner(cfg, model_cls, dataset, work_dir, schedule, args.launcher, args.resume, hooks,
                          resume_from=resume_from, notices=notices)
    return TrainingJob(cfg, runner, views, schedule, dataset, tuple(mean), tuple(std), work_dir, notices)


def run_training(job: TrainingJob) -> None:
    """Train, then (on rank 0) export ``encoder.safetensors`` and ``encoder.json`` into the work dir."""
    from mcr_train.engine.checkpoint import find_resumable_checkpoint
    from mcr_train.engine.hooks import unwrap
    from mcr_train.engine.workdir import unlock_work_dir
    from mcr_train.export import export_encoder

    try:
        try:
            job.runner.train()
        except TrainingError as exc:
            last = find_resumable_checkpoint(job.work_dir)
            raise TrainingError(f"{exc} (last good checkpoint: {last or 'none saved yet'})") from None
        if _is_rank_zero():
            model = unwrap(job.runner.model)
            meta = encoder_meta(job.cfg, model, job.views, job.schedule, job.mean, job.std)
            export_encoder(model.backbone, job.work_dir, meta)
    finally:
        unlock_work_dir(job.work_dir)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    run_training(prepare_training(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
