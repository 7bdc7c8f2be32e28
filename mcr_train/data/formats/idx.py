"""Fashion-MNIST / MNIST gzipped IDX files (LeCun et al.; Xiao et al., 2017)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from mcr_train.data.base import ArrayImageDataset, Transform, require_dir, require_file
from mcr_train.errors import DataError

DEFAULT_FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = [
    "t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot",
]
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
LAYOUT = ("ROOT/{train-images-idx3-ubyte,train-labels-idx1-ubyte,t10k-images-idx3-ubyte,"
          "t10k-labels-idx1-ubyte}.gz (install: apt-get install dataset-fashion-mnist)")
_UBYTE = 0x08


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) of unsigned bytes, validating its header against its size."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"IDX file {path} is corrupt or truncated ({exc}); download it again") from None
    if len(raw) < 4:
        raise DataError(f"IDX file {path} is truncated ({len(raw)} bytes); download it again")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != _UBYTE or not 1 <= ndim <= 4:
        raise DataError(f"{path} is not an unsigned-byte IDX file (bad magic); expected the MNIST IDX format")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"IDX file {path} is truncated in its header; download it again")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataError(
            f"IDX file {path} holds {len(raw) - header} bytes of data but its header promises {expected}; "
            "the file is truncated or corrupt, download it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_fashion_mnist(root: Path | None, split: str, transform: Transform = None,
                       holdout: int | None = None) -> ArrayImageDataset:
    """One split of Fashion-MNIST (Xiao et al., 2017). With ``holdout=N`` the last N training images become the
    ``test`` split and ``train`` keeps the rest: a validation split for choosing hyperparameters without ever
    reading the real test images (the training file is already shuffled, so its tail is class-balanced)."""
    root = Path(root) if root else DEFAULT_FASHION_MNIST_ROOT
    require_dir(root, "fashion-mnist", LAYOUT)
    if split not in FILES:
        raise DataError(f"fashion-mnist has splits {sorted(FILES)}, not {split!r}")
    files = FILES["train" if holdout is not None else split]
    image_file, label_file = (require_file(root / f, "fashion-mnist", LAYOUT) for f in files)
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1:
        raise DataError(f"fashion-mnist: {image_file} must hold N x H x W images and {label_file} N labels")
    if holdout is not None:
        if not 0 < holdout < len(images):
            raise DataError(f"fashion-mnist holdout={holdout} must be between 1 and {len(images) - 1} "
                            f"(the training file holds {len(images)} images)")
        keep = slice(len(images) - holdout, None) if split == "test" else slice(0, len(images) - holdout)
        images, labels = images[keep], labels[keep]
    return ArrayImageDataset(images, labels, FASHION_MNIST_CLASSES, "fashion-mnist", transform)
