"""Data specs: one string that means the same dataset in training, evaluation and ``mcr-data``.

Grammar: ``NAME[:ROOT][?key=value&key=value]``, e.g. ``scenes?n=5000&size=64``, ``fashion-mnist``,
``cifar10:/data/cifar``, ``imagenet:/data/imagenet?classes=/data/imagenet100.txt``,
``fashion-mnist?holdout=10000`` (the last 10,000 training images as the ``test`` split: a validation split),
``dsprites:/data/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz?n=50000&n_test=10000``,
``3dshapes:/data/3dshapes.h5?n=50000&n_test=10000&seed=0&label=shape`` (factor datasets read by file path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mcr_train.data.base import LabeledImageDataset, Transform
from mcr_train.errors import DataError

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
KNOWN_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "stl10": ((0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713)),
    "tiny-imagenet": ((0.4802, 0.4481, 0.3975), (0.2770, 0.2691, 0.2821)),
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
    "folder": (IMAGENET_MEAN, IMAGENET_STD),
    "fashion-mnist": ((0.2860,) * 3, (0.3530,) * 3),
}
SCENES_DEFAULTS = {"n": 10000, "n_test": 2000, "size": 32, "seed": 0, "label": "shape"}


@dataclass(frozen=True)
class DataSpec:
    name: str
    root: Path | None = None
    options: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        text = self.name + (f":{self.root}" if self.root else "")
        if self.options:
            text += "?" + "&".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return text


def _scenes(spec: DataSpec, split: str, transform: Transform) -> LabeledImageDataset:
    from mcr_train.data.scenes_dataset import ScenesDataset

    opts = scenes_options(spec)
    n = opts["n"] if split == "train" else opts["n_test"]
    return ScenesDataset(n=n, size=opts["size"], seed=opts["seed"], split=split, label_factor=opts["label"],
                         transform=transform)


def _fashion(spec: DataSpec, split: str, transform: Transform) -> LabeledImageDataset:
    from mcr_train.data.formats.idx import load_fashion_mnist

    holdout = spec.options.get("holdout")
    if holdout is not None and not holdout.isdigit():
        raise DataError(f"data spec '{spec}': holdout={holdout!r} must be a whole number of training images")
    return load_fashion_mnist(spec.root, split, transform, None if holdout is None else int(holdout))


def _digits(spec: DataSpec, split: str, transform: Transform) -> LabeledImageDataset:
    from mcr_train.data.formats.sklearn_digits import load_digits_dataset

    return load_digits_dataset(split, transform)


def _cifar(spec: DataSpec, split: str, transform: Transform) -> LabeledImageDataset:
    from mcr_train.data.formats.cifar import load_cifar

    return load_cifar(spec.name, spec.root, split, transform)


def _stl10(spec: DataSpec, split: str, transform: Transform) -> LabeledImageDataset:
    from mcr_train.data.formats.stl10 import load_stl10

    return load_stl10(spec.root, split, transform)


def _tiny(spec: DataSpec, split: str, transform: Transform) -> LabeledImageDataset:
    from mcr_train.data.formats.folders import load_tiny_imagenet

    return load_tiny_imagenet(spec.root, split, transform)


def _folder(spec: DataSpec, split: str, transform: Transform) -> LabeledImageDataset:
    from mcr_train.data.formats.folders import load_image_folder

    classes = spec.options.get("classes")
    return load_image_folder(spec.name, spec.root, split, transform, Path(classes) if classes else None)


def _dsprites(spec: DataSpec, split: str, transform: Transform) -> LabeledImageDataset:
    from mcr_train.data.formats.dsprites import load_dsprites

    return load_dsprites(spec.root, split, transform, spec.options)


def _shapes3d(spec: DataSpec, split: str, transform: Transform) -> LabeledImageDataset:
    from mcr_train.data.formats.shapes3d import load_3dshapes

    return load_3dshapes(spec.root, split, transform, spec.options)


LOADERS: dict[str, Callable[[DataSpec, str, Transform], LabeledImageDataset]] = {
    "scenes": _scenes,
    "fashion-mnist": _fashion,
    "digits": _digits,
    "cifar10": _cifar,
    "cifar100": _cifar,
    "stl10": _stl10,
    "tiny-imagenet": _tiny,
    "imagenet": _folder,
    "folder": _folder,
    "dsprites": _dsprites,
    "3dshapes": _shapes3d,
}
FACTOR_FILE_SETS = {"dsprites", "3dshapes"}  # ground-truth factor datasets, read by file path
NEEDS_ROOT = {"cifar10", "cifar100", "stl10", "tiny-imagenet", "imagenet", "folder"} | FACTOR_FILE_SETS
OPTION_KEYS = {"scenes": set(SCENES_DEFAULTS), "imagenet": {"classes"}, "folder": {"classes"},
               "fashion-mnist": {"holdout"}, "dsprites": {"n", "n_test", "seed", "label"},
               "3dshapes": {"n", "n_test", "seed", "label"}}


def parse_spec(text: str | DataSpec) -> DataSpec:
    if isinstance(text, DataSpec):
        return text
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"empty data spec; use one of {sorted(LOADERS)}, e.g. 'scenes' or 'cifar10:ROOT'")
    body, _, query = text.strip().partition("?")
    name, _, root = body.partition(":")
    name = name.lower()
    if name not in LOADERS:
        raise DataError(f"unknown data spec '{text}'; use one of {sorted(LOADERS)} as NAME[:ROOT][?key=value]")
    options = {}
    for item in filter(None, query.split("&")):
        key, sep, value = item.partition("=")
        if not sep or key not in OPTION_KEYS.get(name, set()):
            allowed = sorted(OPTION_KEYS.get(name, set())) or "none"
            raise DataError(f"data spec '{text}': bad option '{item}'; options for {name}: {allowed}")
        options[key] = value
    if name in NEEDS_ROOT and not root:
        raise DataError(f"data spec '{text}' needs a local path: {name}:ROOT")
    return DataSpec(name, Path(root).expanduser() if root else None, options)


def scenes_options(spec: DataSpec) -> dict:
    opts = dict(SCENES_DEFAULTS)
    for key, value in spec.options.items():
        try:
            opts[key] = value if key == "label" else int(value)
        except ValueError:
            raise DataError(f"data spec option {key}={value!r} must be an integer") from None
    return opts


def build_dataset(spec: str | DataSpec, split: str = "train", transform: Transform = None) -> LabeledImageDataset:
    """The dataset named by ``spec`` (see module docstring); raises DataError with the expected layout."""
    parsed = parse_spec(spec)
    dataset = LOADERS[parsed.name](parsed, split, transform)
    if len(dataset) == 0:
        raise DataError(f"data spec '{parsed}' split {split!r} is empty; check the path and files")
    return dataset


def dataset_stats(spec: str | DataSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std) on the 0..1 scale used to normalize this dataset."""
    parsed = parse_spec(spec)
    if parsed.name == "scenes":
        from mcr_train.data.scenes_dataset import scenes_pixel_stats

        opts = scenes_options(parsed)
        return scenes_pixel_stats(opts["size"], opts["seed"])
    if parsed.name == "digits":
        return _computed_stats(build_dataset(parsed, "train"))
    if parsed.name in FACTOR_FILE_SETS:
        from mcr_train.data.formats.factor_table import sample_pixel_stats

        return sample_pixel_stats(build_dataset(parsed, "train"))
    return KNOWN_STATS[parsed.name]


def _computed_stats(dataset) -> tuple[tuple[float, ...], tuple[float, ...]]:
    import numpy as np

    pixels = np.stack([np.asarray(dataset.load_image(i)) for i in range(len(dataset))])
    pixels = pixels.reshape(-1, 3).astype(np.float64) / 255.0
    return tuple(pixels.mean(0).round(4).tolist()), tuple(pixels.std(0).round(4).tolist())
