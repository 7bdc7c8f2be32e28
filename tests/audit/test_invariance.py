"""Transformation counterfactuals on real photos and their invariance scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mcr_eval.audit.invariance import TRANSFORMS, invariance_scores
from mcr_eval.audit.photos import photo_crops
from mcr_eval.audit.planted import HueHistogramEncoder
from mcr_eval.audit.scene_inputs import PixelSpaceEncoder, encode, to_pixels


@pytest.fixture(scope="module")
def photos():
    images, _ = photo_crops(32, crops_per_photo=3, seed=0)
    return to_pixels(images)


def test_transforms_do_what_they_say(photos):
    rng = np.random.default_rng(0)
    gray = TRANSFORMS["grayscale"](photos, rng)
    assert torch.equal(gray[:, 0], gray[:, 1]) and torch.equal(gray[:, 1], gray[:, 2])
    torch.testing.assert_close(TRANSFORMS["rotation"](TRANSFORMS["rotation"](photos, rng), rng),
                               torch.flip(photos, dims=(2, 3)))
    cut = TRANSFORMS["crop_out"](photos, rng)
    changed = (cut != photos).any(1).flatten(1).float().sum(1)
    assert (changed <= 16 * 16).all() and (changed > 0).all()
    hue = TRANSFORMS["hue_shift"](photos, rng)
    torch.testing.assert_close(hue.amax(1) - hue.amin(1), photos.amax(1) - photos.amin(1), atol=2e-2, rtol=0)


def test_hue_histogram_is_rotation_invariant_and_hue_sensitive(photos):
    encoder = PixelSpaceEncoder(HueHistogramEncoder(), [0.0] * 3, [1.0] * 3)
    scores = invariance_scores(photos, lambda x: encode(encoder, x))
    assert scores["rotation"] > 0.999  # a histogram ignores where pixels are
    assert scores["hue_shift"] < 0.3 and scores["grayscale"] < 0.3
    assert scores["rotation"] > scores["blur"] > scores["hue_shift"]


def test_transforms_that_move_no_pixel_of_grey_images_are_not_scored(photos):
    grey = TRANSFORMS["grayscale"](photos, np.random.default_rng(0))
    # the luma weights sum to 0.9999, so grayscale of a grey image moves pixels, but by far less than a grey level
    assert 0 < (TRANSFORMS["grayscale"](grey, None) - grey).abs().max() < 0.5 / 255
    encoder = PixelSpaceEncoder(HueHistogramEncoder(), [0.0] * 3, [1.0] * 3)
    colour = invariance_scores(photos, lambda x: encode(encoder, x))
    assert set(colour) == set(TRANSFORMS)
    flat = invariance_scores(grey, lambda x: x.flatten(1).numpy())
    assert set(flat) == {"crop_out", "rotation", "blur"}
    # skipping does not change the other scores: every transform draws from the generator in the same order
    kept = invariance_scores(grey, lambda x: x.flatten(1).numpy(), names=("crop_out", "rotation", "blur"))
    assert flat == kept
