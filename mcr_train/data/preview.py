"""A picture of the embedded data: single-object scenes with their masks, and multi-object scenes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mcr_train.data.scenes import render, sample_factors
from mcr_train.data.scenes_multi import mask_box_xywh, multi_scene

PALETTE = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                    [145, 30, 180], [70, 240, 240]], dtype=np.float32)


def _overlay(image: np.ndarray, mask: np.ndarray, color: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    out = image.astype(np.float32).copy()
    out[mask] = (1 - alpha) * out[mask] + alpha * color
    return out.astype(np.uint8)


def _tile(image: np.ndarray, tile: int) -> Image.Image:
    return Image.fromarray(image).resize((tile, tile), Image.NEAREST)


def scenes_grid(path: Path, columns: int = 8, size: int = 64, seed: int = 0, multi_size: int = 128) -> Path:
    """Rows: scenes, their object masks (red) and detail masks (cyan), then multi-object instances."""
    tile, pad = 96, 4
    singles = [render(sample_factors(seed, i), size) for i in range(columns)]
    multis = [multi_scene(seed, i, multi_size) for i in range(columns)]
    rows = [
        [s.image for s in singles],
        [_overlay(s.image, s.object_mask, np.array([255, 0, 0])) for s in singles],
        [_overlay(s.image, s.detail_mask, np.array([0, 255, 255]), 0.8) for s in singles],
        [m.image for m in multis],
    ]
    instance_row = []
    for m in multis:
        img = m.image
        for k, mask in enumerate(m.masks):
            img = _overlay(img, mask, PALETTE[k % len(PALETTE)])
        instance_row.append(img)
    rows.append(instance_row)
    canvas = Image.new("RGB", (columns * (tile + pad) + pad, len(rows) * (tile + pad) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            x, y = pad + c * (tile + pad), pad + r * (tile + pad)
            canvas.paste(_tile(img, tile), (x, y))
            if r == len(rows) - 1:
                scale = tile / multi_size
                for bx, by, bw, bh in (mask_box_xywh(mk) for mk in multis[c].masks):
                    draw.rectangle([x + bx * scale, y + by * scale, x + (bx + bw) * scale - 1,
                                    y + (by + bh) * scale - 1], outline=(255, 255, 255))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path
