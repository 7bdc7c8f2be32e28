"""Multi-object scenes: the COCO export is valid and agrees with the rendered pixels."""

import json

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from mcr_train.data.cli import main as data_main
from mcr_train.data.scenes_multi import MAX_OBJECTS, multi_scene


def test_multi_scenes_have_1_to_5_disjoint_instances():
    counts = []
    for i in range(40):
        scene = multi_scene(0, i, 96)
        counts.append(len(scene.masks))
        total = np.sum([m.astype(int) for m in scene.masks], axis=0)
        assert total.max() <= 1  # visible masks never overlap
    assert min(counts) >= 1 and max(counts) <= MAX_OBJECTS and len(set(counts)) >= 3


def test_coco_file_loads_and_masks_match_pixels(tmp_path):
    out = tmp_path / "coco"
    assert data_main(["scenes", "--n", "12", "--size", "96", "--seed", "1", "--out", str(out), "--multi",
                      "--coco"]) == 0
    coco = COCO(str(out / "instances.json"))
    assert len(coco.imgs) == 12 and len(coco.anns) >= 12
    assert {c["name"] for c in coco.cats.values()} >= {"circle", "square"}
    for ann in coco.anns.values():
        mask = coco.annToMask(ann).astype(bool)
        scene = multi_scene(1, ann["image_id"] - 1, 96)
        rendered = [m for m in scene.masks if np.array_equal(m, mask)]
        assert len(rendered) == 1  # the exported mask is exactly one rendered instance
        assert ann["area"] == mask.sum() == float(mask_utils.area(ann["segmentation"]))
        x, y, w, h = ann["bbox"]
        ys, xs = np.nonzero(mask)
        assert xs.min() >= x and ys.min() >= y and xs.max() < x + w and ys.max() < y + h
        assert xs.min() == x and ys.min() == y and xs.max() == x + w - 1 and ys.max() == y + h - 1
    doc = json.loads((out / "instances.json").read_text())
    assert {"images", "annotations", "categories"} <= set(doc)
    assert (out / "images" / "000000.png").is_file() and (out / "factors.csv").is_file()
