"""SimSiam (Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021).

Loss: ``D(p1, sg(z2))/2 + D(p2, sg(z1))/2`` with ``D`` the negative cosine similarity and ``sg`` the
stop-gradient; 3-layer projector ending in BN and a 2-layer bottleneck predictor.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from mcr_train.methods.base import SSLMethod
from mcr_train.methods.registry import METHODS
from mcr_train.models.heads import build_head


def negative_cosine_similarity(p: Tensor, z: Tensor) -> Tensor:
    """``-cos(p, z)`` averaged over the batch (SimSiam eq. 1); ``z`` is not detached here."""
    return -F.cosine_similarity(p, z, dim=1).mean()


def simsiam_loss(p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor) -> Tensor:
    return 0.5 * (negative_cosine_similarity(p1, z2.detach()) + negative_cosine_similarity(p2, z1.detach()))


@METHODS.register_module(name="simsiam")
class SimSiam(SSLMethod):
    def __init__(self, backbone: dict, projector: dict | None = None, predictor: dict | None = None, **kwargs):
        projector = projector or dict(hidden_dim=2048, out_dim=2048, num_layers=3, last_bn=True)
        predictor = predictor or dict(hidden_dim=512, out_dim=2048, num_layers=2)
        super().__init__(backbone, projector, **kwargs)
        self.predictor = build_head(self.embed_dim, dict(predictor))

    def trainable_modules(self):
        return {**super().trainable_modules(), "predictor": self.predictor}

    def ssl_loss(self, hs: list[Tensor], zs: list[Tensor], views: list[Tensor]) -> Tensor:
        p1, p2 = (self.predictor(z) for z in zs)
        return simsiam_loss(p1, p2, zs[0], zs[1])
