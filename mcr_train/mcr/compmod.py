"""CompMod: the comprehensive module of MCR (Guo et al., AAAI 2024).

It fuses the two views "in a low-dimensional space" into the comprehensive embedding ``Z_hat``. The paper
gives the input as the concatenation ``h_hat = h1 (+) h2``; the architecture is our choice (docs/mcr.md):
an MLP ``2D -> hidden -> BN -> ReLU -> d``, ``depth`` linear layers in all, where ``d`` is the
projector's output size so ``Z_hat`` lives where the view embeddings live.

Its input is detached (:func:`fusion_input`): ``Z_hat`` is a target computed from the current
representations, so the encoder is trained only through ``L_ssl`` and ``L_mcr``, and CompMod (xi) only
through the hypergradient and ``L_comp``. CompMod is a pretraining-only module; it is never exported.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mcr_train.errors import ConfigError

FUSIONS = ("representation", "embedding")


class CompMod(nn.Module):
    """MLP with ``depth`` linear layers; hidden layers are ``Linear -> [BN] -> ReLU``.

    Args:
        in_dim: size of the fused input (``2 * feature_dim`` or ``2 * embed_dim``).
        out_dim: size of ``Z_hat`` (the projector's output size).
        hidden: width of every hidden layer.
        depth: number of linear layers (>= 1; 2 is the default ``in -> hidden -> out``).
        norm: ``'bn'`` (BatchNorm1d after hidden layers) or ``'none'``.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 512, depth: int = 2, norm: str = "bn"):
        super().__init__()
        if not isinstance(depth, int) or depth < 1:
            raise ConfigError(f"regularizer.compmod.depth must be an integer >= 1, got {depth!r}")
        if not isinstance(hidden, int) or hidden < 1:
            raise ConfigError(f"regularizer.compmod.hidden must be a positive integer, got {hidden!r}")
        if norm not in ("bn", "none"):
            raise ConfigError(f"regularizer.compmod.norm must be 'bn' or 'none', got {norm!r}")
        layers: list[nn.Module] = []
        dim = in_dim
        for _ in range(depth - 1):
            layers.append(nn.Linear(dim, hidden, bias=norm != "bn"))
            if norm == "bn":
                layers.append(nn.BatchNorm1d(hidden))
            layers.append(nn.ReLU())
            dim = hidden
        layers.append(nn.Linear(dim, out_dim))
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, fused: Tensor) -> Tensor:
        return self.net(fused)


def fusion_input(hs: list[Tensor], zs: list[Tensor], fusion: str) -> Tensor:
    """``concat(h1, h2)`` (``'representation'``, default) or ``concat(z1, z2)`` (``'embedding'``), detached."""
    parts = hs if fusion == "representation" else zs
    return torch.cat([p.detach() for p in parts], dim=1)


def fusion_in_dim(fusion: str, feature_dim: int, embed_dim: int) -> int:
    """Input size CompMod needs for a method with these encoder/projector sizes."""
    if fusion not in FUSIONS:
        raise ConfigError(f"unknown regularizer.fusion '{fusion}'; use 'representation' (concat h1,h2) "
                          "or 'embedding' (concat z1,z2)")
    return 2 * (feature_dim if fusion == "representation" else embed_dim)
