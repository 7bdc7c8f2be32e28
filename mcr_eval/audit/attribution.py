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
    method: str = "ig"
    baseline: str = "black"
    n_steps: int = 32
    shap_samples: int = 16
    nt_samples: int = 8
    nt_stdev: float = 0.1
    internal_batch_size: int | None = None


def attribute(target: ScalarTarget, pixels: torch.Tensor, aux: torch.Tensor, baselines: torch.Tensor,
              config: AttributionConfig) -> Attribution:
    """Run ``config.method`` on ``target(pixels, aux)`` against pixel-space ``baselines``."""
    method = check_method(config.method)
    target.eval()
    pixels = pixels.detach().clone().requires_grad_(True)
    args = (aux,)
    if method == "ig":
        values, delta = IntegratedGradients(target).attribute(
            pixels, baselines=baselines, additional_forward_args=args, n_steps=config.n_steps,
            internal_batch_size=config.internal_batch_size, return_convergence_delta=True)
        return Attribution(values.detach(), delta.detach())
    if method == "gradshap":
        torch.manual_seed(0)
        values = GradientShap(target).attribute(pixels, baselines=baselines, additional_forward_args=args,
                                                n_samples=config.shap_samples)
        return Attribution(values.detach())
    if method == "occlusion":
        side = max(2, pixels.shape[-1] // 8)
        stride = max(1, side // 2)
        values = Occlusion(target).attribute(pixels, sliding_window_shapes=(pixels.shape[1], side, side),
                                             strides=(pixels.shape[1], stride, stride), baselines=baselines,
                                             additional_forward_args=args)
        return Attribution(values.detach())
    if method == "gradcam":
        cam = LayerGradCam(target, cam_layer(target)).attribute(pixels, additional_forward_args=args,
                                                                relu_attributions=True)
        cam = LayerAttribution.interpolate(cam, tuple(pixels.shape[-2:]), interpolate_mode="bilinear")
        channels = pixels.shape[1]
        return Attribution((cam / channels).expand(-1, channels, -1, -1).detach().clone())
    torch.manual_seed(0)
    values = NoiseTunnel(IntegratedGradients(target)).attribute(
        pixels, nt_type="smoothgrad", nt_samples=config.nt_samples, stdevs=config.nt_stdev,
        baselines=baselines, additional_forward_args=args, n_steps=config.n_steps)
    return Attribution(values.detach())
