"""CIFAR-10 / CIFAR-100 "python version" batches (Krizhevsky, 2009)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcr_train.data.base import ArrayImageDataset, Transform, require_dir, require_file
from mcr_train.data.formats.safe_pickle import load_array_pickle
from mcr_train.errors import DataError

LAYOUTS = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                "batches.meta", b"labels", b"label_names"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "meta", b"fine_labels", b"fine_label_names"),
}


def _layout_text(name: str) -> str:
    folder, train, test, meta, *_ = LAYOUTS[name]
    return f"ROOT/{folder}/{{{','.join(train + test + [meta])}}} (the official python pickle batches)"


def _batch_dir(root: Path, name: str) -> Path:
    folder = LAYOUTS[name][0]
    for candidate in (root / folder, root):
        if (candidate / LAYOUTS[name][2][0]).is_file():
            return candidate
    require_dir(root, name, _layout_text(name))
    raise DataError(f"{name}: no {LAYOUTS[name][2][0]} under {root}; expected {_layout_text(name)}")


def _read_batch(path: Path, label_key: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    batch = load_array_pickle(path)
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        raise DataError(f"{name}: {path} lacks b'data' or {label_key!r}; it is not an official batch file")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise DataError(f"{name}: {path} holds data of shape {data.shape} for {len(labels)} labels; "
                        "expected N x 3072 uint8 rows")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load_cifar(name: str, root: Path | None, split: str, transform: Transform = None) -> ArrayImageDataset:
    if root is None:
        raise DataError(f"{name} needs a root: --data {name}:ROOT with {_layout_text(name)}")
    folder = _batch_dir(Path(root), name)
    _, train_files, test_files, meta_file, label_key, names_key = LAYOUTS[name]
    files = {"train": train_files, "test": test_files}.get(split)
    if files is None:
        raise DataError(f"{name} has splits ['test', 'train'], not {split!r}")
    parts = [_read_batch(require_file(folder / f, name, _layout_text(name)), label_key, name) for f in files]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    meta = load_array_pickle(require_file(folder / meta_file, name, _layout_text(name)))
    classes = [c.decode() if isinstance(c, bytes) else str(c) for c in meta.get(names_key, [])]
    if not classes or labels.max(initial=0) >= len(classes):
        raise DataError(f"{name}: {folder / meta_file} does not list the class names of the labels")
    return ArrayImageDataset(images, labels, classes, name, transform)
