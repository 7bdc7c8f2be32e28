"""dSprites, the official ``.npz`` (Matthey et al., 2017; Higgins et al., ICLR 2017, beta-VAE).

File ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` holds ``imgs`` (737280, 64, 64) uint8 binary
images, ``latents_values`` (737280, 6) float64 and ``latents_classes`` (737280, 6) int64 for the latents
color (1 value), shape (square, ellipse, heart), scale (6 values in [0.5, 1]), orientation (40 values in
[0, 2 pi]), posX and posY (32 values each in [0, 1]).

The archive is compressed, so ``imgs`` cannot be memory-mapped: it is decompressed once as a stream and
only the images of the requested splits are kept, bit-packed (512 bytes per image, 377 MB for all 737,280).
Factor classes come from ``latents_classes``, factor values from ``latents_values``.
"""

from __future__ import annotations

import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from mcr_train.data.base import Transform
from mcr_train.data.formats.factor_table import (
    FactorImageDataset,
    FactorInfo,
    check_split,
    resolve_file,
    split_indices,
    split_options,
)
from mcr_train.errors import DataError

NAME = "dsprites"
FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
SIDE = 64
KEYS = ("imgs", "latents_values", "latents_classes")
LAYOUT = f"the official {FILENAME} with arrays {', '.join(KEYS)} (dsprites:PATH_TO_NPZ)"
_ROWS_PER_CHUNK = 2048

#: The six latents in file order. Roles: crop removes position and scale, flips mirror posX and the
#: orientation angle, colour jitter/grayscale remove colour; shape survives every standard view.
FACTORS: tuple[FactorInfo, ...] = (
    FactorInfo("color", "discrete", (1.0,), ("color",), ("white",), note="constant (one value) in dSprites"),
    FactorInfo("shape", "discrete", (1.0, 2.0, 3.0), (), ("square", "ellipse", "heart")),
    FactorInfo("scale", "continuous", tuple(np.linspace(0.5, 1.0, 6).tolist()), ("scale",)),
    FactorInfo("orientation", "discrete", tuple(np.linspace(0.0, 2 * np.pi, 40).tolist()),
               ("handedness", "rotation"),
               note="an angle with shape symmetries (a square repeats every 90 degrees), so classes, not R^2"),
    FactorInfo("posX", "continuous", tuple(np.linspace(0.0, 1.0, 32).tolist()), ("pos_x", "position", "handedness")),
    FactorInfo("posY", "continuous", tuple(np.linspace(0.0, 1.0, 32).tolist()), ("pos_y", "position")),
)


def resolve_path(root: Path | None) -> Path:
    """The npz file named by the spec root: the file itself or a folder that holds :data:`FILENAME`."""
    return resolve_file(NAME, root, FILENAME, LAYOUT)


def _stamp(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=2)
def _read_latents(stamp: tuple[str, int, int]) -> tuple[np.ndarray, np.ndarray]:
    path = Path(stamp[0])
    if not zipfile.is_zipfile(path):
        raise DataError(f"{NAME}: cannot read {path}: it is not an .npz (zip) archive; expected {LAYOUT}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in KEYS:
                if key not in npz.files:
                    raise DataError(f"{NAME}: {path} has no '{key}'; expected {LAYOUT}")
            classes, values = np.asarray(npz["latents_classes"]), np.asarray(npz["latents_values"])
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{NAME}: cannot read {path} as an .npz archive ({exc}); expected {LAYOUT}") from None
    for key, array in (("latents_classes", classes), ("latents_values", values)):
        if array.ndim != 2 or array.shape[1] != len(FACTORS):
            raise DataError(f"{NAME}: {path} '{key}' has shape {array.shape}; expected (N, {len(FACTORS)})")
    if len(classes) != len(values):
        raise DataError(f"{NAME}: {path} has {len(classes)} latents_classes rows but {len(values)} latents_values "
                        "rows; the file is corrupt")
    sizes = np.array([f.num_values for f in FACTORS])
    if not np.issubdtype(classes.dtype, np.integer) or (classes < 0).any() or (classes >= sizes).any():
        raise DataError(f"{NAME}: {path} 'latents_classes' holds values outside the official grid sizes "
                        f"{sizes.tolist()}; expected {LAYOUT}")
    return classes.astype(np.int64), values.astype(np.float64)


def _read_exact(stream, nbytes: int, path: Path) -> bytes:
    chunks, left = [], nbytes
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise DataError(f"{NAME}: {path} 'imgs' is truncated; download the file again")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _imgs_header(stream, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(stream)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(stream)
    except ValueError as exc:
        raise DataError(f"{NAME}: {path} 'imgs' is not a valid .npy member ({exc}); expected {LAYOUT}") from None
    if len(shape) != 3 or shape[1:] != (SIDE, SIDE) or dtype not in (np.dtype(np.uint8), np.dtype(bool)) or fortran:
        raise DataError(f"{NAME}: {path} 'imgs' has shape {shape} and dtype {dtype}; expected (N, {SIDE}, {SIDE}) "
                        "uint8 in C order")
    return shape, dtype


@lru_cache(maxsize=1)
def _read_packed(stamp: tuple[str, int, int], rows: tuple[int, ...]) -> np.ndarray:
    """Bit-packed images at sorted ``rows``, streamed from the compressed ``imgs`` member."""
    path = Path(stamp[0])
    wanted = np.asarray(rows, dtype=np.int64)
    packed = np.empty((len(wanted), SIDE * SIDE // 8), dtype=np.uint8)
    row_bytes = SIDE * SIDE
    with zipfile.ZipFile(path) as archive, archive.open("imgs.npy") as stream:
        shape, _ = _imgs_header(stream, path)
        filled = 0
        for start in range(0, int(wanted[-1]) + 1 if len(wanted) else 0, _ROWS_PER_CHUNK):
            stop = min(start + _ROWS_PER_CHUNK, shape[0])
            block = np.frombuffer(_read_exact(stream, (stop - start) * row_bytes, path), dtype=np.uint8)
            lo, hi = np.searchsorted(wanted, [start, stop])
            if hi > lo:
                picked = block.reshape(-1, row_bytes)[wanted[lo:hi] - start]
                # The official images are 0/1; any non-zero pixel is white.
                packed[filled:filled + hi - lo] = np.packbits(picked > 0, axis=1)
                filled += hi - lo
    return packed


class DSpritesDataset(FactorImageDataset):
    """One split of dSprites: bit-packed images in memory, decoded to 64x64 RGB on access."""

    def __init__(self, packed: np.ndarray, positions: np.ndarray, classes: np.ndarray, values: np.ndarray,
                 label: str, summary: str, transform: Transform = None):
        super().__init__(NAME, FACTORS, classes, values, label, summary, transform)
        self.packed, self.positions = packed, positions  # rows of this split in the shared packed array

    def load_image(self, index: int) -> Image.Image:
        pixels = np.unpackbits(self.packed[self.positions[index]])[: SIDE * SIDE].reshape(SIDE, SIDE) * np.uint8(255)
        return Image.fromarray(pixels, mode="L").convert("RGB")


def _imgs_shape(stamp: tuple[str, int, int]) -> tuple[tuple[int, ...], np.dtype]:
    path = Path(stamp[0])
    with zipfile.ZipFile(path) as archive:
        if "imgs.npy" not in archive.namelist():
            raise DataError(f"{NAME}: {path} has no 'imgs'; expected {LAYOUT}")
        with archive.open("imgs.npy") as stream:
            return _imgs_header(stream, path)


def load_dsprites(root: Path | None, split: str, transform: Transform = None,
                  options: dict[str, str] | None = None) -> DSpritesDataset:
    """The ``train`` or ``test`` split of the dSprites npz at ``root`` (spec options n, n_test, seed, label)."""
    check_split(NAME, split)
    stamp = _stamp(resolve_path(root))
    classes, values = _read_latents(stamp)
    shape, dtype = _imgs_shape(stamp)
    if shape[0] != len(classes):
        raise DataError(f"{NAME}: {stamp[0]} has {shape[0]} imgs but {len(classes)} latents rows; the file is corrupt")
    opts = split_options(NAME, options or {}, len(classes), FACTORS)
    splits = split_indices(len(classes), opts)
    union = np.union1d(splits["train"], splits["test"])
    packed = _read_packed(stamp, tuple(union.tolist()))
    rows = splits[split]
    summary = (f"imgs {shape} {dtype}, latents_classes {classes.shape}, latents_values {values.shape}; "
               f"{split} takes {len(rows)} of {shape[0]} (seed {opts.seed})")
    return DSpritesDataset(packed, np.searchsorted(union, rows), classes[rows], values[rows], opts.label, summary,
                           transform)
