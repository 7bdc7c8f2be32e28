"""Hand-built encoders whose retained factors are known by construction (for testing the audit).

All take pixel-space images in [0, 1] (use them with mean 0, std 1) and are differentiable, so the
attribution methods apply to them too.

* :class:`HueHistogramEncoder` keeps **only colour**: a chroma-weighted soft histogram of hue. Grey pixels
  (background, detail mark) have zero chroma, the darker texture shade keeps the hue, and the histogram is
  normalized by the total chroma weight, so shape, texture, scale, position, background and detail leave
  it unchanged up to uint8 rounding.
* :class:`SilhouetteEncoder` keeps **only the object's silhouette** (shape, scale, position): a steep
  threshold on chroma turns every object pixel on and every grey pixel off, then the mask is average-pooled
  to 8 x 8. Colour, texture, background and the grey detail mark are invisible to it.
* :class:`CornerEncoder` sees **only a fixed corner** (the top-left quarter-side square): its grey
  levels, soft-binned. Everything it reports comes from that square; its gradient elsewhere is exactly zero.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT3_2 = math.sqrt(3.0) / 2.0


def opponent_channels(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Opponent colour coordinates (a, b) per pixel; both are 0 exactly for grey pixels."""
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    return r - 0.5 * (g + b), SQRT3_2 * (g - b)


class HueHistogramEncoder(nn.Module):
    """Soft hue histogram with ``bins`` von Mises kernels, weighted by squared chroma."""

    def __init__(self, bins: int = 12, concentration: float = 8.0):
        super().__init__()
        angles = torch.arange(bins, dtype=torch.float32) * (2.0 * math.pi / bins)
        self.register_buffer("centers", torch.stack([angles.cos(), angles.sin()], 1))  # (K, 2)
        self.concentration = float(concentration)
        self.num_features = bins

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        a, b = opponent_channels(pixels)
        weight = (a * a + b * b).flatten(1)  # (N, P); zero for grey pixels
        norm = torch.sqrt(weight + 1e-12)
        cos = (a.flatten(1)[..., None] * self.centers[:, 0] + b.flatten(1)[..., None] * self.centers[:, 1])
        cos = cos / norm[..., None]  # cosine between the pixel hue and each bin centre
        kernel = torch.exp(self.concentration * (cos - 1.0))  # (N, P, K)
        hist = (weight[..., None] * kernel).sum(1)
        return hist / (weight.sum(1, keepdim=True) + 1e-6)


class SilhouetteEncoder(nn.Module):
    """The object's silhouette (chroma above ``threshold``) average-pooled to ``grid`` x ``grid``."""

    def __init__(self, grid: int = 8, threshold: float = 0.15, steepness: float = 60.0):
        super().__init__()
        self.grid, self.threshold, self.steepness = int(grid), float(threshold), float(steepness)
        self.num_features = self.grid * self.grid

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        a, b = opponent_channels(pixels)
        chroma = torch.sqrt(a * a + b * b + 1e-12)
        silhouette = torch.sigmoid(self.steepness * (chroma - self.threshold))
        return F.adaptive_avg_pool2d(silhouette[:, None], self.grid).flatten(1)


class CornerEncoder(nn.Module):
    """Grey levels of the top-left ``fraction`` x ``fraction`` square, each soft-binned into ``levels``.

    Soft binning (Gaussian kernels over intensity) makes the background tone and the presence of a white
    or black mark linearly readable from the features; the rest of the image is never read.
    """

    def __init__(self, fraction: float = 0.25, levels: int = 8, width: float = 0.07):
        super().__init__()
        self.fraction, self.width = float(fraction), float(width)
        self.register_buffer("levels", torch.linspace(0.0, 1.0, levels))

    def corner_side(self, size: int) -> int:
        return max(1, round(size * self.fraction))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        side = self.corner_side(pixels.shape[-1])
        grey = pixels[:, :, :side, :side].mean(1).flatten(1)  # (N, side * side)
        binned = torch.exp(-0.5 * ((grey[..., None] - self.levels) / self.width) ** 2)
        return binned.flatten(1)


#: name -> (constructor, factors it keeps, meta for records)
PLANTED: dict[str, type[nn.Module]] = {
    "hue-histogram": HueHistogramEncoder,
    "silhouette": SilhouetteEncoder,
    "corner": CornerEncoder,
}


def planted_meta(name: str, views: str = "simclr_cifar") -> dict:
    """Record fields for a planted encoder (no architecture: it has no random-init reference)."""
    return {"run": f"planted-{name}", "method": "planted", "regularizer": {"type": "none"}, "arch": None,
            "stem": None, "width": None, "pretrain_data": "none", "epochs": 0, "seed": 0, "views": views,
            "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
