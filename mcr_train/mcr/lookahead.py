"""Per-parameter step sizes of MCR's one-step lookahead ``w' = w - s * g`` (level 2 of the bi-level step).

Two rules (``regularizer.lookahead``):

* ``'sgd'`` (default, as DESIGN specifies): one plain SGD step with the first group's current learning
  rate for every parameter, as DARTS' virtual step (Liu, Simonyan & Yang, 2019). Under LARS the real step
  differs from it by a different factor per tensor.
* ``'optimizer'``: each parameter steps by its own group's learning rate and, when the method optimizer is
  LARS (You et al., 2017) and the group is not ``lars_exclude``, by that rate times the LARS factor
  ``eta ||w|| / (||g|| + wd ||w|| + eps)`` that the real step applies. The factor is taken at the current
  ``w`` and ``g`` and held constant in ``xi`` (no gradient flows through the norms). Under SGD with one
  learning rate for all groups this is exactly the ``'sgd'`` rule.

Both rules leave momentum and weight decay out: they do not depend on ``xi``, and the lookahead models how
``xi`` moves ``w`` in one step. ``lookahead_lr``, when set, replaces the learning rate in either rule.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mcr_train.engine.lars import LARS, lars_scale

LOOKAHEADS = ("sgd", "optimizer")


def lookahead_step_sizes(optimizer: torch.optim.Optimizer, names: list[str], params: list[Tensor],
                         grads: list[Tensor], rule: str, lookahead_lr: float | None = None) -> dict[str, Tensor]:
    """``{name: s}``: the lookahead step of each of ``params`` (whose level-1 gradients are ``grads``)."""
    if rule not in LOOKAHEADS:
        raise ValueError(f"unknown lookahead rule '{rule}'; use one of {list(LOOKAHEADS)}")
    groups = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    first_lr = optimizer.param_groups[0]["lr"]
    steps = {}
    for name, p, g in zip(names, params, grads, strict=True):
        group = groups.get(id(p))
        if rule == "sgd" or group is None:
            lr = first_lr if lookahead_lr is None else lookahead_lr
            steps[name] = torch.as_tensor(float(lr), dtype=g.dtype, device=g.device)
            continue
        lr = group["lr"] if lookahead_lr is None else lookahead_lr
        step = torch.as_tensor(float(lr), dtype=g.dtype, device=g.device)
        if isinstance(optimizer, LARS) and not group["lars_exclude"]:
            step = step * lars_scale(p.detach(), g.detach(), group).to(g.dtype)
        steps[name] = step
    return steps
