"""SimCLR (Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations", ICML 2020).

Loss: NT-Xent (normalized temperature-scaled cross entropy). Every view is an anchor; its positive is
the other view of the same image and its negatives are the other ``2N - 2`` embeddings of the global
batch (gathered across ranks with gradients).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from mcr_train.methods.base import SSLMethod
from mcr_train.methods.gather import gather_with_grad, rank
from mcr_train.methods.registry import METHODS


def nt_xent_loss(z1: Tensor, z2: Tensor, temperature: float = 0.1, gather: bool = True) -> Tensor:
    """NT-Xent over the ``2B`` local anchors against all ``2N`` global candidates (mean over anchors).

    >>> z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
    >>> float(nt_xent_loss(z1, z1, 0.5)) < float(nt_xent_loss(z1, z2, 0.5))
    True
    """
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    b = z1.shape[0]
    all1, all2 = (gather_with_grad(z1), gather_with_grad(z2)) if gather else (z1, z2)
    n = all1.shape[0]
    offset = rank() * b if n != b else 0
    anchors = torch.cat([z1, z2])
    candidates = torch.cat([all1, all2])
    logits = anchors @ candidates.T / temperature
    local = torch.arange(b, device=z1.device) + offset
    self_index = torch.cat([local, local + n])
    positive_index = torch.cat([local + n, local])
    rows = torch.arange(2 * b, device=z1.device)
    logits = logits.index_put((rows, self_index), torch.tensor(float("-inf"), dtype=logits.dtype))
    return F.cross_entropy(logits, positive_index)


@METHODS.register_module(name="simclr")
class SimCLR(SSLMethod):
    """SimCLR: backbone + MLP projector, NT-Xent on the projections."""

    def __init__(self, backbone: dict, projector: dict | None = None, temperature: float = 0.2, **kwargs):
        projector = projector or dict(hidden_dim=2048, out_dim=256, num_layers=2)
        super().__init__(backbone, projector, **kwargs)
        self.temperature = temperature

    def ssl_loss(self, hs: list[Tensor], zs: list[Tensor], views: list[Tensor]) -> Tensor:
        return nt_xent_loss(zs[0], zs[1], self.temperature)
