"""Batched, per-sample view augmentation on the training device (kornia), for small images on GPUs.

Same recipes as :mod:`mcr_train.views.pipeline` (one :class:`ViewSpec` per view), drawn per sample:
random resized crop with the same scale/ratio ranges, colour jitter with the same factor ranges and
probability, grayscale, Gaussian blur, solarize at 0.5 and horizontal flip, then normalization. Enable
with ``data.device_views=True``: the loader then ships uint8 images and
:class:`DeviceTwoViewPreprocessor` builds both views on the device, so data-loader CPUs stop being the
bottleneck. Images of one batch must share a size (CIFAR, STL-10, Tiny-ImageNet, scenes).
"""

from __future__ import annotations

from collections.abc import Sequence

import kornia.augmentation as K
import torch
from mmengine.model import BaseDataPreprocessor
from mmengine.registry import MODELS
from torch import Tensor, nn

from mcr_train.errors import ConfigError
from mcr_train.views.pipeline import blur_kernel_size
from mcr_train.views.recipes import VIEW_RECIPES, ViewSpec


def build_device_view(spec: ViewSpec, size: int, mean: Sequence[float], std: Sequence[float]) -> nn.Sequential:
    """kornia ops for one view; input float images in [0, 1], shape (B, 3, H, W)."""
    ops: list[nn.Module] = [
        K.RandomResizedCrop((size, size), scale=(spec.min_scale, spec.max_scale), ratio=(3 / 4, 4 / 3))
    ]
    if spec.jitter_p > 0:
        ops.append(K.ColorJitter(*spec.jitter, p=spec.jitter_p))
    if spec.gray_p > 0:
        ops.append(K.RandomGrayscale(p=spec.gray_p))
    if spec.blur_p > 0:
        k = blur_kernel_size(size)
        ops.append(K.RandomGaussianBlur((k, k), sigma=(0.1, 2.0), p=spec.blur_p))
    if spec.solarize_p > 0:
        ops.append(K.RandomSolarize(thresholds=0.0, additions=0.0, p=spec.solarize_p))
    if spec.flip_p > 0:
        ops.append(K.RandomHorizontalFlip(p=spec.flip_p))
    ops.append(K.Normalize(mean=torch.tensor(list(mean)), std=torch.tensor(list(std))))
    return nn.Sequential(*ops)


@MODELS.register_module()
class DeviceTwoViewPreprocessor(BaseDataPreprocessor):
    """Moves a uint8 image batch to the device and returns ``dict(inputs=[view1, view2], ...)``."""

    def __init__(self, views: str, size: int, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        if views not in VIEW_RECIPES:
            raise ConfigError(f"unknown view pipeline '{views}'; choose one of {sorted(VIEW_RECIPES)}")
        self.view_ops = nn.ModuleList(build_device_view(s, size, mean, std) for s in VIEW_RECIPES[views])

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        images: Tensor = data["inputs"]
        images = images.float() / 255.0 if images.dtype == torch.uint8 else images
        with torch.no_grad():
            views = [ops(images) for ops in self.view_ops]
        return dict(inputs=views, data_samples=data.get("data_samples"))
