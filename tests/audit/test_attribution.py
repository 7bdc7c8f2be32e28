"""Captum wrapper: IG completeness, batching alignment, corner localisation, scores on closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mcr_eval.audit.attr_scores import (
    deletion_insertion,
    infidelity_score,
    mass_in_mask,
    pointing_game,
)
from mcr_eval.audit.attribution import AttributionConfig, attribute, make_baseline
from mcr_eval.audit.planted import CornerEncoder
from mcr_eval.audit.scene_inputs import PixelSpaceEncoder, random_init_reference, render_scenes
from mcr_eval.audit.targets import ScalarTarget, principal_direction, view_references
from mcr_train.data.scenes import sample_factors


@pytest.fixture(scope="module")
def pixels():
    return render_scenes([sample_factors(0, i, stream=1) for i in range(4)], 32)


@pytest.fixture(scope="module")
def resnet():
    meta = {"arch": "resnet18", "stem": "cifar", "width": 4}
    return random_init_reference(meta, [0.5, 0.4, 0.3], [0.25, 0.2, 0.3], seed=3)


@pytest.mark.parametrize("baseline", ["black", "blurred", "mean"])
def test_integrated_gradients_completeness(resnet, pixels, baseline):
    from mcr_eval.audit.scene_inputs import encode

    direction = principal_direction(encode(resnet, pixels))
    target = ScalarTarget(resnet, "direction")
    aux = direction.expand(len(pixels), -1)
    baselines = make_baseline(pixels, baseline)
    result = attribute(target, pixels, aux, baselines, AttributionConfig("ig", baseline, n_steps=64))
    with torch.no_grad():
        expected = target(pixels, aux) - target(baselines, aux)
    total = result.values.flatten(1).sum(1)
    # Captum's delta is exactly the completeness gap, and the gap is small against the output change
    np.testing.assert_allclose(result.delta.numpy(), (total - expected).numpy(), atol=1e-5)
    scale = target(pixels, aux).detach().abs().mean()
    assert (result.delta.abs() <= 0.05 * expected.abs() + 0.01 * scale).all(), (result.delta, expected, scale)
    assert not resnet.training and not resnet.encoder.training


def test_additional_forward_args_stay_aligned_through_internal_batching(resnet, pixels):
    torch.manual_seed(0)
    direction = principal_direction(np.random.default_rng(0).normal(size=(50, resnet.encoder.num_features)))
    aux = torch.stack([direction, -direction, direction * 2, -direction * 0.5])  # different per example
    target = ScalarTarget(resnet, "direction")
    baselines = make_baseline(pixels, "black")
    whole = attribute(target, pixels, aux, baselines, AttributionConfig("ig", n_steps=8))
    chunked = attribute(target, pixels, aux, baselines, AttributionConfig("ig", n_steps=8, internal_batch_size=12))
    torch.testing.assert_close(whole.values, chunked.values, rtol=1e-4, atol=1e-6)
    # the second example's direction is the negation of the first's: so are its attributions' sums
    flipped = attribute(target, pixels[[0, 0]], aux[:2], baselines[:2], AttributionConfig("ig", n_steps=8))
    torch.testing.assert_close(flipped.values[0], -flipped.values[1], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", ["ig", "gradshap", "noisetunnel-ig", "occlusion"])
def test_corner_encoder_attribution_lies_in_its_corner(pixels, method):
    encoder = PixelSpaceEncoder(CornerEncoder(), [0.0] * 3, [1.0] * 3)
    target = ScalarTarget(encoder, "view-similarity")
    aux = view_references(encoder, pixels)
    config = AttributionConfig(method, "mean", n_steps=16, shap_samples=8, nt_samples=4)
    result = attribute(target, pixels, aux, make_baseline(pixels, "mean"), config)
    corner = torch.zeros(len(pixels), 32, 32, dtype=torch.bool)
    corner[:, :8, :8] = True
    magnitude = result.values.abs().sum(1)
    inside = (magnitude * corner).flatten(1).sum(1) / magnitude.flatten(1).sum(1)
    if method == "occlusion":  # windows straddling the corner's edge spread a little outside it
        assert (inside > 0.75).all(), inside
    else:
        assert torch.allclose(inside, torch.ones_like(inside)), inside


def test_gradcam_maps_are_nonnegative_image_sized(resnet, pixels):
    target = ScalarTarget(resnet, "view-similarity")
    result = attribute(target, pixels, view_references(resnet, pixels), make_baseline(pixels, "black"),
                       AttributionConfig("gradcam"))
    assert result.values.shape == pixels.shape and (result.pixel_map >= 0).all()


def test_mask_mass_and_pointing_game_closed_forms():
    heat = torch.zeros(2, 4, 4)
    heat[0, 0, 0], heat[0, 3, 3], heat[0, 1, 1] = 3.0, 1.0, -5.0
    heat[1, 2, 2] = 2.0
    mask = torch.zeros(2, 4, 4, dtype=torch.bool)
    mask[:, :2, :2] = True
    torch.testing.assert_close(mass_in_mask(heat, mask), torch.tensor([0.75, 0.0]))
    torch.testing.assert_close(pointing_game(heat, mask), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(pointing_game(heat, mask, tolerance=1), torch.tensor([1.0, 1.0]))


class MaskedSum(nn.Module):
    """f(x, aux) = sum of x over a fixed mask: linear, so its gradient is known exactly."""

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask.float())

    def forward(self, x: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        return (x * self.mask).flatten(1).sum(1)


def test_deletion_insertion_and_infidelity_on_a_linear_target():
    torch.manual_seed(0)
    mask = torch.zeros(1, 3, 8, 8)
    mask[..., :4, :4] = 1.0
    target = MaskedSum(mask)
    x = torch.rand(3, 3, 8, 8) * 0.5 + 0.5
    aux = torch.zeros(3)
    baselines = torch.zeros_like(x)
    perfect = mask.expand_as(x).sum(1)  # per-pixel map of the true gradient
    aucs = deletion_insertion(target, x, aux, baselines, perfect, steps=8)
    assert (aucs["deletion_auc"] < aucs["deletion_auc_random"]).all()
    assert (aucs["insertion_auc"] > aucs["insertion_auc_random"]).all()
    exact = infidelity_score(target, x, aux, mask.expand_as(x).clone(), noise=0.1, samples=16)
    wrong = infidelity_score(target, x, aux, torch.rand_like(x), noise=0.1, samples=16)
    assert exact.max() < 1e-8 and (wrong > 1e-3).all()
