"""Factor scenes: determinism, exact counterfactuals, factor coverage."""

import numpy as np
import pytest

from mcr_train.data.scenes import (
    BACKGROUNDS,
    CATEGORICAL_FACTORS,
    COLORS,
    SHAPES,
    SceneFactors,
    detail_region,
    render,
    sample_factors,
)
from mcr_train.data.scenes_dataset import ScenesDataset
from mcr_train.errors import DataError


@pytest.mark.parametrize("size", [32, 64, 96])
def test_same_seed_and_index_give_identical_bytes(size):
    a = render(sample_factors(3, 17), size)
    b = render(sample_factors(3, 17), size)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.image.shape == (size, size, 3) and a.image.dtype == np.uint8


def test_other_seed_or_index_differs():
    base = render(sample_factors(0, 5), 32).image
    assert not np.array_equal(base, render(sample_factors(1, 5), 32).image)
    assert not np.array_equal(base, render(sample_factors(0, 6), 32).image)


def test_factor_vocabularies_meet_the_spec():
    assert len(SHAPES) >= 6 and len(COLORS) >= 8
    assert set(CATEGORICAL_FACTORS["texture"]) >= {"solid", "stripes", "dots", "checker"}
    assert len(CATEGORICAL_FACTORS["scale"]) >= 3 and len(BACKGROUNDS) >= 2


def test_every_shape_is_visible_and_distinct_at_32px():
    masks = []
    for shape in SHAPES:
        f = sample_factors(0, 0).intervene(shape=shape, scale="large", pos_x=0.5, pos_y=0.5)
        mask = render(f, 32).object_mask
        assert mask.sum() > 20, shape
        masks.append(mask.tobytes())
    assert len(set(masks)) == len(SHAPES)


def _factors(**kw) -> SceneFactors:
    base = dict(shape="circle", color="red", texture="stripes", scale="large", pos_x=0.5, pos_y=0.5,
                detail_present=True, detail_kind="plus", detail_corner="top_left", background="dark")
    base.update(kw)
    return SceneFactors(**base)


@pytest.mark.parametrize("size", [32, 64])
def test_color_change_keeps_mask_and_only_changes_object_pixels(size):
    a, b = render(_factors(), size), render(_factors(color="blue"), size)
    assert np.array_equal(a.object_mask, b.object_mask)
    changed = np.any(a.image != b.image, axis=-1)
    assert changed.any() and not changed[~a.object_mask].any()


@pytest.mark.parametrize("size", [32, 64])
def test_detail_toggle_changes_only_the_detail_region(size):
    on, off = render(_factors(), size), render(_factors(detail_present=False), size)
    changed = np.any(on.image != off.image, axis=-1)
    region = detail_region(_factors(), size)
    assert changed.any() and not changed[~region].any()
    assert np.array_equal(changed, on.detail_mask)
    assert not off.detail_mask.any()


def test_texture_and_background_interventions_are_local():
    a = render(_factors(), 64)
    t = render(_factors(texture="solid"), 64)
    changed = np.any(a.image != t.image, axis=-1)
    assert changed.any() and not changed[~a.object_mask].any()
    g = render(_factors(background="bright"), 64)
    changed = np.any(a.image != g.image, axis=-1)
    assert not changed[a.object_mask].any()  # object pixels are the object's
    assert changed[~a.object_mask & ~a.detail_mask].all()


def test_position_and_scale_move_the_mask():
    a = render(_factors(), 64).object_mask
    assert render(_factors(pos_x=0.0), 64).object_mask.nonzero()[1].mean() < a.nonzero()[1].mean()
    assert render(_factors(scale="small"), 64).object_mask.sum() < a.sum()


def test_bad_factor_values_are_rejected():
    with pytest.raises(DataError, match="color"):
        _factors(color="chartreuse")
    with pytest.raises(DataError, match="pos_x"):
        _factors(pos_x=1.5)
    with pytest.raises(DataError, match="unknown scene factor"):
        _factors().intervene(hue="red")
    with pytest.raises(DataError, match="at least 16"):
        render(_factors(), 8)


def test_dataset_labels_factors_and_splits():
    train = ScenesDataset(n=200, size=32, seed=0, split="train")
    test = ScenesDataset(n=50, size=32, seed=0, split="test")
    image, label = train[3]
    assert image.size == (32, 32) and image.mode == "RGB"
    assert train.classes[label] == train.factors(3).shape
    assert not np.array_equal(np.asarray(train[0][0]), np.asarray(test[0][0]))
    assert set(train.targets.tolist()) == set(range(len(SHAPES)))
    colors = ScenesDataset(n=50, size=32, split="train", label_factor="color")
    assert colors.classes == list(COLORS)


def test_materialize_cache_round_trip(tmp_path):
    ds = ScenesDataset(n=20, size=32, seed=2)
    cache = tmp_path / "scenes.npz"
    first = ds.materialize(cache)
    again = ScenesDataset(n=20, size=32, seed=2).materialize(cache)
    assert cache.is_file()
    assert np.array_equal(np.asarray(first[7][0]), np.asarray(again[7][0]))
    assert np.array_equal(again.image_array(7), render(sample_factors(2, 7), 32).image)
