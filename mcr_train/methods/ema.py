"""Momentum (EMA) targets: BYOL's target network, MoCo's key encoder, MEC's teacher."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def make_target(module: nn.Module) -> nn.Module:
    """A frozen copy of ``module`` that only moves by :func:`ema_update`."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """``target <- momentum * target + (1 - momentum) * online`` for every parameter.

    Buffers (BN running statistics) are not averaged: the target computes its own in train mode, as in
    BYOL's and MoCo's reference code.
    """
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        t.mul_(momentum).add_(o.detach(), alpha=1.0 - momentum)


def cosine_momentum(base: float, final: float, progress: float) -> float:
    """BYOL's schedule: ``final - (final - base) * (cos(pi * progress) + 1) / 2``, progress in [0, 1]."""
    progress = min(max(progress, 0.0), 1.0)
    return final - (final - base) * (math.cos(math.pi * progress) + 1.0) / 2.0
