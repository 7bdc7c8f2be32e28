"""Multi-object factor scenes and their COCO instances export (detection / instance segmentation).

Each image holds 1 to 5 objects drawn in order, so later objects occlude earlier ones; an instance's
mask is its *visible* pixels and its box is the tight box of that mask. Category = shape. Objects are
placed anywhere in the image (not only the central region used by single-object scenes).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np

from mcr_train.data.scenes import (
    BACKGROUNDS,
    COLORS,
    SCALES,
    SHAPES,
    TEXTURES,
    ObjectSpec,
    _pixel_grid,
    _shape_mask,
    _texture_pattern,
    background_rgb,
    check_size,
    color_rgb,
    factor_rng,
    to_uint8,
)

MAX_OBJECTS = 5
MULTI_SCALE_RADIUS = (0.08, 0.12, 0.16)
MIN_VISIBLE_FRACTION = 0.35  # drop objects mostly hidden by later ones
MULTI_STREAM = 7  # random stream id, so multi-object samples never coincide with single-object ones


@dataclass(frozen=True)
class MultiScene:
    image: np.ndarray  # (H, W, 3) uint8
    masks: list[np.ndarray]  # visible mask of each kept object
    objects: list[ObjectSpec]
    background: str


def sample_multi(seed: int, index: int) -> tuple[list[ObjectSpec], str]:
    rng = factor_rng(seed, index, MULTI_STREAM)
    count = int(rng.integers(1, MAX_OBJECTS + 1))
    objects = [
        ObjectSpec(
            shape=SHAPES[rng.integers(len(SHAPES))],
            color=COLORS[rng.integers(len(COLORS))],
            texture=TEXTURES[rng.integers(len(TEXTURES))],
            scale=SCALES[rng.integers(len(SCALES))],
            pos_x=float(rng.uniform()),
            pos_y=float(rng.uniform()),
        )
        for _ in range(count)
    ]
    return objects, BACKGROUNDS[rng.integers(len(BACKGROUNDS))]


def _multi_geometry(obj: ObjectSpec, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs, ys = _pixel_grid(size)
    radius = MULTI_SCALE_RADIUS[SCALES.index(obj.scale)]
    cx = radius + (1 - 2 * radius) * obj.pos_x
    cy = radius + (1 - 2 * radius) * obj.pos_y
    u, v = (xs - cx) / radius, (ys - cy) / radius
    return _shape_mask(obj.shape, u, v), u, v


def render_multi(objects: list[ObjectSpec], background: str, size: int = 128) -> MultiScene:
    """Render objects in order; return the image and the visible mask of each kept object."""
    size = check_size(size)
    canvas = np.empty((size, size, 3), dtype=np.float32)
    canvas[:] = background_rgb(background)
    owner = np.full((size, size), -1, dtype=np.int64)
    full_areas = []
    for i, obj in enumerate(objects):
        mask, u, v = _multi_geometry(obj, size)
        base = color_rgb(obj.color)
        canvas[mask] = base
        canvas[_texture_pattern(obj.texture, u, v) & mask] = base * 0.5
        owner[mask] = i
        full_areas.append(int(mask.sum()))
    kept_masks, kept_objects = [], []
    for i, obj in enumerate(objects):
        visible = owner == i
        if full_areas[i] and visible.sum() >= MIN_VISIBLE_FRACTION * full_areas[i]:
            kept_masks.append(visible)
            kept_objects.append(obj)
    return MultiScene(to_uint8(canvas), kept_masks, kept_objects, background)


def multi_scene(seed: int, index: int, size: int = 128) -> MultiScene:
    objects, background = sample_multi(seed, index)
    return render_multi(objects, background, size)


def mask_box_xywh(mask: np.ndarray) -> list[float]:
    """Tight COCO box [x, y, w, h] of a binary mask, in pixel-edge coordinates."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def coco_categories() -> list[dict]:
    return [{"id": i + 1, "name": name, "supercategory": "shape"} for i, name in enumerate(SHAPES)]


def coco_annotations(scene: MultiScene, image_id: int, first_ann_id: int) -> list[dict]:
    """COCO instance annotations with compressed RLE masks (pycocotools encoding)."""
    from pycocotools import mask as mask_utils

    anns = []
    for k, (mask, obj) in enumerate(zip(scene.masks, scene.objects)):
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        rle["counts"] = rle["counts"].decode("ascii")
        anns.append({
            "id": first_ann_id + k,
            "image_id": image_id,
            "category_id": SHAPES.index(obj.shape) + 1,
            "segmentation": rle,
            "area": float(mask.sum()),
            "bbox": mask_box_xywh(mask),
            "iscrowd": 0,
        })
    return anns


def coco_document(images: list[dict], annotations: list[dict]) -> dict:
    return {
        "info": {
            "description": "mcr factor scenes (multi-object)",
            "date_created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"),
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }
