"""MoCo v2 (He et al., "Momentum Contrast for Unsupervised Visual Representation Learning", CVPR 2020;
Chen et al., "Improved Baselines with Momentum Contrastive Learning", 2020).

Loss: InfoNCE of a query against its key (from the momentum encoder) and a queue of past keys. The
symmetric option (MoCo v3 / solo-learn "mocov2+") averages the loss over both query/key assignments.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from mcr_train.methods.base import SSLMethod
from mcr_train.methods.ema import ema_update, make_target
from mcr_train.methods.gather import gather_no_grad
from mcr_train.methods.registry import METHODS


def moco_infonce_loss(q: Tensor, k: Tensor, queue: Tensor, temperature: float = 0.2) -> Tensor:
    """Cross entropy of logits ``[q.k, q.queue] / T`` with the positive at index 0 (rows normalized)."""
    q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    positive = (q * k).sum(dim=1, keepdim=True)
    negative = q @ queue.T
    logits = torch.cat([positive, negative], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))


@METHODS.register_module(name="mocov2")
class MoCoV2(SSLMethod):
    """MoCo v2: momentum key encoder (backbone + projector) and a queue of normalized keys."""

    def __init__(
        self,
        backbone: dict,
        projector: dict | None = None,
        temperature: float = 0.2,
        queue_size: int = 65536,
        momentum: tuple[float, float] = (0.999, 0.999),
        symmetric: bool = False,
        **kwargs,
    ):
        projector = projector or dict(hidden_dim=2048, out_dim=128, num_layers=2, hidden_bn=False)
        self.momentum_schedule = tuple(momentum)
        super().__init__(backbone, projector, **kwargs)
        self.temperature, self.symmetric = temperature, symmetric
        self.target_backbone = make_target(self.backbone)
        self.target_projector = make_target(self.projector)
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, self.embed_dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self._pending_keys: Tensor | None = None

    @torch.no_grad()
    def keys(self, views: list[Tensor]) -> list[Tensor]:
        return [F.normalize(self.target_projector(self.target_backbone(v)), dim=1) for v in views]

    def ssl_loss(self, hs: list[Tensor], zs: list[Tensor], views: list[Tensor]) -> Tensor:
        k1, k2 = self.momentum_branch(self.keys, views)
        queue = self.queue.clone().detach()
        if self.symmetric:
            loss = 0.5 * (
                moco_infonce_loss(zs[0], k2, queue, self.temperature)
                + moco_infonce_loss(zs[1], k1, queue, self.temperature)
            )
            self._pending_keys = torch.cat([k1, k2])
        else:
            loss = moco_infonce_loss(zs[0], k2, queue, self.temperature)
            self._pending_keys = k2
        return loss

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        size = self.queue.shape[0]
        keys = gather_no_grad(keys)[-size:]
        index = (int(self.queue_ptr) + torch.arange(keys.shape[0], device=keys.device)) % size
        self.queue[index] = keys.to(self.queue.dtype)
        self.queue_ptr.fill_((int(self.queue_ptr) + keys.shape[0]) % size)

    def after_train_step(self) -> None:
        ema_update(self.target_backbone, self.backbone, self.momentum)
        ema_update(self.target_projector, self.projector, self.momentum)
        if self._pending_keys is not None:
            self.enqueue(self._pending_keys)
            self._pending_keys = None
