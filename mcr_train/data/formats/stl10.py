"""STL-10 binary files (Coates et al., 2011): 96x96 RGB, column-major, labels 1..10."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcr_train.data.base import ArrayImageDataset, Transform, require_dir, require_file
from mcr_train.errors import DataError

SIDE = 96
IMAGE_BYTES = 3 * SIDE * SIDE
LAYOUT = ("ROOT/stl10_binary/{train_X.bin,train_y.bin,test_X.bin,test_y.bin,unlabeled_X.bin,"
          "class_names.txt} (the official binary version)")
SPLITS = {"train": ("train_X.bin", "train_y.bin"), "test": ("test_X.bin", "test_y.bin"),
          "unlabeled": ("unlabeled_X.bin", None)}
DEFAULT_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def _folder(root: Path) -> Path:
    for candidate in (root / "stl10_binary", root):
        if (candidate / "test_X.bin").is_file() or (candidate / "train_X.bin").is_file():
            return candidate
    require_dir(root, "stl10", LAYOUT)
    raise DataError(f"stl10: no train_X.bin/test_X.bin under {root}; expected {LAYOUT}")


def _read_images(path: Path) -> np.ndarray:
    size = path.stat().st_size
    if size == 0 or size % IMAGE_BYTES:
        raise DataError(f"stl10: {path} has {size} bytes, not a multiple of {IMAGE_BYTES}; it is truncated")
    # Memory-mapped: the unlabeled split is 2.7 GB. Stored as (N, C, W, H) in column-major order.
    raw = np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, 3, SIDE, SIDE)
    return raw.transpose(0, 3, 2, 1)


def load_stl10(root: Path | None, split: str, transform: Transform = None) -> ArrayImageDataset:
    if root is None:
        raise DataError(f"stl10 needs a root: --data stl10:ROOT with {LAYOUT}")
    folder = _folder(Path(root))
    names = [split] if split != "train+unlabeled" else ["train", "unlabeled"]
    if any(n not in SPLITS for n in names):
        raise DataError(f"stl10 has splits {sorted(SPLITS) + ['train+unlabeled']}, not {split!r}")
    images, labels = [], []
    for name in names:
        x_file, y_file = SPLITS[name]
        x = _read_images(require_file(folder / x_file, "stl10", LAYOUT))
        if y_file is None:
            y = np.full(len(x), -1, dtype=np.int64)  # unlabeled
        else:
            y = np.fromfile(require_file(folder / y_file, "stl10", LAYOUT), dtype=np.uint8).astype(np.int64) - 1
            if len(y) != len(x) or (len(y) and (y.min() < 0 or y.max() > 9)):
                raise DataError(f"stl10: {folder / y_file} does not hold one label in 1..10 per image")
        images.append(x)
        labels.append(y)
    classes_file = folder / "class_names.txt"
    classes = classes_file.read_text().split() if classes_file.is_file() else DEFAULT_CLASSES
    stacked = images[0] if len(images) == 1 else _Concat(images)
    return ArrayImageDataset(stacked, np.concatenate(labels), classes, "stl10", transform)


class _Concat:
    """Index into several memory-mapped arrays without copying them into RAM."""

    def __init__(self, parts: list[np.ndarray]):
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(p) for p in parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> np.ndarray:
        part = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return self.parts[part][index - self.offsets[part]]
