"""scikit-learn's bundled ``load_digits`` (1,797 8x8 images, UCI optical digits), as RGB images."""

from __future__ import annotations

import numpy as np

from mcr_train.data.base import ArrayImageDataset, Transform
from mcr_train.errors import DataError

TEST_FRACTION = 0.25
SPLIT_SEED = 0


def load_digits_dataset(split: str, transform: Transform = None) -> ArrayImageDataset:
    """Fixed stratified 75/25 split (seed 0); pixel values 0..16 are scaled to 0..255."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if split not in ("train", "test"):
        raise DataError(f"digits has splits ['test', 'train'], not {split!r}")
    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    idx_train, idx_test = train_test_split(
        np.arange(len(images)), test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=bunch.target
    )
    idx = np.sort(idx_train if split == "train" else idx_test)
    classes = [str(c) for c in bunch.target_names]
    return ArrayImageDataset(images[idx], bunch.target[idx], classes, "digits", transform)
