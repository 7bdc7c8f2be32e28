"""Two-view transforms built with ``torchvision.transforms.v2`` from a :class:`ViewSpec` pair."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchvision.transforms import v2

from mcr_train.errors import ConfigError
from mcr_train.views.recipes import VIEW_RECIPES, ViewSpec

# Factor names from docs/contracts.md section 4.
CROP_FACTORS = ("scale", "pos_x", "pos_y", "detail_present")
COLOR_FACTORS = ("color",)
FLIP_FACTORS = ("handedness",)


def blur_kernel_size(size: int) -> int:
    """About 10% of the crop size and odd (SimCLR appendix A: 23 px at 224 px)."""
    k = max(3, int(round(0.1 * size)))
    return k if k % 2 == 1 else k + 1


def build_view(spec: ViewSpec, size: int, mean: Sequence[float], std: Sequence[float]) -> v2.Compose:
    """One view: crop, jitter, grayscale, blur, solarize, flip, then float + normalize.

    The random ops run on the PIL image (PIL's colour ops are ~10x faster than the tensor path on small
    images); tensors are accepted too.
    """
    ops: list[torch.nn.Module] = [
        v2.RandomResizedCrop(size, scale=(spec.min_scale, spec.max_scale), antialias=True),
    ]
    if spec.jitter_p > 0:
        ops.append(v2.RandomApply([v2.ColorJitter(*spec.jitter)], p=spec.jitter_p))
    if spec.gray_p > 0:
        ops.append(v2.RandomGrayscale(p=spec.gray_p))
    if spec.blur_p > 0:
        ops.append(v2.RandomApply([v2.GaussianBlur(blur_kernel_size(size), sigma=(0.1, 2.0))], p=spec.blur_p))
    if spec.solarize_p > 0:
        ops.append(v2.RandomSolarize(threshold=128, p=spec.solarize_p))
    if spec.flip_p > 0:
        ops.append(v2.RandomHorizontalFlip(p=spec.flip_p))
    ops += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    return v2.Compose(ops)


def destroyed_factors_of(specs: Sequence[ViewSpec]) -> list[str]:
    """Scene factors (contracts section 4) that at least one view can remove."""
    out: list[str] = []
    if any(s.min_scale < 1.0 for s in specs):
        out += CROP_FACTORS
    if any(s.jitter_p > 0 or s.gray_p > 0 or s.solarize_p > 0 for s in specs):
        out += COLOR_FACTORS
    if any(s.flip_p > 0 for s in specs):
        out += FLIP_FACTORS
    return out


class TwoViewTransform:
    """Maps one image to a list of two independently augmented, normalized views.

    Args:
        name: recipe name, a key of :data:`VIEW_RECIPES` (e.g. ``simclr``, ``byol_cifar``).
        size: crop size in pixels.
        mean, std: per-channel normalization of the dataset (0..1 scale).
    """

    def __init__(self, name: str, size: int, mean: Sequence[float], std: Sequence[float]):
        if name not in VIEW_RECIPES:
            raise ConfigError(f"unknown view pipeline '{name}'; choose one of {sorted(VIEW_RECIPES)}")
        if len(mean) != 3 or len(std) != 3:
            raise ConfigError(f"views need 3-channel mean/std, got mean={list(mean)} std={list(std)}")
        self.name, self.size = name, int(size)
        self.mean, self.std = [float(m) for m in mean], [float(s) for s in std]
        self.specs = VIEW_RECIPES[name]
        self.views = [build_view(s, self.size, self.mean, self.std) for s in self.specs]

    def __call__(self, image) -> list[Tensor]:
        return [view(image) for view in self.views]

    def destroyed_factors(self) -> list[str]:
        return destroyed_factors_of(self.specs)

    def __repr__(self) -> str:
        return f"TwoViewTransform(name={self.name!r}, size={self.size})"


def build_views(name: str, size: int, mean: Sequence[float], std: Sequence[float]) -> TwoViewTransform:
    return TwoViewTransform(name, size, mean, std)
