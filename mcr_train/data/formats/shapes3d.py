"""3D Shapes, the official ``3dshapes.h5`` (Burgess & Kim, 2018; Kim & Mnih, ICML 2018, FactorVAE).

The HDF5 file holds ``images`` (480000, 64, 64, 3) uint8 and ``labels`` (480000, 6) float64 with the factors
floor_hue, wall_hue, object_hue (10 values each in [0, 0.9]), scale (8 values in [0.75, 1.25]), shape (4:
cube, cylinder, sphere, capsule) and orientation (15 values in [-30, 30] degrees).

Images are read lazily: the dataset keeps the file path and row indices and reads one image per access
from the HDF5 dataset (the file is opened once per process, so DataLoader workers each get their own
handle). The labels (23 MB) are read whole and mapped to the index of each value in its official grid.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from mcr_train.data.base import Transform
from mcr_train.data.formats.factor_table import (
    FactorImageDataset,
    FactorInfo,
    check_split,
    grid_classes,
    resolve_file,
    split_indices,
    split_options,
)
from mcr_train.errors import DataError

NAME = "3dshapes"
FILENAME = "3dshapes.h5"
SIDE = 64
LAYOUT = f"the official {FILENAME} with datasets images (N, 64, 64, 3) uint8 and labels (N, 6) (3dshapes:PATH_TO_H5)"

_HUES = tuple(np.linspace(0.0, 1.0, 10, endpoint=False).tolist())
#: The six factors in label-column order. Roles: colour jitter/grayscale remove the hues, crop the apparent
#: scale, flips mirror the orientation angle; shape survives every standard view.
FACTORS: tuple[FactorInfo, ...] = (
    FactorInfo("floor_hue", "discrete", _HUES, ("color",), note="a hue: circular, so classes"),
    FactorInfo("wall_hue", "discrete", _HUES, ("color",), note="a hue: circular, so classes"),
    FactorInfo("object_hue", "discrete", _HUES, ("color",), note="a hue: circular, so classes"),
    FactorInfo("scale", "continuous", tuple(np.linspace(0.75, 1.25, 8).tolist()), ("scale",)),
    FactorInfo("shape", "discrete", (0.0, 1.0, 2.0, 3.0), (), ("cube", "cylinder", "sphere", "capsule")),
    FactorInfo("orientation", "continuous", tuple(np.linspace(-30.0, 30.0, 15).tolist()), ("handedness", "rotation")),
)


def _h5py():
    try:
        import h5py
    except ImportError:
        raise DataError(f"{NAME} needs h5py to read {FILENAME}; install it: pip install h5py") from None
    return h5py


def resolve_path(root: Path | None) -> Path:
    """The h5 file named by the spec root: the file itself or a folder that holds :data:`FILENAME`."""
    return resolve_file(NAME, root, FILENAME, LAYOUT)


def _read_labels(path: Path) -> tuple[np.ndarray, tuple[int, ...], str]:
    """Labels (read whole), the images' shape and dtype; DataErrors for a wrong key, shape or type."""
    h5py = _h5py()
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{NAME}: cannot open {path} as HDF5 ({exc}); expected {LAYOUT}") from None
    with handle:
        for key in ("images", "labels"):
            if key not in handle or not isinstance(handle[key], h5py.Dataset):
                raise DataError(f"{NAME}: {path} has no '{key}'; expected {LAYOUT}")
        images, labels = handle["images"], handle["labels"]
        if images.ndim != 4 or images.shape[1:] != (SIDE, SIDE, 3) or images.dtype != np.uint8:
            raise DataError(f"{NAME}: {path} 'images' has shape {images.shape} and dtype {images.dtype}; "
                            f"expected (N, {SIDE}, {SIDE}, 3) uint8")
        if labels.ndim != 2 or labels.shape[1] != len(FACTORS) or labels.shape[0] != images.shape[0]:
            raise DataError(f"{NAME}: {path} 'labels' has shape {labels.shape} for {images.shape[0]} images; "
                            f"expected ({images.shape[0]}, {len(FACTORS)})")
        return np.asarray(labels, dtype=np.float64), tuple(images.shape), str(images.dtype)


class Shapes3DDataset(FactorImageDataset):
    """One split of 3D Shapes; each image is read from the HDF5 file on access."""

    def __init__(self, path: Path, rows: np.ndarray, classes: np.ndarray, values: np.ndarray, label: str,
                 summary: str, transform: Transform = None):
        super().__init__(NAME, FACTORS, classes, values, label, summary, transform)
        self.path, self.rows = Path(path), np.asarray(rows, dtype=np.int64)
        self._handle, self._pid = None, None

    def _images(self):
        if self._handle is None or self._pid != os.getpid():  # h5py handles must not cross a fork
            self._handle, self._pid = _h5py().File(self.path, "r"), os.getpid()
        return self._handle["images"]

    def load_image(self, index: int) -> Image.Image:
        return Image.fromarray(np.asarray(self._images()[int(self.rows[index])]), mode="RGB")

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_handle"], state["_pid"] = None, None
        return state

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def load_3dshapes(root: Path | None, split: str, transform: Transform = None,
                  options: dict[str, str] | None = None) -> Shapes3DDataset:
    """The ``train`` or ``test`` split of the 3D Shapes h5 at ``root`` (spec options n, n_test, seed, label)."""
    check_split(NAME, split)
    path = resolve_path(root)
    labels, shape, dtype = _read_labels(path)
    classes = np.stack([grid_classes(NAME, f, labels[:, j], "labels") for j, f in enumerate(FACTORS)], axis=1)
    opts = split_options(NAME, options or {}, len(labels), FACTORS)
    rows = split_indices(len(labels), opts)[split]
    summary = (f"images {shape} {dtype}, labels {labels.shape}; {split} takes {len(rows)} of {shape[0]} "
               f"(seed {opts.seed}), read lazily")
    return Shapes3DDataset(path, rows, classes[rows], labels[rows], opts.label, summary, transform)
