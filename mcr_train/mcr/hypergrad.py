"""Level-2 hypergradient of MCR's bi-level step (Guo et al., AAAI 2024), three estimators.

Notation: ``w`` are the method's trainable parameters (encoder theta, projector phi, predictor), ``xi``
CompMod's, ``g = grad_w(L_ssl + lambda1 L_mcr)(w, xi)`` the level-1 gradient, ``S`` the lookahead's
per-parameter step sizes (:mod:`mcr_train.mcr.lookahead`; ``alpha`` for every parameter under plain SGD).
The level-2 objective is

    F(xi) = L_ssl(w'(xi)) + lambda2 L_comp(xi),      w'(xi) = w - S g(xi).

``Z_hat`` is computed from detached representations, so ``xi`` enters ``g`` only through ``L_mcr``, and
``L_mcr`` depends on ``w`` only through the view embeddings ``z(w)``. With ``v = grad L_ssl(w')`` and
``a(xi) = dL_mcr/dz (z, Z_hat(xi))`` the chain rule gives, exactly,

    dF/dxi = lambda2 grad L_comp - lambda1 d/dxi < a(xi), J_z(w) S v >.

Estimators of the second (mixed, "Hessian-vector") term:

* ``exact``: ``u = J_z(w) v`` by forward-mode AD (``torch.autograd.forward_ad``), then a small double backward
  through the loss head only. Same value as differentiating through the unrolled lookahead (the naive
  route, :func:`naive_exact_hypergradient`), which back-propagates twice through the whole encoder.
* ``finite_difference``: DARTS (Liu, Simonyan & Yang, 2019, eq. 8): the mixed term is
  ``[grad_xi L_mcr(w + eps S v) - grad_xi L_mcr(w - eps S v)] / (2 eps)`` with ``eps = 0.01 / ||S v||``;
  it needs two forward passes without graphs instead of the JVP.
* ``first_order``: drops the mixed term (as first-order MAML, Finn et al., 2017, drops second
  derivatives). Because ``xi``'s only path into ``L_ssl(w')`` is this term, ``xi`` is then trained by
  ``lambda2 * L_comp`` alone, and the lookahead is skipped entirely.

Both ``exact`` and ``finite_difference`` reuse the level-1 forward and gradient: the lookahead starts
from the same ``w`` with the same ``g`` that the real level-1 step uses, and ``z(w)``, ``Z_hat`` and
``L_comp`` come from the level-1 forward. The one new full pass is ``v`` at ``w'``.

Distributed runs follow the DDP convention of :mod:`mcr_train.methods.gather`: every rank evaluates the
global losses on gathered tensors, gradients flow back through an all-gather that sums, and the caller
averages the resulting gradients over ranks (``average``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.autograd.forward_ad as fwAD
from torch import Tensor

from mcr_train.methods.gather import gather_no_grad, gather_with_grad

Params = dict[str, Tensor]


@dataclass
class Level2Problem:
    """Everything the estimators need, built by the wrapper from its level-1 pass.

    Attributes:
        params: ``w`` (detached), by wrapper parameter name.
        grads: ``g``, the level-1 gradient averaged over ranks (zeros for unused parameters).
        steps: the lookahead's step size per parameter (scalar tensors), by name.
        lambda1, lambda2: loss weights.
        xi: CompMod parameters.
        comp: ``L_comp`` from the level-1 forward (graph to ``xi``).
        zs: view embeddings at ``w`` (local batch, detached).
        z_hat: local ``Z_hat`` with its graph to ``xi``.
        ssl_loss_at: ``params -> L_ssl`` evaluated with those parameters (no buffer side effects).
        embeddings_at: ``params -> [z1, z2]`` evaluated with those parameters (no buffer side effects).
        mcr_head: ``(global zs, global z_hat) -> L_mcr``.
        average: averages a list of tensors over ranks (identity on one process).
    """

    params: Params
    grads: Params
    steps: Params
    lambda1: float
    lambda2: float
    xi: list[Tensor]
    comp: Tensor
    zs: list[Tensor]
    z_hat: Tensor
    ssl_loss_at: Callable[[Params], Tensor]
    embeddings_at: Callable[[Params], list[Tensor]]
    mcr_head: Callable[[list[Tensor], Tensor], Tensor]
    average: Callable[[list[Tensor]], list[Tensor]]


def at_least_fp32(t: Tensor) -> Tensor:
    """Half-precision tensors (from an autocast level-1 forward) to fp32; fp32/fp64 unchanged."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def _grads_or_zeros(output: Tensor, inputs: list[Tensor], **kwargs) -> list[Tensor]:
    grads = torch.autograd.grad(output, inputs, allow_unused=True, **kwargs)
    return [torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs, strict=True)]


def lookahead_gradient(p: Level2Problem) -> Params:
    """``v = grad L_ssl(w')`` at the one-step lookahead ``w' = w - S g`` (averaged over ranks)."""
    names = list(p.params)
    w_prime = {n: (p.params[n] - p.steps[n] * p.grads[n]).detach().requires_grad_() for n in names}
    loss = p.ssl_loss_at(w_prime)
    grads = p.average(_grads_or_zeros(loss, [w_prime[n] for n in names]))
    return dict(zip(names, grads, strict=True))


def _global_z_hat(p: Level2Problem) -> Tensor:
    return gather_with_grad(at_least_fp32(p.z_hat))


def mixed_term_from_tangent(p: Level2Problem, u: list[Tensor], z_hat_all: Tensor) -> list[Tensor]:
    """``d/dxi <dL_mcr/dz (z, Z_hat(xi)), u>``: a double backward through the loss head only."""
    z_all = [gather_no_grad(at_least_fp32(z.detach())).requires_grad_() for z in p.zs]
    u_all = [gather_no_grad(at_least_fp32(t.detach())) for t in u]
    head = p.mcr_head(z_all, z_hat_all)
    dz = torch.autograd.grad(head, z_all, create_graph=True)
    inner = sum((d * t).sum() for d, t in zip(dz, u_all, strict=True))
    return _grads_or_zeros(inner, p.xi, retain_graph=True)


def exact_mixed_term(p: Level2Problem, v: Params, z_hat_all: Tensor) -> list[Tensor]:
    """Exact mixed term: ``u = J_z(w) v`` by forward-mode AD (dual numbers through one forward pass; on
    CPU about twice as fast as ``torch.func.jvp``), then :func:`mixed_term_from_tangent`."""
    with fwAD.dual_level():
        dual = {n: fwAD.make_dual(w, v[n]) for n, w in p.params.items()}
        u = [fwAD.unpack_dual(z).tangent for z in p.embeddings_at(dual)]
    return mixed_term_from_tangent(p, u, z_hat_all)


def finite_difference_mixed_term(p: Level2Problem, v: Params, z_hat_all: Tensor, epsilon: float) -> list[Tensor]:
    """DARTS' central difference ``[grad_xi L_mcr(w+eps v) - grad_xi L_mcr(w-eps v)] / (2 eps)``."""
    norm = torch.sqrt(sum((at_least_fp32(t) ** 2).sum() for t in v.values()))
    if float(norm) == 0.0:
        return [torch.zeros_like(x) for x in p.xi]
    eps = epsilon / float(norm)
    with torch.no_grad():
        z_plus = p.embeddings_at({n: w + eps * v[n] for n, w in p.params.items()})
        z_minus = p.embeddings_at({n: w - eps * v[n] for n, w in p.params.items()})
    g_plus = _grads_or_zeros(p.mcr_head([gather_no_grad(at_least_fp32(z)) for z in z_plus], z_hat_all), p.xi,
                             retain_graph=True)
    g_minus = _grads_or_zeros(p.mcr_head([gather_no_grad(at_least_fp32(z)) for z in z_minus], z_hat_all), p.xi,
                              retain_graph=True)
    return [(a - b) / (2.0 * eps) for a, b in zip(g_plus, g_minus, strict=True)]


def hypergradient(p: Level2Problem, estimator: str, fd_epsilon: float = 0.01) -> list[Tensor]:
    """``dF/dxi`` for ``xi`` by the named estimator, averaged over ranks."""
    comp_grad = _grads_or_zeros(p.comp, p.xi, retain_graph=True)
    total = [p.lambda2 * c for c in comp_grad]
    moves = bool(p.steps) and bool(torch.stack([s.reshape(()).float() for s in p.steps.values()]).gt(0).any())
    if estimator != "first_order" and p.lambda1 > 0 and moves:
        v = lookahead_gradient(p)
        v = {n: p.steps[n] * t for n, t in v.items()}  # the tangent is S v
        z_hat_all = _global_z_hat(p)
        if estimator == "exact":
            mixed = exact_mixed_term(p, v, z_hat_all)
        elif estimator == "finite_difference":
            mixed = finite_difference_mixed_term(p, v, z_hat_all, fd_epsilon)
        else:
            raise ValueError(f"unknown hypergradient estimator '{estimator}'")
        total = [t - p.lambda1 * m for t, m in zip(total, mixed, strict=True)]
    return p.average(total)
