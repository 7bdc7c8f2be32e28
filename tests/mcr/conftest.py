"""Tiny CPU fixtures for the MCR tests: ResNet-18 at width 2-4 on 8-16 px images, float64 for gradients."""

from __future__ import annotations

import pytest
import torch

from mcr_train.mcr import wrap_with_regularizer
from mcr_train.methods import build_method

TINY_HEADS = {
    "simclr": dict(projector=dict(hidden_dim=8, out_dim=4)),
    "mocov2": dict(projector=dict(hidden_dim=8, out_dim=4, hidden_bn=False), queue_size=16),
    "byol": dict(projector=dict(hidden_dim=8, out_dim=4), predictor=dict(hidden_dim=8, out_dim=4)),
    "simsiam": dict(projector=dict(hidden_dim=8, out_dim=4, num_layers=3, last_bn=True),
                    predictor=dict(hidden_dim=4, out_dim=4)),
    "barlowtwins": dict(projector=dict(hidden_dim=8, out_dim=4, num_layers=3)),
    "vicreg": dict(projector=dict(hidden_dim=8, out_dim=4, num_layers=3)),
    "mec": dict(projector=dict(hidden_dim=8, out_dim=4, num_layers=3, last_bn=True, last_bn_affine=False),
                predictor=dict(hidden_dim=4, out_dim=4)),
}
METHODS = sorted(TINY_HEADS)


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)
    yield


def tiny_method(name: str = "simclr", width: int = 2, dtype=torch.float64, seed: int = 0):
    torch.manual_seed(seed)
    method = build_method(dict(type=name, backbone=dict(arch="resnet18", stem="cifar", width=width),
                               **TINY_HEADS[name]))
    return method.to(dtype)


def tiny_mcr(name: str = "simclr", width: int = 2, dtype=torch.float64, seed: int = 0, **regularizer):
    method = tiny_method(name, width, dtype, seed)
    cfg = dict(type="MCR", compmod=dict(hidden=4), **regularizer)
    torch.manual_seed(seed + 1)
    return wrap_with_regularizer(method, cfg).to(dtype)


def random_views(batch: int = 6, size: int = 8, dtype=torch.float64, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    base = torch.rand(batch, 3, size, size, generator=gen, dtype=dtype)
    return [base + 0.3 * torch.randn(base.shape, generator=gen, dtype=dtype) for _ in range(2)]
