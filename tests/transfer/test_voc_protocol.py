"""The VOC07+12 config on a tiny VOCdevkit written here: datasets build, and the metric gives AP/AP50/AP75.

MoCo's VOC numbers are AP50 plus the COCO-style AP (mean over IoU 0.50:0.05:0.95) and AP75 with the VOC07
11-point metric. Ground truth used as predictions must score 1.0 at every threshold; boxes shifted by a
fifth of their width still match at IoU 0.5 but not at 0.75, so AP50 stays 1 while AP75 and AP drop.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mcr_eval.transfer.config import check_annotations, load_config, set_data_root
from mcr_eval.transfer.records import split_metrics

from .conftest import CONFIGS

VOC_CONFIG = CONFIGS / "faster-rcnn_r50-c4_syncbn-24k_voc0712.py"
BOXES = {"a": [("person", (10, 12, 60, 70)), ("dog", (50, 20, 90, 60))], "b": [("car", (20, 30, 80, 90))]}


def write_voc(root: Path) -> None:
    for year in ("VOC2007", "VOC2012"):
        for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
            (root / year / sub).mkdir(parents=True, exist_ok=True)
        for image_id, objects in BOXES.items():
            Image.fromarray(np.full((100, 120, 3), 128, np.uint8)).save(root / year / "JPEGImages" / f"{image_id}.jpg")
            xml = "".join(f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x1}</xmin>"
                          f"<ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
                          for name, (x1, y1, x2, y2) in objects)
            (root / year / "Annotations" / f"{image_id}.xml").write_text(
                f"<annotation><size><width>120</width><height>100</height><depth>3</depth></size>{xml}</annotation>")
        for split in ("trainval", "test"):
            (root / year / "ImageSets" / "Main" / f"{split}.txt").write_text("a\nb\n")


def evaluate(cfg, shift: float) -> dict:
    from mmdet.registry import DATASETS, METRICS
    from mmdet.utils import register_all_modules

    register_all_modules()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    metric = METRICS.build(cfg.test_evaluator)
    metric.dataset_meta = dataset.metainfo
    for index in range(len(dataset)):
        sample = dataset[index]["data_samples"]
        boxes = sample.gt_instances.bboxes.tensor.clone()
        boxes[:, [0, 2]] += shift * (boxes[:, 2] - boxes[:, 0])[:, None]
        sample.pred_instances = type(sample.gt_instances)(
            bboxes=boxes, labels=sample.gt_instances.labels, scores=torch.ones(len(boxes)))
        metric.process({}, [sample.to_dict()])
    return {f"pascal_voc/{k}": v for k, v in metric.compute_metrics(metric.results).items()}


@pytest.fixture(scope="module")
def voc_cfg(tmp_path_factory):
    root = tmp_path_factory.mktemp("VOCdevkit")
    write_voc(root)
    cfg = load_config(VOC_CONFIG)
    set_data_root(cfg, str(root))
    check_annotations(cfg)
    return cfg


def test_voc0712_training_set_concatenates_both_years(voc_cfg):
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules

    register_all_modules()
    train = DATASETS.build(voc_cfg.train_dataloader.dataset)
    assert len(train) == 4 and train.metainfo["classes"][14] == "person"


def test_ground_truth_as_predictions_scores_one(voc_cfg):
    metrics = split_metrics(evaluate(voc_cfg, shift=0.0))["detection"]
    assert metrics == {"AP": pytest.approx(1.0), "AP50": pytest.approx(1.0), "AP75": pytest.approx(1.0)}


def test_shifted_boxes_keep_ap50_but_lose_ap75(voc_cfg):
    metrics = split_metrics(evaluate(voc_cfg, shift=0.2))["detection"]
    assert metrics["AP50"] == pytest.approx(1.0)
    assert metrics["AP75"] < 0.5 and metrics["AP"] < 0.7
