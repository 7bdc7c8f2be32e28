"""LARS (You et al., "Large Batch Training of Convolutional Networks", 2017), as used by SimCLR, BYOL,
Barlow Twins and VICReg.

Per parameter ``w`` with gradient ``g`` and weight decay ``wd``, unless its group has
``lars_exclude=True`` (biases and norm parameters):

    g <- g + wd * w
    g <- g * eta * ||w|| / (||g_raw|| + wd * ||w|| + eps)     (only if both norms are non-zero)

optionally clipping the local rate at 1 relative to the global one (``clip_lr``, solo-learn), followed
by SGD with momentum ``v <- m v + g; w <- w - lr v``.
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer


def lars_scale(p: torch.Tensor, grad: torch.Tensor, group: dict) -> torch.Tensor:
    """The factor LARS applies to ``grad + wd * p`` for one parameter of ``group`` (1 when either norm is 0):
    ``eta ||p|| / (||grad|| + wd ||p|| + eps)``, clipped at ``1 / lr`` with ``clip_lr``."""
    wd, lr = group["weight_decay"], group["lr"]
    p_norm, g_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(grad)
    trust = group["eta"] * p_norm / (g_norm + wd * p_norm + group["eps"])
    if group["clip_lr"] and lr > 0:
        trust = torch.clamp(trust / lr, max=1.0)
    return torch.where((p_norm > 0) & (g_norm > 0), trust, torch.ones_like(trust))


class LARS(Optimizer):
    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        eta: float = 0.02,
        eps: float = 1e-8,
        clip_lr: bool = False,
    ):
        if lr < 0 or momentum < 0 or weight_decay < 0 or eta <= 0:
            raise ValueError(f"bad LARS settings lr={lr} momentum={momentum} wd={weight_decay} eta={eta}")
        defaults = dict(
            lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, eps=eps, clip_lr=clip_lr, lars_exclude=False
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            wd, lr, momentum = group["weight_decay"], group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if not group["lars_exclude"]:
                    scale = lars_scale(p, grad, group)
                    grad = (grad.add(p, alpha=wd) if wd else grad) * scale
                elif wd:
                    grad = grad.add(p, alpha=wd)
                if momentum:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = grad.clone().detach()
                    else:
                        buf.mul_(momentum).add_(grad)
                    grad = buf
                p.add_(grad, alpha=-lr)
        return loss
