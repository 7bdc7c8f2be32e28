"""Attribution in bounded batches: the same numbers as one Captum call, and no pass above the bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients, Occlusion
from captum.metrics import infidelity, sensitivity_max
from torch import nn

from mcr_eval.audit.attr_batching import grad_batch_size, no_grad_batch_size, saved_bytes_per_image
from mcr_eval.audit.attr_data import AttributionData
from mcr_eval.audit.attr_runner import explain_function, run_attribution, score_attribution
from mcr_eval.audit.attr_scores import (
    deletion_insertion,
    gaussian_perturbation,
    infidelity_score,
    sensitivity_score,
)
from mcr_eval.audit.attribution import AttributionConfig, attribute, make_baseline
from mcr_eval.audit.scene_inputs import random_init_reference, render_scenes
from mcr_eval.audit.targets import ScalarTarget, view_references
from mcr_train.data.scenes import sample_factors

N = 5
UNBOUNDED = 10**6


@pytest.fixture(scope="module")
def pixels():
    # 8 px (area-averaged from the renderer's 16 px minimum) keeps Occlusion's windows and the passes few
    return F.avg_pool2d(render_scenes([sample_factors(0, i, stream=1) for i in range(N)], 16), 2)


@pytest.fixture(scope="module")
def encoder():
    meta = {"arch": "resnet18", "stem": "cifar", "width": 2}
    return random_init_reference(meta, [0.5, 0.4, 0.3], [0.25, 0.2, 0.3], seed=3)


@pytest.fixture(scope="module")
def setup(encoder, pixels):
    target = ScalarTarget(encoder, "view-similarity")
    return target, view_references(encoder, pixels), make_baseline(pixels, "blurred")


def config(method: str, batch: int) -> AttributionConfig:
    return AttributionConfig(method, "blurred", n_steps=6, shap_samples=3, nt_samples=2, internal_batch_size=batch)


@pytest.mark.parametrize("method", ["ig", "occlusion", "gradcam", "gradshap", "noisetunnel-ig"])
def test_batched_and_unbatched_maps_agree(setup, pixels, method):
    target, aux, baselines = setup
    whole = attribute(target, pixels, aux, baselines, config(method, UNBOUNDED))
    batched = attribute(target, pixels, aux, baselines, config(method, 4))
    torch.testing.assert_close(batched.values, whole.values, rtol=1e-4, atol=1e-6)
    if method == "ig":
        torch.testing.assert_close(batched.delta, whole.delta, rtol=1e-4, atol=1e-6)


def test_ig_and_occlusion_equal_one_plain_captum_call(setup, pixels):
    """The oracle: Captum itself on all examples at once, no batching (the former code path)."""
    target, aux, baselines = setup
    ours = attribute(target, pixels, aux, baselines, config("ig", 3))
    reference, delta = IntegratedGradients(target).attribute(
        pixels.clone().requires_grad_(True), baselines=baselines, additional_forward_args=(aux,), n_steps=6,
        return_convergence_delta=True)
    torch.testing.assert_close(ours.values, reference.detach(), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(ours.delta, delta.detach(), rtol=1e-4, atol=1e-6)
    ours = attribute(target, pixels, aux, baselines, config("occlusion", 3))
    with torch.no_grad():
        reference = Occlusion(target).attribute(pixels, sliding_window_shapes=(3, 2, 2), strides=(3, 1, 1),
                                                baselines=baselines, additional_forward_args=(aux,))
    torch.testing.assert_close(ours.values, reference, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", ["gradshap", "noisetunnel-ig"])
def test_random_methods_draw_per_example(setup, pixels, method):
    """An example's map depends on its own seed only: alone or among others, the same draws."""
    target, aux, baselines = setup
    together = attribute(target, pixels, aux, baselines, config(method, UNBOUNDED))
    alone = attribute(target, pixels[3:4], aux[3:4], baselines if method == "gradshap" else baselines[3:4],
                      config(method, UNBOUNDED), example_ids=[3])
    torch.testing.assert_close(alone.values[0], together.values[3], rtol=1e-4, atol=1e-6)
    other = attribute(target, pixels[3:4], aux[3:4], baselines if method == "gradshap" else baselines[3:4],
                      config(method, UNBOUNDED), example_ids=[4])
    assert not torch.allclose(other.values[0], together.values[3])


def reference_curve(target, pixels, aux, baselines, order, steps, insert):
    """The unbatched deletion/insertion curve: one forward of all examples per step."""
    n, _, h, w = pixels.shape
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(h * w).expand(n, -1).contiguous())
    values = []
    with torch.no_grad():
        for k in range(steps + 1):
            chosen = (ranks < round(k * h * w / steps)).view(n, 1, h, w)
            images = torch.where(chosen, pixels, baselines) if insert else torch.where(chosen, baselines, pixels)
            values.append(target(images, aux))
    curve = torch.stack(values, 1)
    return ((curve[:, 1:] + curve[:, :-1]) / 2).mean(1)


def test_deletion_insertion_batches_steps_without_changing_the_curves(setup, pixels):
    target, aux, baselines = setup
    heat = torch.rand(N, 8, 8, generator=torch.Generator().manual_seed(0))
    batched = deletion_insertion(target, pixels, aux, baselines, heat, steps=7, batch_size=6)
    whole = deletion_insertion(target, pixels, aux, baselines, heat, steps=7)
    order = heat.flatten(1).argsort(1, descending=True)
    for insert, name in ((False, "deletion_auc"), (True, "insertion_auc")):
        expected = reference_curve(target, pixels, aux, baselines, order, 7, insert)
        torch.testing.assert_close(batched[name], expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(whole[name], expected, rtol=1e-5, atol=1e-6)


def test_chunked_robustness_scores_equal_one_captum_call(setup, pixels):
    """Chunks of examples draw the same perturbations, in the same order, as one Captum call over all."""
    target, aux, baselines = setup
    cfg = config("ig", UNBOUNDED)
    result = attribute(target, pixels, aux, baselines, cfg)
    chunked = infidelity_score(target, pixels, aux, result.values, samples=4, batch_size=8)  # 2 examples a chunk
    torch.manual_seed(0)
    expected = infidelity(target, gaussian_perturbation(0.05), pixels, result.values, additional_forward_args=(aux,),
                          n_perturb_samples=4)
    torch.testing.assert_close(chunked, expected, rtol=1e-4, atol=1e-7)

    chunked = sensitivity_score(explain_function(target, cfg, pixels, result, baselines), pixels, aux, baselines,
                                samples=3, batch_size=6)  # 2 examples a chunk, the originals' maps reused
    torch.manual_seed(0)
    expected = sensitivity_max(explain_function(target, cfg), pixels, perturb_radius=0.02, n_perturb_samples=3,
                               baselines=baselines, additional_forward_args=(aux,))
    torch.testing.assert_close(chunked, expected, rtol=1e-4, atol=1e-6)


class BatchSizes:
    """Records the batch of every encoder pass, split by whether it builds a graph."""

    def __init__(self, module: nn.Module):
        self.grad: list[int] = []
        self.no_grad: list[int] = []
        self.handle = module.register_forward_pre_hook(self.record)

    def record(self, module, inputs) -> None:
        x = inputs[0]
        (self.grad if torch.is_grad_enabled() and x.requires_grad else self.no_grad).append(len(x))


@pytest.mark.parametrize("method", ["ig", "gradshap", "noisetunnel-ig", "occlusion", "gradcam"])
def test_no_encoder_pass_exceeds_the_batch_bound(encoder, pixels, method):
    """The memory-bounding parameter reaches every pass: maps, curves, infidelity and sensitivity_max."""
    data = AttributionData("scenes", pixels[:3])
    batch = 4
    sizes = BatchSizes(encoder.encoder)
    try:
        _, scores = run_attribution(encoder, data, "view-similarity", config(method, batch))
    finally:
        sizes.handle.remove()
    assert np.isfinite(scores["sensitivity_max"]) and np.isfinite(scores["infidelity"])
    assert sizes.grad or method == "occlusion"
    assert max(sizes.grad, default=0) <= batch, sizes.grad
    assert max(sizes.no_grad) <= no_grad_batch_size(batch), sizes.no_grad
    # the bound is reached (by the deletion/insertion curves), so it is what limits the passes
    assert max(sizes.no_grad) == no_grad_batch_size(batch)


def test_score_attribution_measures_a_bound_when_none_is_given(setup, pixels):
    target, aux, baselines = setup
    cfg = config("ig", UNBOUNDED)
    result = attribute(target, pixels, aux, baselines, cfg)
    data = AttributionData("scenes", pixels)
    auto = score_attribution(target, data, aux, baselines, result, AttributionConfig("ig", "blurred", n_steps=6))
    fixed = score_attribution(target, data, aux, baselines, result, cfg)
    np.testing.assert_allclose(list(auto.values()), list(fixed.values()), rtol=1e-4, atol=1e-6)


class ReluSum(nn.Module):
    """f(x) = sum(relu(x)): autograd saves relu's output, one float per input element, and nothing else."""

    def forward(self, x: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        return torch.relu(x).flatten(1).sum(1)


class Features(nn.Module):
    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


def test_saved_bytes_per_image_closed_form_and_scaling(encoder):
    x = torch.rand(2, 3, 16, 16)
    assert saved_bytes_per_image(ReluSum(), x, torch.zeros(2)) == 3 * 16 * 16 * 4
    assert grad_batch_size(ReluSum(), x, torch.zeros(2), budget_bytes=10 * 3072 + 5) == 10
    small = saved_bytes_per_image(Features(encoder), x, torch.zeros(2))
    large = saved_bytes_per_image(Features(encoder), torch.rand(2, 3, 32, 32), torch.zeros(2))
    assert small > 3 * 16 * 16 * 4 and large == pytest.approx(4 * small, rel=0.02)  # activations scale with area
