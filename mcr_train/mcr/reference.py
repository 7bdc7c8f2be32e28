"""The naive exact hypergradient: differentiate through the unrolled lookahead (DARTS' second-order
route, Liu, Simonyan & Yang 2019, without its finite-difference shortcut).

``g = grad_w(L_ssl + lambda1 L_mcr)`` is taken with ``create_graph=True`` (``Z_hat`` attached to ``xi``),
``w' = w - alpha g``, and ``L_ssl(w') + lambda2 L_comp`` is back-propagated to ``xi``. This costs a
double backward through the whole encoder; it is kept as an independent cross-check of
:mod:`mcr_train.mcr.hypergrad` and as the "naive" baseline of benchmarks/bench_mcr_overhead.py.
Single process only.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mcr_train.mcr.compmod import fusion_input
from mcr_train.mcr.losses import comp_loss


def naive_exact_hypergradient(model, views: list[Tensor], alpha: float | dict[str, Tensor]) -> list[Tensor]:
    """``dF/dxi`` of an :class:`~mcr_train.mcr.wrapper.MCRModel` through the unrolled lookahead; ``alpha``
    is one step size for all parameters or one per parameter name (held constant)."""
    s = model.settings
    names, w = model.method_parameters()
    params = {n: p.detach().requires_grad_() for n, p in zip(names, w, strict=True)}
    zs = model.call_with(params, "embeddings", views)
    hs = None
    if s.fusion == "representation":
        hs = [model.call_with(params, "tensor", [v]) for v in views]
    ssl = model.call_with(params, "ssl_loss", views)
    z_hat = model.compmod(fusion_input(hs or zs, zs, "representation" if hs else "embedding"))
    lamda_inv = model.lamda_inv(z_hat.shape[0])
    level1 = ssl + s.lambda1 * model.mcr_head(lamda_inv)(zs, z_hat)
    grads = torch.autograd.grad(level1, list(params.values()), create_graph=True, allow_unused=True)
    step = alpha if isinstance(alpha, dict) else dict.fromkeys(params, alpha)
    w_prime = {n: p - step[n] * g if g is not None else p for (n, p), g in zip(params.items(), grads, strict=True)}
    objective = model.call_with(w_prime, "ssl_loss", views) + s.lambda2 * comp_loss(z_hat, lamda_inv, s.order)
    xi = list(model.compmod.parameters())
    out = torch.autograd.grad(objective, xi, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(out, xi, strict=True)]
