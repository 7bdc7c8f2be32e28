"""Detection / instance-segmentation metrics -> result records (docs/contracts.md section 2).

MMDetection's ``CocoMetric`` reports ``coco/bbox_mAP``, ``coco/bbox_mAP_50``, ... (COCO AP at IoU
0.50:0.95, 0.50, 0.75 and per object size); the VOC config's ``VOCMetric`` with IoU 0.50:0.05:0.95 reports
``pascal_voc/mAP`` (their mean: the COCO-style AP of the MoCo VOC protocol), ``pascal_voc/AP50`` and
``pascal_voc/AP75``. Boxes give task ``detection``, masks task ``segmentation``; values are in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mcr_train.errors import TrainingError

COCO_NAMES = {"mAP": "AP", "mAP_50": "AP50", "mAP_75": "AP75", "mAP_s": "APs", "mAP_m": "APm", "mAP_l": "APl"}
COCO_TASKS = {"bbox": "detection", "segm": "segmentation"}
VOC_NAMES = {"mAP": "AP", "AP50": "AP50", "AP75": "AP75"}
HEADLINE = ("AP", "AP50", "AP75")
NO_GROUND_TRUTH = -1.0  # COCOeval's value for an area range without ground truth


def split_metrics(metrics: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """``{task: {AP|AP50|AP75|APs|APm|APl: value}}`` from mmdet's metric dict; raise when unusable."""
    out: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        group, _, name = key.partition("/")
        if group == "coco":
            iou_type, _, stat = name.partition("_")
            task, metric = COCO_TASKS.get(iou_type), COCO_NAMES.get(stat)
        elif group == "pascal_voc":
            task, metric = "detection", VOC_NAMES.get(name)
        else:
            continue
        if task is None or metric is None:
            continue
        number = float(value)
        if not math.isfinite(number):
            raise TrainingError(f"evaluation gave {key} = {number}; the detector diverged, lower the learning rate "
                                "(--cfg-options optim_wrapper.optimizer.lr=...) or check the encoder normalization")
        if number == NO_GROUND_TRUTH and metric not in HEADLINE:
            continue  # no objects of that size in the evaluation set
        out.setdefault(task, {})[metric] = number
    if not out:
        raise TrainingError("evaluation returned no metrics: the detector produced no detections above "
                            "model.test_cfg.rcnn.score_thr (CocoMetric then returns an empty dict); train longer "
                            "or lower the score threshold with --cfg-options")
    for task, values in out.items():
        if any(values.get(m) == NO_GROUND_TRUTH for m in HEADLINE):
            raise TrainingError(f"{task} AP is undefined (-1): the evaluation set has no ground-truth objects; "
                                "check the annotation file and metainfo.classes of the config")
    return out
