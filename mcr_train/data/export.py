"""Write factor scenes to disk: PNG images, masks, ``factors.csv`` and a COCO ``instances.json``."""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from mcr_train.data.scenes import FACTOR_NAMES, render, sample_factors
from mcr_train.data.scenes_multi import coco_annotations, coco_document, multi_scene


def _save_png(array: np.ndarray, path: Path) -> None:
    Image.fromarray(array).save(path, format="PNG")


def _write_json_atomic(doc: dict, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_single_scenes(out: Path, n: int, size: int, seed: int, progress: bool = True) -> float:
    """Write ``n`` single-object scenes; return images per second."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    start = time.perf_counter()
    with open(out / "factors.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", *FACTOR_NAMES])
        for i in tqdm(range(n), desc="scenes", disable=not progress, unit="img"):
            factors = sample_factors(seed, i)
            scene = render(factors, size)
            name = f"{i:06d}.png"
            _save_png(scene.image, out / "images" / name)
            _save_png(scene.object_mask.astype(np.uint8) * 255, out / "masks" / f"{i:06d}_object.png")
            _save_png(scene.detail_mask.astype(np.uint8) * 255, out / "masks" / f"{i:06d}_detail.png")
            writer.writerow([f"images/{name}", *(getattr(factors, k) for k in FACTOR_NAMES)])
    return n / max(time.perf_counter() - start, 1e-9)


def write_multi_scenes(out: Path, n: int, size: int, seed: int, coco: bool, progress: bool = True) -> float:
    """Write ``n`` multi-object scenes, a mask PNG per instance, and optionally COCO instances."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    images, annotations = [], []
    start = time.perf_counter()
    with open(out / "factors.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "instance", "shape", "color", "texture", "scale", "pos_x", "pos_y", "background"])
        for i in tqdm(range(n), desc="multi-object scenes", disable=not progress, unit="img"):
            scene = multi_scene(seed, i, size)
            name = f"{i:06d}.png"
            _save_png(scene.image, out / "images" / name)
            for k, (mask, obj) in enumerate(zip(scene.masks, scene.objects)):
                _save_png(mask.astype(np.uint8) * 255, out / "masks" / f"{i:06d}_{k}.png")
                writer.writerow([f"images/{name}", k, obj.shape, obj.color, obj.texture, obj.scale,
                                 obj.pos_x, obj.pos_y, scene.background])
            images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
            annotations += coco_annotations(scene, i + 1, len(annotations) + 1)
    rate = n / max(time.perf_counter() - start, 1e-9)
    if coco:
        _write_json_atomic(coco_document(images, annotations), out / "instances.json")
    return rate
