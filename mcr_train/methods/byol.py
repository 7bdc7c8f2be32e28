"""BYOL (Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020).

The online network (backbone, projector, predictor) predicts the target network's projection of the
other view; the target is an EMA of the online backbone and projector with a cosine momentum schedule
from ``base`` (0.996 for ImageNet, 0.99 in solo-learn's CIFAR recipe) to 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from mcr_train.methods.base import SSLMethod
from mcr_train.methods.ema import ema_update, make_target
from mcr_train.methods.registry import METHODS
from mcr_train.models.heads import build_head


def byol_regression_loss(p: Tensor, z: Tensor) -> Tensor:
    """``2 - 2 cos(p, z)`` averaged over the batch (the normalized MSE of BYOL eq. 2)."""
    return 2.0 - 2.0 * F.cosine_similarity(p, z.detach(), dim=1).mean()


@METHODS.register_module(name="byol")
class BYOL(SSLMethod):
    """BYOL with a symmetrized loss ``l(p1, z2') + l(p2, z1')``."""

    def __init__(
        self,
        backbone: dict,
        projector: dict | None = None,
        predictor: dict | None = None,
        momentum: tuple[float, float] = (0.996, 1.0),
        **kwargs,
    ):
        projector = projector or dict(hidden_dim=4096, out_dim=256, num_layers=2)
        predictor = predictor or dict(hidden_dim=4096, out_dim=256, num_layers=2)
        self.momentum_schedule = tuple(momentum)
        super().__init__(backbone, projector, **kwargs)
        self.predictor = build_head(self.embed_dim, dict(predictor))
        self.target_backbone = make_target(self.backbone)
        self.target_projector = make_target(self.projector)

    def trainable_modules(self):
        return {**super().trainable_modules(), "predictor": self.predictor}

    @torch.no_grad()
    def targets(self, views: list[Tensor]) -> list[Tensor]:
        return [self.target_projector(self.target_backbone(v)) for v in views]

    def ssl_loss(self, hs: list[Tensor], zs: list[Tensor], views: list[Tensor]) -> Tensor:
        p1, p2 = (self.predictor(z) for z in zs)
        t1, t2 = self.momentum_branch(self.targets, views)
        return byol_regression_loss(p1, t2) + byol_regression_loss(p2, t1)

    def after_train_step(self) -> None:
        ema_update(self.target_backbone, self.backbone, self.momentum)
        ema_update(self.target_projector, self.projector, self.momentum)
