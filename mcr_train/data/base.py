"""Dataset base classes shared by every loader: images as PIL RGB, labels as ints.

Every dataset exposes ``targets`` (an int array, readable without decoding images) and ``classes``,
so that class counts, balanced subsets and kNN labels need no image pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from mcr_train.errors import DataError

Transform = Callable[[Image.Image], object] | None


class LabeledImageDataset(Dataset):
    """Common interface: ``__getitem__ -> (transform(image), label)``, plus ``targets`` and ``classes``."""

    name: str = "dataset"
    targets: np.ndarray
    classes: list[str]

    def __init__(self, transform: Transform = None):
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def load_image(self, index: int) -> Image.Image:
        raise NotImplementedError

    def __getitem__(self, index: int):
        image = self.load_image(index)
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.targets[self.targets >= 0], minlength=len(self.classes))
        return {name: int(c) for name, c in zip(self.classes, counts)}


class ArrayImageDataset(LabeledImageDataset):
    """Images held as a uint8 array (N, H, W) or (N, H, W, 3); grey images are expanded to RGB."""

    def __init__(self, images: np.ndarray, targets: Sequence[int], classes: list[str], name: str,
                 transform: Transform = None):
        super().__init__(transform)
        if len(images) != len(targets):
            raise DataError(f"{name}: {len(images)} images but {len(targets)} labels; the files do not match")
        self.images = images
        self.targets = np.asarray(targets, dtype=np.int64)
        self.classes = classes
        self.name = name

    def load_image(self, index: int) -> Image.Image:
        array = np.asarray(self.images[index])
        if array.ndim == 2:
            return Image.fromarray(array, mode="L").convert("RGB")
        return Image.fromarray(array, mode="RGB")


class FileImageDataset(LabeledImageDataset):
    """Images stored as files (JPEG/PNG), decoded on access and converted to RGB."""

    def __init__(self, paths: Sequence[Path], targets: Sequence[int], classes: list[str], name: str,
                 transform: Transform = None):
        super().__init__(transform)
        self.paths = list(paths)
        self.targets = np.asarray(targets, dtype=np.int64)
        self.classes = classes
        self.name = name

    def load_image(self, index: int) -> Image.Image:
        path = self.paths[index]
        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except (OSError, ValueError) as exc:
            raise DataError(f"{self.name}: cannot decode image {path} ({exc}); replace or remove the file") from None


def require_dir(path: Path, name: str, layout: str) -> Path:
    if not path.is_dir():
        raise DataError(f"{name}: directory {path} not found; expected {layout}")
    return path


def require_file(path: Path, name: str, layout: str) -> Path:
    if not path.is_file():
        raise DataError(f"{name}: file {path} not found; expected {layout}")
    return path
