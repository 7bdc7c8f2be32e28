"""Build an mmengine ``Runner`` from an mcr training config.

Config keys (flat; see ``configs/train/_base_/``): ``model`` (method registry dict), ``data``
(``spec``, optional ``split`` (default ``train``), ``views``, ``input_size``, ``batch_size``,
``num_workers``), ``schedule`` (``epochs``,
``warmup_epochs``, ``warmup_start_factor``, ``min_lr_ratio``), ``optimizer`` (mmengine optimizer dict;
``SGD`` or ``LARS``), ``amp`` (``None``, ``'bf16'``, ``'fp16'``), ``sync_bn``, ``seed``,
``deterministic``, ``checkpoint_interval``, ``max_keep_ckpts``, ``log_interval``, ``tensorboard``,
``clip_grad``, ``knn_monitor`` and ``custom_hooks`` (see :mod:`mcr_train.engine.monitor`).
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.runner import Runner

from mcr_train.engine.checkpoint import ATOMIC_BACKEND, choose_resume_checkpoint, register_safe_globals
from mcr_train.engine.hooks import SSLScheduleHook
from mcr_train.engine.monitor import MONITOR_DEFAULTS
from mcr_train.engine.schedule import IterSchedule, lr_schedulers
from mcr_train.errors import ConfigError

DEFAULTS: dict = dict(
    amp=None,
    sync_bn=False,
    seed=0,
    deterministic=False,
    checkpoint_interval=1000,
    max_keep_ckpts=2,
    log_interval=10,
    tensorboard=True,
    clip_grad=None,
    knn_monitor=dict(MONITOR_DEFAULTS),
    custom_hooks=[],
    schedule=dict(epochs=100, warmup_epochs=10, warmup_start_factor=0.01, min_lr_ratio=0.0),
)
_RUN_COUNTER = itertools.count()


def with_defaults(cfg: Config) -> Config:
    """Fill missing top-level and ``schedule`` keys with :data:`DEFAULTS`."""
    for key, value in DEFAULTS.items():
        if key not in cfg:
            cfg[key] = value
        elif isinstance(value, dict):
            merged = dict(value)
            merged.update(cfg[key])
            cfg[key] = merged
    for key in ("model", "data", "optimizer"):
        if key not in cfg:
            raise ConfigError(f"the config has no '{key}' section; start from a file in configs/train/")
    return cfg


def _init_cpu_distributed(launcher: str) -> None:
    """mmengine's pytorch launcher pins a CUDA device; on CPU start gloo from torchrun's env instead."""
    if launcher == "pytorch" and not torch.cuda.is_available() and not dist.is_initialized():
        for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
            if var not in os.environ:
                raise ConfigError(f"--launcher pytorch needs {var} in the environment; start with torchrun")
        dist.init_process_group("gloo")


def world_size_for(launcher: str) -> int:
    return int(os.environ.get("WORLD_SIZE", "1")) if launcher == "pytorch" else 1


def optim_wrapper_cfg(cfg: Config) -> dict:
    wrapper = dict(constructor="MethodParamGroupsConstructor", optimizer=dict(cfg.optimizer))
    if cfg.clip_grad:
        wrapper["clip_grad"] = dict(cfg.clip_grad)
    if cfg.amp:
        if not torch.cuda.is_available():
            raise ConfigError(f"amp='{cfg.amp}' needs a GPU; set amp=None for CPU runs")
        dtypes = {"bf16": "bfloat16", "fp16": "float16"}
        if cfg.amp not in dtypes:
            raise ConfigError(f"amp must be None, 'bf16' or 'fp16', got {cfg.amp!r}")
        wrapper.update(type="AmpOptimWrapper", dtype=dtypes[cfg.amp])
    else:
        wrapper["type"] = "OptimWrapper"
    return wrapper


def build_runner(
    cfg: Config,
    model_cls: type,
    dataset,
    work_dir: str | Path,
    schedule: IterSchedule,
    launcher: str = "none",
    resume: bool = False,
    extra_hooks: list[dict] | None = None,
    resume_from: str | Path | None = None,
    notices: list[str] | None = None,
) -> Runner:
    """Assemble the Runner; ``dataset`` is a built :class:`TwoViewDataset`, ``model_cls`` a method class,
    ``extra_hooks`` the config's hooks (:func:`mcr_train.engine.monitor.config_hooks`).

    With ``resume``, training continues from ``resume_from``, or else from the newest readable checkpoint
    in ``work_dir`` (:func:`choose_resume_checkpoint`). ``notices`` (e.g. a skipped corrupt checkpoint) go
    to the run's log."""
    register_safe_globals()
    import mcr_train.engine.optim  # noqa: F401  (registers LARS, the constructor and the DDP wrapper)
    from mcr_train.views.dataset import PositionedInfiniteSampler

    work_dir = Path(work_dir)
    notices = list(notices or [])
    load_from = None
    if resume:
        load_from = resume_from
        if load_from is None:
            load_from, skipped = choose_resume_checkpoint(work_dir)
            for line in skipped:
                print(f"warning: {line}", file=sys.stderr)
            notices += skipped
    model = dict(cfg.model)
    model["type"] = model_cls
    data = cfg.data
    num_workers = int(data.get("num_workers", 2))
    dataloader = dict(
        batch_size=int(data.batch_size),
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=torch.cuda.is_available(),
        dataset=dataset,
        sampler=dict(type=PositionedInfiniteSampler, shuffle=True),
        collate_fn=dict(type="default_collate"),
    )
    checkpoint_interval = min(int(cfg.checkpoint_interval), schedule.max_iters)
    default_hooks = dict(
        timer=dict(type="IterTimerHook"),
        logger=dict(type="LoggerHook", interval=int(cfg.log_interval), log_metric_by_epoch=False),
        param_scheduler=dict(type="ParamSchedulerHook"),
        checkpoint=dict(
            type="RelativePointerCheckpointHook",
            by_epoch=False,
            interval=checkpoint_interval,
            max_keep_ckpts=int(cfg.max_keep_ckpts),
            save_last=True,
            backend_args=dict(backend=ATOMIC_BACKEND),
        ),
        sampler_seed=dict(type="DistSamplerSeedHook"),
    )
    vis_backends = [dict(type="LocalVisBackend")]
    if cfg.tensorboard:
        vis_backends.append(dict(type="TensorboardVisBackend"))
    run_cfg = cfg.copy()
    regularizer = cfg.get("regularizer")
    if regularizer and str(dict(regularizer).get("type", "none")).lower() != "none":
        import mcr_train.mcr  # noqa: F401  (registers MCRDataParallel, which keeps the bi-level train_step)

        run_cfg["model_wrapper_cfg"] = dict(type="MCRDataParallel")
    else:
        run_cfg["model_wrapper_cfg"] = dict(type="DeviceAwareDDP", broadcast_buffers=False,
                                            find_unused_parameters=False)
    if cfg.sync_bn:
        if launcher != "none" and not torch.cuda.is_available():
            raise ConfigError("sync_bn=True needs GPUs (torch's SyncBatchNorm is GPU-only); set sync_bn=False on CPU")
        run_cfg["sync_bn"] = "torch"
    elif "sync_bn" in run_cfg:
        run_cfg.pop("sync_bn")
    _init_cpu_distributed(launcher)
    runner = Runner(
        model=model,
        work_dir=str(work_dir),
        train_dataloader=dataloader,
        train_cfg=dict(type="IterBasedTrainLoop", max_iters=schedule.max_iters),
        optim_wrapper=optim_wrapper_cfg(cfg),
        param_scheduler=lr_schedulers(schedule, cfg.schedule.warmup_start_factor, cfg.schedule.min_lr_ratio),
        default_hooks=default_hooks,
        custom_hooks=[SSLScheduleHook(schedule.effective_iters_per_epoch), *(extra_hooks or [])],
        load_from=str(load_from) if load_from else None,
        resume=bool(resume),
        launcher=launcher,
        env_cfg=dict(
            cudnn_benchmark=not cfg.deterministic,
            dist_cfg=dict(backend="nccl" if torch.cuda.is_available() else "gloo"),
        ),
        log_processor=dict(by_epoch=False, window_size=int(cfg.log_interval)),
        visualizer=dict(type="Visualizer", vis_backends=vis_backends),
        randomness=dict(seed=int(cfg.seed), deterministic=bool(cfg.deterministic)),
        experiment_name=f"{Path(cfg.filename or 'run').stem}_{os.getpid()}_{next(_RUN_COUNTER)}",
        cfg=run_cfg,
    )
    for line in notices:
        runner.logger.warning(line)
    return runner
