"""Train and evaluate one detection transfer run with mmengine's ``Runner`` and turn it into records.

Because training goes through ``Runner.from_cfg`` with ``launcher`` from the command line, multi-GPU runs
use ``torchrun --nproc_per_node N -m mcr_eval.cli detect ... --launcher pytorch`` (or mmdet's
``dist_train.sh``-style launchers) with no code of our own for distribution. Records are written by rank 0.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcr_eval.records import append_records, records_for_encoder
from mcr_eval.transfer.config import (
    check_annotations,
    check_offline,
    load_config,
    protocol_of,
    set_backbone_stem,
    set_data_root,
    set_max_iters,
    set_pixel_norm,
    set_pretrained,
    set_workers,
)
from mcr_eval.transfer.records import split_metrics
from mcr_eval.transfer.weights import (
    RANDOM_INIT,
    PretrainedWeights,
    check_fits,
    prepare_pretrained,
    random_init_weights,
)


@dataclass
class DetectOptions:
    """Everything one ``mcr-eval detect`` call needs (mirrors the CLI flags)."""

    checkpoint: str
    config: str
    work_dir: str
    max_iters: int | None = None
    data_root: str | None = None
    seed: int = 0
    launcher: str = "none"
    workers: int | None = None
    save_checkpoints: bool = True
    cfg_options: dict[str, Any] = field(default_factory=dict)
    format: str | None = None


@dataclass
class TrialResult:
    seed: int
    metrics: dict[str, dict[str, float]]  # {task: {metric: value}}
    protocol: dict[str, Any]
    n_images: int
    verified_tensors: int
    dataset: str = "unknown"
    split: str = "val"


def load_weights(options: DetectOptions, model_cfg: dict) -> PretrainedWeights:
    if options.checkpoint == RANDOM_INIT:
        return random_init_weights(model_cfg)
    return prepare_pretrained(options.checkpoint, Path(options.work_dir) / "pretrained", format=options.format)


def build_run_config(options: DetectOptions, weights: PretrainedWeights | None, seed: int, work_dir: Path):
    """The config of one trial; with ``weights`` None it prepares them (and returns them too)."""
    cfg = load_config(options.config, options.cfg_options)
    if weights is None:
        weights = load_weights(options, cfg.model)
    set_pretrained(cfg, None if weights.is_random else str(weights.path))
    set_backbone_stem(cfg, str(weights.meta["stem"]))  # CIFAR stem: CifarStemResNet and strides / 4
    check_offline(cfg)
    check_fits(weights, cfg.model)
    if options.data_root:
        set_data_root(cfg, options.data_root)
    check_annotations(cfg)
    if options.max_iters is not None:
        set_max_iters(cfg, options.max_iters)
    if options.workers is not None:
        set_workers(cfg, options.workers)
    if not options.save_checkpoints:
        cfg.default_hooks.checkpoint = None
    set_pixel_norm(cfg, weights.meta.get("mean"), weights.meta.get("std"))
    cfg.custom_hooks = [*cfg.get("custom_hooks", []), dict(type="CollectMetricsHook")]
    cfg.work_dir = str(work_dir)
    cfg.launcher = options.launcher
    cfg.randomness = dict(seed=int(seed), deterministic=False)
    cfg.experiment_name = f"{Path(options.config).stem}_seed{seed}"
    return cfg, weights


def _hook(runner, name: str):
    return next((h for h in runner.hooks if type(h).__name__ == name), None)


def run_trial(options: DetectOptions, seed: int, weights: PretrainedWeights | None = None,
              work_dir: Path | None = None) -> tuple[TrialResult, PretrainedWeights]:
    """Train + evaluate once; return the parsed metrics (raises McrError subclasses on user errors)."""
    from mmengine.runner import Runner

    cfg, weights = build_run_config(options, weights, seed, Path(work_dir or options.work_dir))
    init = "random" if weights.is_random else "pretrained"
    protocol = protocol_of(cfg, options.config, seed, init)
    runner = Runner.from_cfg(cfg)
    runner.train()
    collected = _hook(runner, "CollectMetricsHook").metrics
    verify = _hook(runner, "VerifyPretrainedHook")
    metrics = split_metrics(collected)
    n_images = len(runner.val_dataloader.dataset)
    dataset = str(cfg.get("transfer_dataset", Path(str(cfg.get("data_root", "data"))).name))
    result = TrialResult(seed, metrics, protocol, n_images, verify.compared if verify else 0, dataset,
                         str(cfg.get("transfer_split", "val")))
    return result, weights


def trial_records(result: TrialResult, weights: PretrainedWeights) -> list[dict]:
    """Records of one trial: one per (task, metric), the detection seed stated in the protocol."""
    records = []
    for task, values in result.metrics.items():
        records += records_for_encoder(weights.meta, task, result.dataset, result.split, result.protocol, values,
                                       result.n_images)
    return records


def summarize(results: list[TrialResult]) -> list[str]:
    """``task metric: mean ± std (K trials)`` lines (sample std; 0 for one trial)."""
    lines = []
    for task in results[0].metrics:
        for metric in results[0].metrics[task]:
            # A fraction in [0, 1] with three decimals, as in the records and the reports: one unit everywhere.
            values = [r.metrics[task][metric] for r in results if metric in r.metrics.get(task, {})]
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            lines.append(f"{task} {metric}: {statistics.fmean(values):.3f} ± {std:.3f} ({len(values)} trials)")
    return lines


def run_detection(options: DetectOptions, trials: int = 1, out: str | None = None,
                  log=print) -> list[TrialResult]:
    """Run ``trials`` seeds (``seed, seed+1, ...``), append records to ``out`` (rank 0) and print a summary."""
    from mmengine.dist import is_main_process

    results: list[TrialResult] = []
    weights = None
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    for trial in range(trials):
        seed = options.seed + trial
        work_dir = Path(options.work_dir) if trials == 1 else Path(options.work_dir) / f"seed{seed}"
        result, weights = run_trial(options, seed, weights, work_dir)
        results.append(result)
        if out and is_main_process():
            append_records(out, trial_records(result, weights))
    if is_main_process():
        log(f"[mcr-eval detect] {Path(options.config).stem} ({stamp}): " + "; ".join(summarize(results)))
        if out:
            log(f"[mcr-eval detect] records appended to {out}")
    return results
