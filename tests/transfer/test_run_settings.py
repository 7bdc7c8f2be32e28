"""Per-run config settings: schedule truncation, data root, offline guard, trial summary."""

from __future__ import annotations

import statistics

import pytest

from mcr_eval.transfer.config import check_offline, load_config, set_data_root, set_max_iters
from mcr_eval.transfer.run import TrialResult, summarize
from mcr_train.errors import ConfigError

from .conftest import CONFIGS

FPN_CONFIG = CONFIGS / "mask-rcnn_r50_fpn_syncbn_ms-1x_coco.py"


def test_max_iters_scales_the_1x_milestones():
    cfg = load_config(FPN_CONFIG)
    set_max_iters(cfg, 120)  # 1x: 12 epochs, steps after epochs 8 and 11
    assert cfg.train_cfg == dict(type="IterBasedTrainLoop", max_iters=120, val_interval=120)
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.end, warmup.by_epoch) == ("LinearLR", 120, False)
    assert (steps.type, steps.milestones, steps.end, steps.by_epoch) == ("MultiStepLR", [80, 110], 120, False)
    assert cfg.default_hooks.checkpoint.interval == 120 and cfg.log_processor.by_epoch is False


def test_data_root_moves_datasets_and_evaluator(tmp_path):
    cfg = load_config(FPN_CONFIG)
    set_data_root(cfg, str(tmp_path))
    assert cfg.train_dataloader.dataset.data_root == f"{tmp_path}/"
    assert cfg.val_evaluator.ann_file == f"{tmp_path}/annotations/instances_val2017.json"


def test_mmdet_shipped_config_would_download_and_is_refused(tmp_path):
    path = tmp_path / "plain.py"
    path.write_text("_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'\n")
    with pytest.raises(ConfigError, match="torchvision://resnet50"):
        check_offline(load_config(path))


def test_summary_is_mean_and_sample_std_as_a_fraction_like_the_reports():
    values = [0.301, 0.322, 0.310]
    results = [TrialResult(seed=s, metrics={"detection": {"AP": v}}, protocol={}, n_images=1, verified_tensors=0)
               for s, v in enumerate(values)]
    mean, std = statistics.fmean(values), statistics.stdev(values)
    assert summarize(results) == [f"detection AP: {mean:.3f} ± {std:.3f} (3 trials)"]
