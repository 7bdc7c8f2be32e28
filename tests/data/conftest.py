"""Writers of tiny datasets in the official on-disk formats."""

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def idx_root(tmp_path, rng):
    root = tmp_path / "fmnist"
    root.mkdir()
    write_idx(root / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (30, 28, 28)))
    write_idx(root / "train-labels-idx1-ubyte.gz", np.arange(30) % 10)
    write_idx(root / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (10, 28, 28)))
    write_idx(root / "t10k-labels-idx1-ubyte.gz", np.arange(10))
    return root


def write_cifar(root: Path, rng, hundred: bool = False) -> Path:
    folder = root / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    folder.mkdir(parents=True)
    key = b"fine_labels" if hundred else b"labels"
    names = [f"c{i}".encode() for i in range(100 if hundred else 10)]
    files = ["train", "test"] if hundred else [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(files):
        n = 4
        batch = {b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
                 key: [(i * n + j) % len(names) for j in range(n)], b"batch_label": name.encode()}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"fine_label_names" if hundred else b"label_names": names}
    (folder / ("meta" if hundred else "batches.meta")).write_bytes(pickle.dumps(meta, protocol=2))
    return folder


@pytest.fixture
def cifar10_root(tmp_path, rng):
    write_cifar(tmp_path / "c10", rng)
    return tmp_path / "c10"


@pytest.fixture
def stl_root(tmp_path, rng):
    folder = tmp_path / "stl" / "stl10_binary"
    folder.mkdir(parents=True)
    for split, n in (("train", 6), ("test", 4)):
        rng.integers(0, 256, (n, 3, 96, 96)).astype(np.uint8).tofile(folder / f"{split}_X.bin")
        (np.arange(n) % 10 + 1).astype(np.uint8).tofile(folder / f"{split}_y.bin")
    rng.integers(0, 256, (5, 3, 96, 96)).astype(np.uint8).tofile(folder / "unlabeled_X.bin")
    return tmp_path / "stl"


def save_png(path: Path, rng, side: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (side, side, 3)).astype(np.uint8)).save(path)


@pytest.fixture
def tiny_root(tmp_path, rng):
    root = tmp_path / "tiny-imagenet-200"
    wnids = ["n01", "n02", "n03"]
    (root / "val" / "images").mkdir(parents=True)
    (root / "wnids.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    for w in wnids:
        for j in range(3):
            save_png(root / "train" / w / "images" / f"{w}_{j}.JPEG", rng)
    lines = []
    for j in range(4):
        save_png(root / "val" / "images" / f"val_{j}.JPEG", rng)
        lines.append(f"val_{j}.JPEG\t{wnids[j % 3]}\t0\t0\t8\t8")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def folder_root(tmp_path, rng):
    root = tmp_path / "imagenet"
    for split, per in (("train", 3), ("val", 2)):
        for cls in ("n001", "n002", "n003", "n004"):
            for j in range(per):
                save_png(root / split / cls / f"{cls}_{j}.png", rng)
    return root
