"""VICReg (Bardes et al., "VICReg: Variance-Invariance-Covariance Regularization for Self-Supervised
Learning", ICLR 2022).

Loss: ``lambda * MSE(z1, z2) + mu * [v(z1) + v(z2)] / 2 + nu * [c(z1) + c(z2)]`` with the hinge on the
per-dimension standard deviation ``v(z) = mean_j relu(1 - sqrt(Var z_j + eps))`` and the squared
off-diagonal covariance ``c(z) = sum_{i != j} Cov(z)_ij^2 / D``. Variance and covariance use the batch
gathered over ranks (with gradients), the invariance term the local batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from mcr_train.methods.base import SSLMethod
from mcr_train.methods.gather import gather_with_grad
from mcr_train.methods.registry import METHODS


def variance_term(z: Tensor, eps: float = 1e-4) -> Tensor:
    std = torch.sqrt(z.var(dim=0) + eps)
    return F.relu(1.0 - std).mean()


def covariance_term(z: Tensor) -> Tensor:
    n, d = z.shape
    z = z - z.mean(dim=0)
    cov = z.T @ z / (n - 1)
    return (cov.pow(2).sum() - torch.diagonal(cov).pow(2).sum()) / d


def vicreg_loss(
    z1: Tensor,
    z2: Tensor,
    sim_weight: float = 25.0,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
    eps: float = 1e-4,
    gather: bool = True,
) -> Tensor:
    invariance = F.mse_loss(z1, z2)
    if gather:
        z1, z2 = gather_with_grad(z1), gather_with_grad(z2)
    variance = 0.5 * (variance_term(z1, eps) + variance_term(z2, eps))
    covariance = covariance_term(z1) + covariance_term(z2)
    return sim_weight * invariance + var_weight * variance + cov_weight * covariance


@METHODS.register_module(name="vicreg")
class VICReg(SSLMethod):
    def __init__(
        self,
        backbone: dict,
        projector: dict | None = None,
        sim_weight: float = 25.0,
        var_weight: float = 25.0,
        cov_weight: float = 1.0,
        **kwargs,
    ):
        projector = projector or dict(hidden_dim=8192, out_dim=8192, num_layers=3)
        super().__init__(backbone, projector, **kwargs)
        self.weights = (sim_weight, var_weight, cov_weight)

    def ssl_loss(self, hs: list[Tensor], zs: list[Tensor], views: list[Tensor]) -> Tensor:
        return vicreg_loss(zs[0], zs[1], *self.weights)
