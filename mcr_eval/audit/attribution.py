"""Captum attributions of a :class:`~mcr_eval.audit.targets.ScalarTarget`, with pixel-space baselines.

Methods (all on the scalar target, images in [0, 1], the encoder's normalization inside the model):

* ``ig``: IntegratedGradients (Sundararajan et al., 2017), Gauss-Legendre steps; the convergence delta
  ``sum(attr) - (f(x) - f(baseline))`` is returned;
* ``gradshap``: GradientShap (Lundberg & Lee, 2017) with the baseline images as the reference distribution;
* ``occlusion``: Occlusion (Zeiler & Fergus, 2014) with a square window of 1/8 of the side, stride half that,
  filled with the baseline;
* ``gradcam``: LayerGradCam (Selvaraju et al., 2017) on the last convolutional stage (``layer4``), ReLU'd
  and bilinearly upsampled to the image;
* ``noisetunnel-ig``: NoiseTunnel SmoothGrad over IG (Smilkov et al., 2017), noise std 0.1 in pixel units.

Baselines are stated in pixel space: ``black`` (zeros), ``blurred`` (Gaussian blur, sigma = side / 8) or
``mean`` (the per-channel dataset mean colour).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from captum.attr import (
    GradientShap,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
)
from torch import nn
from torchvision.transforms.v2 import functional as TF

from mcr_eval.audit.attr_batching import (
    example_seed,
    frozen,
    grad_batch_size,
    no_grad_batch_size,
    seeded,
    spans,
)
from mcr_eval.audit.targets import ScalarTarget
from mcr_train.errors import ConfigError

METHODS = ("ig", "gradshap", "occlusion", "gradcam", "noisetunnel-ig")
BASELINES = ("black", "blurred", "mean")


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ConfigError(f"unknown --method '{method}'; choose one of {', '.join(METHODS)}")
    return method


def make_baseline(pixels: torch.Tensor, kind: str, mean_rgb: Sequence[float] | None = None) -> torch.Tensor:
    """Pixel-space baseline images with the shape of ``pixels``."""
    if kind == "black":
        return torch.zeros_like(pixels)
    if kind == "blurred":
        sigma = max(pixels.shape[-1] / 8.0, 0.5)
        kernel = int(2 * round(2 * sigma) + 1)
        return TF.gaussian_blur(pixels, [kernel, kernel], [sigma, sigma])
    if kind == "mean":
        if mean_rgb is None:
            mean_rgb = pixels.mean((0, 2, 3)).tolist()
        return torch.tensor([float(v) for v in mean_rgb]).view(1, -1, 1, 1).expand_as(pixels).clone()
    raise ConfigError(f"unknown --baseline '{kind}'; choose one of {', '.join(BASELINES)}")


def cam_layer(target: ScalarTarget) -> nn.Module:
    """The last convolutional stage of the encoder (``layer4`` of a ResNet, else the last Conv2d)."""
    encoder = target.encoder.encoder
    if hasattr(encoder, "layer4"):
        return encoder.layer4
    convs = [m for m in encoder.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ConfigError("gradcam needs a convolutional encoder; use --method ig, gradshap, occlusion or "
                          "noisetunnel-ig")
    return convs[-1]


@dataclass
class Attribution:
    """Attributions (N, C, H, W) in input space (Grad-CAM: its map spread over channels), the per-pixel
    map (N, H, W) = sum over channels, and IG's convergence delta (N,) when computed."""

    values: torch.Tensor
    delta: torch.Tensor | None = None

    @property
    def pixel_map(self) -> torch.Tensor:
        return self.values.sum(1)


@dataclass
class AttributionConfig:
    """What defines the maps; ``internal_batch_size`` only bounds memory (images per forward+backward pass,
    ``None``: measured for the encoder, see :mod:`.attr_batching`) and never changes a value."""

    method: str = "ig"
    baseline: str = "black"
    n_steps: int = 32
    shap_samples: int = 16
    nt_samples: int = 8
    nt_stdev: float = 0.1
    internal_batch_size: int | None = None


def batch_size_for(target: ScalarTarget, pixels: torch.Tensor, aux: torch.Tensor, config: AttributionConfig) -> int:
    """Images per gradient pass: the configured bound, else measured from this encoder's saved activations."""
    if config.internal_batch_size:
        return max(1, int(config.internal_batch_size))
    return grad_batch_size(target, pixels[:1], aux[:1])


def attribute(target: ScalarTarget, pixels: torch.Tensor, aux: torch.Tensor, baselines: torch.Tensor,
              config: AttributionConfig, with_delta: bool = True,
              example_ids: Sequence[int] | None = None) -> Attribution:
    """Run ``config.method`` on ``target(pixels, aux)`` against pixel-space ``baselines``.

    Examples go through Captum in chunks, and each method's own expansion is batched with Captum's
    ``internal_batch_size`` (IG, NoiseTunnel-IG) or ``perturbations_per_eval`` (Occlusion, without
    gradients), so that no pass carries more than ``batch_size_for`` images and memory does not grow with
    the number of examples. The random methods (GradientShap, NoiseTunnel) draw for each example from its
    own seed (:func:`.attr_batching.example_seed` of ``example_ids[i]``, default its position), so a map
    depends neither on the batching nor on the other examples. ``with_delta=False`` skips IG's
    convergence delta (two forward passes) where only the maps are needed.
    """
    method = check_method(config.method)
    target.eval()
    n = len(pixels)
    ids = list(range(n)) if example_ids is None else [int(i) for i in example_ids]
    batch = batch_size_for(target, pixels, aux, config)

    def base(start: int, stop: int) -> torch.Tensor:  # per-example baselines are sliced, a shared one broadcast
        return baselines[start:stop] if baselines.shape[0] == n and n > 1 else baselines

    values, deltas = [], []
    with frozen(target):
        if method in ("gradshap", "noisetunnel-ig"):
            for i in range(n):
                with seeded(example_seed(0, ids[i])):
                    values.append(_random_method(target, pixels[i:i + 1], aux[i:i + 1],
                                                 baselines if method == "gradshap" else base(i, i + 1),
                                                 config, batch))
            return Attribution(torch.cat(values))
        if method == "occlusion":
            no_grad_batch = no_grad_batch_size(batch)
            for start, stop in spans(n, no_grad_batch):
                values.append(_occlusion(target, pixels[start:stop], aux[start:stop], base(start, stop),
                                         max(1, no_grad_batch // (stop - start))))
            return Attribution(torch.cat(values))
        if method == "gradcam":
            for start, stop in spans(n, batch):
                values.append(_gradcam(target, pixels[start:stop], aux[start:stop]))
            return Attribution(torch.cat(values))
        for start, stop in spans(n, max(1, batch // config.n_steps)):
            out = IntegratedGradients(target).attribute(
                pixels[start:stop].detach(), baselines=base(start, stop), additional_forward_args=(aux[start:stop],),
                n_steps=config.n_steps, internal_batch_size=batch, return_convergence_delta=with_delta)
            chunk, delta = out if with_delta else (out, None)
            values.append(chunk.detach())
            if delta is not None:
                deltas.append(delta.detach())
    return Attribution(torch.cat(values), torch.cat(deltas) if with_delta else None)


def _random_method(target: ScalarTarget, pixel: torch.Tensor, aux: torch.Tensor, baselines: torch.Tensor,
                   config: AttributionConfig, batch: int) -> torch.Tensor:
    """GradientShap (``baselines``: the whole reference distribution) or NoiseTunnel-IG on one example."""
    args = (aux,)
    if config.method == "gradshap":  # one pass of shap_samples images (Captum has no internal batching here)
        return GradientShap(target).attribute(pixel.detach(), baselines=baselines, additional_forward_args=args,
                                              n_samples=config.shap_samples).detach()
    # NoiseTunnel hands IG nt_samples noisy copies at once; IG then batches copies x steps
    return NoiseTunnel(IntegratedGradients(target)).attribute(
        pixel.detach(), nt_type="smoothgrad", nt_samples=config.nt_samples, stdevs=config.nt_stdev,
        baselines=baselines, additional_forward_args=args, n_steps=config.n_steps,
        internal_batch_size=max(batch, config.nt_samples)).detach()


def _occlusion(target: ScalarTarget, pixels: torch.Tensor, aux: torch.Tensor, baselines: torch.Tensor,
               per_eval: int) -> torch.Tensor:
    side = max(2, pixels.shape[-1] // 8)
    stride = max(1, side // 2)
    # Forward passes only: without no_grad, Captum's running sum would chain every window's graph together
    with torch.no_grad():
        return Occlusion(target).attribute(pixels.detach(), sliding_window_shapes=(pixels.shape[1], side, side),
                                           strides=(pixels.shape[1], stride, stride), baselines=baselines,
                                           additional_forward_args=(aux,), perturbations_per_eval=per_eval)


def _gradcam(target: ScalarTarget, pixels: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
    x = pixels.detach().clone().requires_grad_(True)
    cam = LayerGradCam(target, cam_layer(target)).attribute(x, additional_forward_args=(aux,),
                                                            relu_attributions=True)
    cam = LayerAttribution.interpolate(cam, tuple(pixels.shape[-2:]), interpolate_mode="bilinear")
    channels = pixels.shape[1]
    return (cam / channels).expand(-1, channels, -1, -1).detach().clone()
