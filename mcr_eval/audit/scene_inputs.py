"""Images in pixel space, the encoder wrapper that normalizes them, and the two reference feature sets.

All audit code feeds images in [0, 1] (N, 3, H, W); :class:`PixelSpaceEncoder` applies the encoder's
training normalization as its first step, so counterfactuals, baselines and attributions all live in
pixel space. The encoder is kept in eval mode (BN uses its running statistics).

References that give a probe number its meaning:

* **raw pixels**: the image area-averaged to at most 16 x 16 pixels, flattened (768 values for RGB);
* **random init**: the same architecture as the audited encoder, freshly initialised with a fixed seed
  (``mcr_eval.audit.runner.RANDOM_REFERENCE_SEED``; ResNet-18 CIFAR-stem width 16 for planted encoders).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mcr_train.data.scenes import SceneFactors, render

RAW_PIXEL_SIDE = 16


class PixelSpaceEncoder(nn.Module):
    """``encoder((x - mean) / std)`` flattened, for ``x`` in [0, 1]; the encoder never leaves eval mode."""

    def __init__(self, encoder: nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.encoder = encoder.eval()
        self.register_buffer("mean", torch.tensor([float(m) for m in mean]).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor([float(s) for s in std]).view(1, -1, 1, 1))

    def train(self, mode: bool = True) -> PixelSpaceEncoder:  # BN stays in eval mode
        super().train(False)
        return self

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.encoder((pixels - self.mean) / self.std).flatten(1)


def render_scenes(factors: Sequence[SceneFactors], size: int) -> torch.Tensor:
    """Rendered scenes as a float tensor (N, 3, size, size) in [0, 1]."""
    images = np.stack([render(f, size).image for f in factors])
    return to_pixels(images)


def to_pixels(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(255.0)


@torch.inference_mode()
def encode(model: nn.Module, pixels: torch.Tensor, batch_size: int = 256,
           device: str | torch.device = "cpu") -> np.ndarray:
    """Features (N, D) float64 of pixel-space images, in batches, with the model in eval mode."""
    model.eval().to(device)
    chunks = [model(pixels[i:i + batch_size].to(device)).flatten(1).double().cpu()
              for i in range(0, len(pixels), batch_size)]
    return torch.cat(chunks).numpy()


def raw_pixel_features(pixels: torch.Tensor, side: int = RAW_PIXEL_SIDE) -> np.ndarray:
    """The raw-pixel reference: images area-averaged to at most ``side`` pixels, flattened."""
    if pixels.shape[-1] > side:
        pixels = F.adaptive_avg_pool2d(pixels, side)
    return pixels.flatten(1).double().numpy()


def random_init_reference(meta: dict[str, Any], mean: Sequence[float], std: Sequence[float],
                          seed: int = 0) -> PixelSpaceEncoder | None:
    """A freshly initialised encoder of the same architecture (None when ``meta`` names no ResNet)."""
    if not all(meta.get(k) for k in ("arch", "stem", "width")):
        return None
    from mcr_train.models.backbone import build_backbone

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = build_backbone(meta["arch"], meta["stem"], int(meta["width"]))
    finally:
        torch.random.set_rng_state(state)
    return PixelSpaceEncoder(model, mean, std)
