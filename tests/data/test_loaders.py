"""Every loader reads tiny files written in the real on-disk format, with the right shapes and labels."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from mcr_train.data import build_dataset, dataset_stats, parse_spec
from mcr_train.errors import DataError

from .conftest import write_cifar, write_idx

FMNIST = Path("/usr/share/datasets/fashion-mnist")


def test_fashion_mnist_idx(idx_root):
    train = build_dataset(f"fashion-mnist:{idx_root}", "train")
    test = build_dataset(f"fashion-mnist:{idx_root}", "test")
    assert (len(train), len(test)) == (30, 10)
    image, label = train[13]
    assert image.size == (28, 28) and image.mode == "RGB" and label == 3
    raw = np.frombuffer(gzip.decompress((idx_root / "train-images-idx3-ubyte.gz").read_bytes())[16:], np.uint8)
    assert np.array_equal(np.asarray(image)[..., 0], raw.reshape(30, 28, 28)[13])
    assert train.classes[0] == "t-shirt/top" and train.class_counts()["t-shirt/top"] == 3


def test_fashion_mnist_holdout_splits_the_training_file_and_never_reads_the_test_file(idx_root):
    full = build_dataset(f"fashion-mnist:{idx_root}", "train")
    train = build_dataset(f"fashion-mnist:{idx_root}?holdout=6", "train")
    validation = build_dataset(f"fashion-mnist:{idx_root}?holdout=6", "test")
    assert (len(train), len(validation)) == (24, 6)
    assert np.array_equal(train.images, full.images[:24]) and np.array_equal(validation.images, full.images[24:])
    assert validation.targets.tolist() == [4, 5, 6, 7, 8, 9]
    (idx_root / "t10k-images-idx3-ubyte.gz").unlink()  # the real test images are not needed to validate
    assert len(build_dataset(f"fashion-mnist:{idx_root}?holdout=6", "test")) == 6
    for bad, message in (("0", "between 1 and 29"), ("30", "between 1 and 29"), ("a", "whole number")):
        with pytest.raises(DataError, match=message):
            build_dataset(f"fashion-mnist:{idx_root}?holdout={bad}", "train")
    with pytest.raises(DataError, match="options for fashion-mnist: \\['holdout'\\]"):
        parse_spec("fashion-mnist?n=5")


def test_truncated_idx_is_one_clear_error(idx_root):
    path = idx_root / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    with gzip.open(path, "wb") as f:
        f.write(data[:-100])
    with pytest.raises(DataError, match="truncated or corrupt"):
        build_dataset(f"fashion-mnist:{idx_root}", "train")
    path.write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(DataError, match="corrupt or truncated"):
        build_dataset(f"fashion-mnist:{idx_root}", "train")


def test_cifar10_pickles(cifar10_root):
    train = build_dataset(f"cifar10:{cifar10_root}", "train")
    test = build_dataset(f"cifar10:{cifar10_root}", "test")
    assert (len(train), len(test), len(train.classes)) == (20, 4, 10)
    image, label = train[5]
    assert image.size == (32, 32) and label == 5
    # The root may also point at the batch folder itself.
    assert len(build_dataset(f"cifar10:{cifar10_root / 'cifar-10-batches-py'}", "test")) == 4


def test_cifar100_pickles(tmp_path, rng):
    write_cifar(tmp_path, rng, hundred=True)
    train = build_dataset(f"cifar100:{tmp_path}", "train")
    assert len(train) == 4 and len(train.classes) == 100 and train.targets.tolist() == [0, 1, 2, 3]


def test_cifar_pixels_are_channel_planes(cifar10_root):
    import pickle

    batch = pickle.loads((cifar10_root / "cifar-10-batches-py" / "data_batch_1").read_bytes(), encoding="bytes")
    row = batch[b"data"][2]
    img = np.asarray(build_dataset(f"cifar10:{cifar10_root}", "train")[2][0])
    assert np.array_equal(img[..., 0].ravel(), row[:1024]) and np.array_equal(img[..., 2].ravel(), row[2048:])


def test_truncated_or_malicious_pickle_is_refused(cifar10_root, tmp_path):
    batch = cifar10_root / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:200])
    with pytest.raises(DataError, match="not a valid array pickle"):
        build_dataset(f"cifar10:{cifar10_root}", "train")
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    import pickle

    batch.write_bytes(pickle.dumps({b"data": Payload()}))
    with pytest.raises(DataError, match="not allowed"):
        build_dataset(f"cifar10:{cifar10_root}", "train")
    assert not marker.exists()


def test_stl10_binaries(stl_root):
    train = build_dataset(f"stl10:{stl_root}", "train")
    unlabeled = build_dataset(f"stl10:{stl_root}", "unlabeled")
    both = build_dataset(f"stl10:{stl_root}", "train+unlabeled")
    assert (len(train), len(unlabeled), len(both)) == (6, 5, 11)
    assert train.targets.tolist() == [0, 1, 2, 3, 4, 5] and (unlabeled.targets == -1).all()
    raw = np.fromfile(stl_root / "stl10_binary" / "train_X.bin", np.uint8).reshape(6, 3, 96, 96)
    img = np.asarray(train[1][0])
    assert img.shape == (96, 96, 3)
    assert np.array_equal(img[..., 1], raw[1, 1].T)  # column-major planes
    assert np.array_equal(np.asarray(both[8][0]), np.asarray(unlabeled[2][0]))


def test_stl10_truncated(stl_root):
    path = stl_root / "stl10_binary" / "test_X.bin"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DataError, match="truncated"):
        build_dataset(f"stl10:{stl_root}", "test")


def test_tiny_imagenet_layout(tiny_root):
    train = build_dataset(f"tiny-imagenet:{tiny_root.parent}", "train")
    val = build_dataset(f"tiny-imagenet:{tiny_root}", "test")
    assert (len(train), len(val)) == (9, 4)
    assert train.classes == ["n01", "n02", "n03"] and val.targets.tolist() == [0, 1, 2, 0]
    assert val[1][0].size == (12, 12)


def test_image_folder_and_class_subset(folder_root, tmp_path):
    train = build_dataset(f"imagenet:{folder_root}", "train")
    assert len(train) == 12 and train.class_counts() == {"n001": 3, "n002": 3, "n003": 3, "n004": 3}
    subset = tmp_path / "subset.txt"
    subset.write_text("n004\nn002\n")
    val = build_dataset(f"imagenet:{folder_root}?classes={subset}", "test")
    assert val.classes == ["n002", "n004"] and len(val) == 4
    assert len(build_dataset(f"folder:{folder_root}", "val")) == 8
    subset.write_text("n999\n")
    with pytest.raises(DataError, match="not folders"):
        build_dataset(f"imagenet:{folder_root}?classes={subset}", "train")


def test_digits_and_scenes_specs():
    train, test = build_dataset("digits", "train"), build_dataset("digits", "test")
    assert len(train) + len(test) == 1797 and len(train.classes) == 10
    assert build_dataset("scenes?n=10&n_test=5&size=48", "test")[0][0].size == (48, 48)
    mean, std = dataset_stats("scenes?size=32")
    assert len(mean) == 3 and all(0 < s < 1 for s in std)


@pytest.mark.parametrize("spec, message", [
    ("nope", "unknown data spec"),
    ("cifar10", "needs a local path"),
    ("cifar10:/does/not/exist", "cifar-10-batches-py"),
    ("stl10:/does/not/exist", "stl10_binary"),
    ("tiny-imagenet:/does/not/exist", "val_annotations.txt"),
    ("imagenet:/does/not/exist", "ImageFolder"),
    ("fashion-mnist:/does/not/exist", "dataset-fashion-mnist"),
    ("scenes?colour=1", "bad option"),
    ("scenes?n=abc", "integer"),
])
def test_bad_specs_name_the_expected_layout(spec, message):
    with pytest.raises(DataError, match=message):
        build_dataset(spec, "train")


def test_empty_folder_dataset(tmp_path):
    (tmp_path / "train" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        build_dataset(f"folder:{tmp_path}", "train")


def test_spec_round_trip():
    assert str(parse_spec("scenes?size=64&n=5")) == "scenes?n=5&size=64"


@pytest.mark.fmnist
@pytest.mark.skipif(not FMNIST.is_dir(), reason="Debian package dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_counts():
    train, test = build_dataset("fashion-mnist", "train"), build_dataset("fashion-mnist", "test")
    assert (len(train), len(test)) == (60000, 10000)
    assert set(train.class_counts().values()) == {6000}
    assert set(test.class_counts().values()) == {1000}


@pytest.mark.fmnist
@pytest.mark.skipif(not FMNIST.is_dir(), reason="Debian package dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_validation_split_is_class_balanced():
    validation = build_dataset("fashion-mnist?holdout=10000", "test")
    counts = np.bincount(validation.targets, minlength=10)
    assert counts.sum() == 10000 and counts.min() >= 900 and counts.max() <= 1100
    assert dataset_stats("fashion-mnist?holdout=10000") == dataset_stats("fashion-mnist")


def test_idx_writer_round_trip(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x.gz", arr)
    from mcr_train.data.formats.idx import read_idx

    assert np.array_equal(read_idx(tmp_path / "x.gz"), arr)
