"""dSprites (.npz) and 3D Shapes (.h5) read by path, from tiny files written in the official formats.

Every image carries its own row number in its pixels, so the checks that images, factors and labels stay
aligned do not depend on the loader's own split code.
"""

import pickle

import h5py
import numpy as np
import pytest

from mcr_eval.audit.factors import factor_roles as scene_roles
from mcr_train.data.cli import main
from mcr_train.data.formats import dsprites, shapes3d
from mcr_train.data.formats.factor_table import factor_roles, table_rows
from mcr_train.data.spec import build_dataset, dataset_stats, parse_spec
from mcr_train.errors import DataError
from mcr_train.views.pipeline import destroyed_factors_of
from mcr_train.views.recipes import VIEW_RECIPES

DSPRITES_SIZES = (1, 3, 6, 40, 32, 32)
SHAPES3D_GRIDS = (np.arange(10) / 10, np.arange(10) / 10, np.arange(10) / 10, np.linspace(0.75, 1.25, 8),
                  np.arange(4.0), np.linspace(-30, 30, 15))


def _row_bits(i: int, side: int = 64) -> np.ndarray:
    """A binary image whose first row spells ``i`` in binary and whose body is a filled square."""
    image = np.zeros((side, side), dtype=np.uint8)
    image[0, :16] = [(i >> b) & 1 for b in range(16)]
    image[20:20 + (i % 20) + 4, 10:30] = 1
    return image


def _decode_row(image) -> int:
    first = (np.asarray(image)[0, :16, 0] > 127).astype(int)
    return int(sum(int(v) << b for b, v in enumerate(first)))


def write_dsprites(path, n=48, seed=0, **overrides):
    rng = np.random.default_rng(seed)
    classes = np.stack([rng.integers(0, s, n) for s in DSPRITES_SIZES], axis=1).astype(np.int64)
    grids = [np.array([1.0]), np.array([1.0, 2.0, 3.0]), np.linspace(0.5, 1, 6), np.linspace(0, 2 * np.pi, 40),
             np.linspace(0, 1, 32), np.linspace(0, 1, 32)]
    values = np.stack([grids[j][classes[:, j]] for j in range(6)], axis=1)
    arrays = {"imgs": np.stack([_row_bits(i) for i in range(n)]), "latents_values": values,
              "latents_classes": classes,
              "metadata": np.array({"description": "tiny dSprites"}, dtype=object)}  # pickled, as in the official file
    arrays.update(overrides)
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if v is not None})
    return arrays


def write_3dshapes(path, n=40, seed=0, images=None, labels=None, drop=None):
    rng = np.random.default_rng(seed)
    index = np.stack([rng.integers(0, len(g), n) for g in SHAPES3D_GRIDS], axis=1)
    if labels is None:
        labels = np.stack([SHAPES3D_GRIDS[j][index[:, j]] for j in range(6)], axis=1).astype(np.float64)
    if images is None:
        images = rng.integers(0, 256, (n, 64, 64, 3)).astype(np.uint8)
        for i in range(n):
            images[i, 0, :16] = 255 * np.array([(i >> b) & 1 for b in range(16)])[:, None]
    with h5py.File(path, "w") as f:
        if drop != "images":
            f.create_dataset("images", data=images, chunks=(1,) + images.shape[1:] if images.ndim == 4 else None)
        if drop != "labels":
            f.create_dataset("labels", data=labels)
    return images, labels, index


@pytest.fixture
def dsprites_file(tmp_path):
    path = tmp_path / dsprites.FILENAME
    return path, write_dsprites(path)


@pytest.fixture
def shapes_file(tmp_path):
    path = tmp_path / shapes3d.FILENAME
    return path, write_3dshapes(path)


@pytest.mark.parametrize("chunk", [2048, 5])
def test_dsprites_images_factors_and_labels_stay_aligned(dsprites_file, monkeypatch, chunk):
    monkeypatch.setattr(dsprites, "_ROWS_PER_CHUNK", chunk)
    dsprites._read_packed.cache_clear()
    path, arrays = dsprites_file
    train = build_dataset(f"dsprites:{path}?n=30&n_test=10&seed=3", "train")
    test = build_dataset(f"dsprites:{path}?n=30&n_test=10&seed=3", "test")
    assert (len(train), len(test)) == (30, 10)
    assert train.classes == ["square", "ellipse", "heart"] and train.factor_names == [
        "color", "shape", "scale", "orientation", "posX", "posY"]
    rows = {}
    for name, ds in (("train", train), ("test", test)):
        rows[name] = []
        for i in range(len(ds)):
            image = ds.load_image(i)
            row = _decode_row(image)
            rows[name].append(row)
            assert image.size == (64, 64) and image.mode == "RGB"
            assert np.array_equal(np.asarray(image)[..., 0], arrays["imgs"][row] * 255)
            assert np.array_equal(ds.factor_classes[i], arrays["latents_classes"][row])
            assert np.allclose(ds.factor_values[i], arrays["latents_values"][row])
            assert ds[i][1] == arrays["latents_classes"][row, 1]  # the class label is the shape
    assert not set(rows["train"]) & set(rows["test"]) and rows["train"] == sorted(rows["train"])
    assert len(set(rows["train"])) == 30
    other_seed = build_dataset(f"dsprites:{path}?n=30&n_test=10&seed=4", "test")
    assert [_decode_row(other_seed.load_image(i)) for i in range(10)] != rows["test"]


def test_dsprites_defaults_folder_root_and_label_option(dsprites_file):
    path, arrays = dsprites_file
    train = build_dataset(f"dsprites:{path.parent}", "train")  # a folder holding the official file name
    test = build_dataset(f"dsprites:{path.parent}", "test")
    assert (len(train), len(test)) == (43, 5)  # default: 10% of the images held out
    by_pos = build_dataset(f"dsprites:{path}?label=posX", "train")
    assert len(by_pos.classes) == 32 and by_pos.classes[0] == "posX=0"
    rows = [_decode_row(by_pos.load_image(i)) for i in range(len(by_pos))]
    assert np.array_equal(by_pos.targets, arrays["latents_classes"][rows, 4])


def test_3dshapes_reads_lazily_and_keeps_alignment(shapes_file):
    path, (images, labels, index) = shapes_file
    train = build_dataset(f"3dshapes:{path}?n=25&n_test=8", "train")
    test = build_dataset(f"3dshapes:{path}?n=25&n_test=8", "test")
    assert (len(train), len(test)) == (25, 8)
    assert train.classes == ["cube", "cylinder", "sphere", "capsule"]
    assert not hasattr(train, "images")  # no image array in memory: one HDF5 read per access
    seen = []
    for ds in (train, test):
        for i in range(len(ds)):
            image = ds.load_image(i)
            row = _decode_row(image)
            seen.append(row)
            assert np.array_equal(np.asarray(image), images[row])
            assert np.array_equal(ds.factor_classes[i], index[row])
            assert np.allclose(ds.factor_values[i], labels[row])
            assert ds.targets[i] == index[row, 4]
    assert len(set(seen)) == 33
    clone = pickle.loads(pickle.dumps(train))  # DataLoader workers get their own file handle
    assert clone._handle is None and np.array_equal(np.asarray(clone.load_image(3)), np.asarray(train.load_image(3)))
    train.close()
    clone.close()


def test_3dshapes_values_off_the_assumed_grid_map_to_their_sorted_order(tmp_path):
    # Should the official hues include 1.0 (linspace(0, 1, 10)), the file's own 10 sorted values are the grid.
    path = tmp_path / "hues.h5"
    _, labels, index = write_3dshapes(path)
    labels[:, 0] = np.linspace(0, 1, 10)[index[:, 0]]
    write_3dshapes(path, labels=labels)
    ds = build_dataset(f"3dshapes:{path}?n=39&n_test=1", "train")
    rows = [_decode_row(ds.load_image(i)) for i in range(len(ds))]
    present = np.unique(index[:, 0])
    assert np.array_equal(ds.factor_classes[:, 0], np.searchsorted(present, index[rows, 0]))
    assert np.array_equal(ds.factor_classes[:, 1:], index[rows, 1:])
    ds.close()


def test_factor_tables_and_roles_follow_the_view_rules():
    standard = destroyed_factors_of(VIEW_RECIPES["simclr"])
    assert factor_roles(dsprites.FACTORS, standard) == {
        "color": "non-shared", "shape": "shared", "scale": "non-shared", "orientation": "non-shared",
        "posX": "non-shared", "posY": "non-shared"}
    assert factor_roles(shapes3d.FACTORS) == {
        "floor_hue": "non-shared", "wall_hue": "non-shared", "object_hue": "non-shared", "scale": "non-shared",
        "shape": "shared", "orientation": "non-shared"}
    # Without crop, scale and vertical position survive; flips still mirror posX and the orientation.
    no_crop = factor_roles(dsprites.FACTORS, destroyed_factors_of(VIEW_RECIPES["simclr-no_crop"]))
    assert no_crop["scale"] == no_crop["posY"] == no_crop["shape"] == "shared"
    assert no_crop["posX"] == no_crop["orientation"] == no_crop["color"] == "non-shared"
    no_color = factor_roles(shapes3d.FACTORS, destroyed_factors_of(VIEW_RECIPES["simclr-no_color"]))
    assert no_color["floor_hue"] == "shared" and no_color["scale"] == "non-shared"
    # The same destroyed names give the scenes the same verdicts on the factors they share.
    scenes = scene_roles(standard)
    assert scenes["shape"] == "shared" and scenes["color"] == scenes["scale"] == scenes["pos_x"] == "non-shared"
    rows = {r["name"]: r for r in table_rows(shapes3d.FACTORS)}
    assert (rows["orientation"]["kind"], rows["orientation"]["num_values"]) == ("continuous", 15)
    assert [f.num_values for f in dsprites.FACTORS] == list(DSPRITES_SIZES)
    assert [f.num_values for f in shapes3d.FACTORS] == [len(g) for g in SHAPES3D_GRIDS]


def test_spec_parsing():
    spec = parse_spec("dsprites:/data/d.npz?n=500&n_test=100&seed=2&label=shape")
    assert (spec.name, str(spec.root), spec.options) == (
        "dsprites", "/data/d.npz", {"n": "500", "n_test": "100", "seed": "2", "label": "shape"})
    assert parse_spec(str(spec)) == spec
    assert parse_spec("3dshapes:/data/3dshapes.h5").name == "3dshapes"
    with pytest.raises(DataError, match="needs a local path"):
        parse_spec("3dshapes?n=4")
    with pytest.raises(DataError, match="bad option 'size=3'"):
        parse_spec("dsprites:/d.npz?size=3")


def test_check_prints_shape_counts_and_factor_table(dsprites_file, shapes_file, capsys):
    path, arrays = dsprites_file
    assert main(["check", f"dsprites:{path}?n=30&n_test=10"]) == 0
    out = capsys.readouterr().out
    assert "train: 30 images, 3 classes, first image 64x64 RGB" in out and "test: 10 images" in out
    assert "file: imgs (48, 64, 64) uint8, latents_classes (48, 6), latents_values (48, 6)" in out
    assert "shape: discrete, 3 values, shared (class label)" in out
    assert "posX: continuous, 32 values, non-shared" in out and "color: discrete, 1 value, non-shared" in out
    assert main(["check", f"3dshapes:{shapes_file[0]}?n=20&n_test=5"]) == 0
    out = capsys.readouterr().out
    assert "file: images (40, 64, 64, 3) uint8, labels (40, 6)" in out and "train: 20 images, 4 classes" in out
    assert "object_hue: discrete, 10 values, non-shared" in out and "orientation: continuous, 15 values" in out


def test_normalization_stats_are_those_of_the_training_images(dsprites_file):
    path, arrays = dsprites_file
    spec = f"dsprites:{path}?n=30&n_test=10"
    train = build_dataset(spec, "train")
    rows = [_decode_row(train.load_image(i)) for i in range(len(train))]
    pixels = arrays["imgs"][rows].astype(np.float64)
    mean, std = dataset_stats(spec)
    assert np.allclose(mean, [pixels.mean()] * 3, atol=1e-4) and np.allclose(std, [pixels.std()] * 3, atol=1e-4)


def _fail(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err


def test_one_line_errors(tmp_path, capsys):
    assert "not found" in _fail(["check", f"dsprites:{tmp_path / 'missing.npz'}"], capsys)
    assert dsprites.FILENAME in _fail(["check", f"dsprites:{tmp_path}"], capsys)  # folder without the file
    no_classes = tmp_path / "a.npz"
    write_dsprites(no_classes, latents_classes=None)
    assert "has no 'latents_classes'" in _fail(["check", f"dsprites:{no_classes}"], capsys)
    small = tmp_path / "b.npz"
    write_dsprites(small, imgs=np.zeros((48, 32, 32), dtype=np.uint8))
    assert "'imgs' has shape (48, 32, 32)" in _fail(["check", f"dsprites:{small}"], capsys)
    bad_latents = tmp_path / "c.npz"
    write_dsprites(bad_latents, latents_values=np.zeros((48, 5)))
    assert "'latents_values' has shape (48, 5)" in _fail(["check", f"dsprites:{bad_latents}"], capsys)
    not_zip = tmp_path / "d.npz"
    not_zip.write_bytes(b"not an archive")
    assert "cannot read" in _fail(["check", f"dsprites:{not_zip}"], capsys)
    good = tmp_path / "e.npz"
    write_dsprites(good)
    assert "exceed the 48 images" in _fail(["check", f"dsprites:{good}?n=45&n_test=10"], capsys)
    assert "label='hue'" in _fail(["check", f"dsprites:{good}?label=hue"], capsys)
    assert "label='color'" in _fail(["check", f"dsprites:{good}?label=color"], capsys)  # one value only
    no_labels = tmp_path / "f.h5"
    write_3dshapes(no_labels, drop="labels")
    assert "has no 'labels'" in _fail(["check", f"3dshapes:{no_labels}"], capsys)
    grey = tmp_path / "g.h5"
    write_3dshapes(grey, images=np.zeros((40, 64, 64), dtype=np.uint8))
    assert "'images' has shape (40, 64, 64)" in _fail(["check", f"3dshapes:{grey}"], capsys)
    short = tmp_path / "h.h5"
    write_3dshapes(short, labels=np.zeros((40, 4)))
    assert "'labels' has shape (40, 4)" in _fail(["check", f"3dshapes:{short}"], capsys)
    off_grid = tmp_path / "i.h5"
    write_3dshapes(off_grid, labels=np.tile(np.arange(40.0)[:, None], (1, 6)))
    assert "holds 40 distinct values" in _fail(["check", f"3dshapes:{off_grid}"], capsys)
    text = tmp_path / "j.h5"
    text.write_text("plain text")
    assert "cannot open" in _fail(["check", f"3dshapes:{text}"], capsys)
    with pytest.raises(DataError, match="has splits"):
        build_dataset(f"3dshapes:{tmp_path / 'f.h5'}", "val")
