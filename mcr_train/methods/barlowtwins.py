"""Barlow Twins (Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy Reduction",
ICML 2021).

Loss (algorithm 1): standardize each embedding dimension over the (global) batch (batch norm without
affine parameters, biased variance, eps 1e-5, as in the official code), form the
cross-correlation matrix ``C``, and penalize ``sum_i (1 - C_ii)^2 + lambda * sum_{i != j} C_ij^2``.
``scale`` multiplies the whole loss (solo-learn's ``scale_loss``: 0.1 for CIFAR, 1 elsewhere).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from mcr_train.methods.base import SSLMethod
from mcr_train.methods.gather import gather_with_grad
from mcr_train.methods.registry import METHODS


def barlow_twins_loss(
    z1: Tensor, z2: Tensor, lambda_offdiag: float = 5e-3, scale: float = 1.0, gather: bool = True, eps: float = 1e-5
) -> Tensor:
    """Barlow Twins loss on ``N x D`` embeddings; statistics use the batch gathered over ranks."""
    if gather:
        z1, z2 = gather_with_grad(z1), gather_with_grad(z2)
    n, d = z1.shape
    z1 = F.batch_norm(z1, None, None, training=True, eps=eps)
    z2 = F.batch_norm(z2, None, None, training=True, eps=eps)
    c = z1.T @ z2 / n
    on_diag = (torch.diagonal(c) - 1.0).pow(2).sum()
    off_diag = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
    return scale * (on_diag + lambda_offdiag * off_diag)


@METHODS.register_module(name="barlowtwins")
class BarlowTwins(SSLMethod):
    def __init__(
        self,
        backbone: dict,
        projector: dict | None = None,
        lambda_offdiag: float = 0.0051,
        scale: float = 1.0,
        **kwargs,
    ):
        projector = projector or dict(hidden_dim=8192, out_dim=8192, num_layers=3)
        super().__init__(backbone, projector, **kwargs)
        self.lambda_offdiag, self.scale = lambda_offdiag, scale

    def ssl_loss(self, hs: list[Tensor], zs: list[Tensor], views: list[Tensor]) -> Tensor:
        return barlow_twins_loss(zs[0], zs[1], self.lambda_offdiag, self.scale)
