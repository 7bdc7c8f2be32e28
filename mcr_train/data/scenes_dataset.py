"""Factor scenes as a labelled dataset, rendered on the fly (optionally cached to ``.npz``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from mcr_train.data.base import LabeledImageDataset, Transform
from mcr_train.data.scenes import (
    CATEGORICAL_FACTORS,
    FACTOR_NAMES,
    RenderedScene,
    SceneFactors,
    check_size,
    render,
    sample_factors,
)
from mcr_train.errors import DataError

SPLIT_STREAMS = {"train": 0, "test": 1}


class ScenesDataset(LabeledImageDataset):
    """``n`` single-object scenes of split ``split``; sample ``i`` is a pure function of (seed, split, i).

    The label is the categorical factor ``label_factor`` (default ``shape``). ``factors(i)`` gives all
    factors of sample ``i`` without rendering it; ``scene(i)`` gives the image with its masks.
    """

    name = "scenes"

    def __init__(self, n: int = 10000, size: int = 32, seed: int = 0, split: str = "train",
                 label_factor: str = "shape", transform: Transform = None):
        super().__init__(transform)
        if split not in SPLIT_STREAMS:
            raise DataError(f"scenes has splits {sorted(SPLIT_STREAMS)}, not {split!r}")
        if label_factor not in CATEGORICAL_FACTORS:
            raise DataError(f"scenes label must be a categorical factor {sorted(CATEGORICAL_FACTORS)}, "
                            f"not {label_factor!r}")
        if n < 1:
            raise DataError(f"scenes needs n >= 1 samples, got {n}")
        self.n, self.size, self.seed, self.split = int(n), check_size(size), int(seed), split
        self.label_factor = label_factor
        self.classes = [str(v) for v in CATEGORICAL_FACTORS[label_factor]]
        self._factors = [sample_factors(self.seed, i, SPLIT_STREAMS[split]) for i in range(self.n)]
        values = list(CATEGORICAL_FACTORS[label_factor])
        self.targets = np.array([values.index(getattr(f, label_factor)) for f in self._factors], dtype=np.int64)
        self._images: np.ndarray | None = None

    def factors(self, index: int) -> SceneFactors:
        return self._factors[index]

    def scene(self, index: int) -> RenderedScene:
        return render(self._factors[index], self.size)

    def image_array(self, index: int) -> np.ndarray:
        if self._images is not None:
            return self._images[index]
        return self.scene(index).image

    def load_image(self, index: int) -> Image.Image:
        return Image.fromarray(self.image_array(index), mode="RGB")

    def factor_table(self) -> dict[str, list]:
        """Column-wise factors of all samples (one list per factor name)."""
        return {name: [getattr(f, name) for f in self._factors] for name in FACTOR_NAMES}

    def materialize(self, cache: Path | None = None) -> ScenesDataset:
        """Render every image once into memory, reading/writing an ``.npz`` cache when given."""
        if cache is not None and Path(cache).is_file():
            with np.load(cache) as data:
                images = data["images"]
            if images.shape != (self.n, self.size, self.size, 3):
                raise DataError(f"scene cache {cache} holds {images.shape}, not this dataset; delete it")
            self._images = images
            return self
        self._images = np.stack([self.scene(i).image for i in range(self.n)])
        if cache is not None:
            tmp = Path(cache).with_suffix(".tmp.npz")
            np.savez_compressed(tmp, images=self._images)
            tmp.replace(cache)
        return self


@lru_cache(maxsize=8)
def scenes_pixel_stats(size: int, seed: int, n: int = 1024) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (0..1 scale) of the first ``n`` training scenes."""
    ds = ScenesDataset(n=n, size=size, seed=seed, split="train")
    pixels = np.stack([ds.image_array(i) for i in range(n)]).reshape(-1, 3).astype(np.float64) / 255.0
    return tuple(pixels.mean(0).round(4).tolist()), tuple(pixels.std(0).round(4).tolist())
