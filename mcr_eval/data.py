"""Evaluation-side data helpers: the probe transforms and dataset loading with clear errors.

Transforms (stated in every protocol record):

* ``center-crop``: ``Resize(r) -> CenterCrop(s) -> ToTensor -> Normalize``, with ``s`` the encoder's
  input size and ``r = s`` for ``s <= 64`` (CIFAR-scale inputs are not cropped) else ``round(s / 0.875)``
  (the usual 256 -> 224 ratio).
* ``rrc-flip``: ``RandomResizedCrop(s, scale=(0.08, 1)) -> RandomHorizontalFlip -> ToTensor -> Normalize``
  (standard linear probe and semi-supervised fine-tuning, as in MoCo/SimCLR).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset
from torchvision import transforms as T

from mcr_train.errors import DataError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resize_for(size: int) -> int:
    return size if size <= 64 else int(round(size / 0.875))


def center_crop_transform(size: int, mean: Sequence[float], std: Sequence[float]) -> T.Compose:
    return T.Compose([T.Resize(resize_for(size)), T.CenterCrop(size), T.ToTensor(), T.Normalize(list(mean), list(std))])


def augment_transform(size: int, mean: Sequence[float], std: Sequence[float], min_scale: float = 0.08) -> T.Compose:
    return T.Compose(
        [
            T.RandomResizedCrop(size, scale=(min_scale, 1.0)),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(list(mean), list(std)),
        ]
    )


def default_input_size(meta: dict[str, Any]) -> int:
    """Encoder input size: ``encoder.json``'s, else 32 for the CIFAR stem and 224 for the ImageNet stem."""
    if meta.get("input_size"):
        return int(meta["input_size"])
    return 32 if meta.get("stem") == "cifar" else 224


def normalization(meta: dict[str, Any]) -> tuple[list[float], list[float]]:
    """The mean/std the encoder was trained with (``encoder.json``), else ImageNet's (foreign checkpoints)."""
    mean, std = meta.get("mean"), meta.get("std")
    if mean and std:
        return [float(v) for v in mean], [float(v) for v in std]
    return list(IMAGENET_MEAN), list(IMAGENET_STD)


def load_split(spec: str, split: str, transform: Any = None) -> Dataset:
    """``mcr_train.data.build_dataset`` with an error for an empty split."""
    from mcr_train.data import build_dataset

    dataset = build_dataset(spec, split=split, transform=transform)
    if len(dataset) == 0:
        raise DataError(f"dataset '{spec}' split '{split}' has no images; check the path and its layout")
    return dataset


def dataset_labels(dataset: Dataset) -> np.ndarray:
    """Integer labels without decoding images when the dataset exposes ``targets``."""
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        return np.asarray(targets, dtype=np.int64)
    return np.asarray([int(dataset[i][1]) for i in range(len(dataset))], dtype=np.int64)


def num_classes_of(dataset: Dataset, labels: np.ndarray) -> int:
    classes = getattr(dataset, "classes", None)
    return len(classes) if classes else int(labels.max()) + 1
