"""View pipelines (recipes, normalization, destroyed factors) and MLP heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mcr_train.errors import ConfigError
from mcr_train.models.heads import MLPHead, build_head
from mcr_train.views import VIEW_RECIPES, ViewSpec, build_views
from mcr_train.views.pipeline import blur_kernel_size, build_view

MEAN, STD = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)


def photo(size=40, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


@pytest.mark.parametrize("name", sorted(n for n in VIEW_RECIPES if "-" not in n))  # ablations: tested below
def test_every_recipe_gives_two_normalized_views(name):
    torch.manual_seed(0)
    views = build_views(name, 32, MEAN, STD)
    v1, v2 = views(photo())
    assert v1.shape == v2.shape == (3, 32, 32) and v1.dtype == torch.float32
    assert not torch.equal(v1, v2)
    assert set(views.destroyed_factors()) == {"scale", "pos_x", "pos_y", "detail_present", "color", "handedness"}


def test_cifar_variants_drop_blur_and_byol_is_asymmetric():
    for name, pair in VIEW_RECIPES.items():
        if name.endswith("_cifar"):
            assert all(spec.blur_p == 0 for spec in pair)
    byol1, byol2 = VIEW_RECIPES["byol"]
    assert (byol1.blur_p, byol2.blur_p, byol1.solarize_p, byol2.solarize_p) == (1.0, 0.1, 0.0, 0.2)
    assert VIEW_RECIPES["simclr"][0].jitter == (0.8, 0.8, 0.8, 0.2)
    assert VIEW_RECIPES["mocov2"][0].min_scale == 0.2
    assert blur_kernel_size(224) == 23


def test_identity_view_is_exact_normalization():
    """With every random op disabled a view is ``(pixels / 255 - mean) / std``."""
    spec = ViewSpec(min_scale=1.0, jitter_p=0.0, gray_p=0.0, blur_p=0.0, solarize_p=0.0, flip_p=0.0)
    img = photo(32)
    out = build_view(spec, 32, MEAN, STD)(img)
    ref = torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255 - torch.tensor(MEAN)[:, None, None]
    ref = ref / torch.tensor(STD)[:, None, None]
    assert torch.allclose(out, ref, atol=1e-6)
    no_crop = build_views("simclr", 32, MEAN, STD)
    no_crop.specs = (spec, spec)
    assert no_crop.destroyed_factors() == []


def test_crop_scale_follows_the_recipe_range():
    """RandomResizedCrop area fractions of the MoCo v2 view cover [0.2, 1] and stay inside it."""
    view = build_views("mocov2_cifar", 32, MEAN, STD).views[0]
    crop = next(t for t in view.transforms if type(t).__name__ == "RandomResizedCrop")
    assert crop.scale == (0.2, 1.0)
    torch.manual_seed(0)
    img = torch.zeros(3, 64, 64)
    fractions = np.array([p["height"] * p["width"] / 64**2 for p in (crop.make_params([img]) for _ in range(500))])
    assert fractions.min() >= 0.2 - 0.02 and fractions.max() <= 1.0
    assert fractions.min() < 0.3 and fractions.max() > 0.9


def test_unknown_view_name_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown view pipeline 'nope'"):
        build_views("nope", 32, MEAN, STD)


def test_mlp_head_layout():
    head = MLPHead(16, 32, 8, num_layers=3, hidden_bn=True, last_bn=True, last_bn_affine=False)
    kinds = [type(m).__name__ for m in head.net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d"]
    assert head.net[0].bias is None and head.net[-1].weight is None
    assert head(torch.randn(5, 16)).shape == (5, 8)
    no_bn = build_head(16, dict(hidden_dim=32, out_dim=8, num_layers=2, hidden_bn=False))
    assert [type(m).__name__ for m in no_bn.net] == ["Linear", "ReLU", "Linear"]
    with pytest.raises(ConfigError, match="unknown head option"):
        build_head(16, dict(hidden=3))


def test_augmentation_ablations_drop_only_their_part_and_change_the_destroyed_factors():
    from mcr_train.views.pipeline import destroyed_factors_of

    base = VIEW_RECIPES["simclr_cifar"]
    crop_only, no_crop = VIEW_RECIPES["simclr_cifar-crop_only"], VIEW_RECIPES["simclr_cifar-no_crop"]
    assert all(v.jitter_p == v.gray_p == v.blur_p == v.solarize_p == 0 for v in crop_only)
    assert [v.min_scale for v in crop_only] == [v.min_scale for v in base]
    assert all(v.min_scale == 1.0 and v.jitter == b.jitter for v, b in zip(no_crop, base))
    assert "color" in destroyed_factors_of(base) and "color" not in destroyed_factors_of(crop_only)
    assert "pos_x" in destroyed_factors_of(base) and "pos_x" not in destroyed_factors_of(no_crop)
