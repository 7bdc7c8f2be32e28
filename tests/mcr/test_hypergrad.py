"""The level-2 hypergradient against central finite differences of the level-2 objective (float64).

``F(xi) = L_ssl(w - alpha * grad_w[L_ssl + lambda1 L_mcr](w, xi)) + lambda2 L_comp(xi)`` is evaluated
here independently of :mod:`mcr_train.mcr.hypergrad`: plain ``torch.autograd.grad`` for the level-1
gradient, a functional forward at the lookahead.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from mcr_train.mcr.losses import comp_loss, mcr_loss
from mcr_train.mcr.reference import naive_exact_hypergradient
from mcr_train.methods.simclr import nt_xent_loss
from tests.mcr.conftest import random_views, tiny_mcr

ALPHA = 0.5


def _bn_clones(module):
    return {n: b.clone() for n, b in module.named_buffers()}


def level2_objective(model, views, xi: dict[str, torch.Tensor], lambda1: float, lambda2: float) -> float:
    """``F(xi)`` for SimCLR+MCR built from the method's modules and the loss functions alone."""
    method, compmod = model.method, model.compmod
    lamda_inv = model.lamda_inv(views[0].shape[0])

    def embed(params):
        bb = {k.removeprefix("backbone."): v for k, v in params.items() if k.startswith("backbone.")}
        pj = {k.removeprefix("projector."): v for k, v in params.items() if k.startswith("projector.")}
        hs = [functional_call(method.backbone, {**_bn_clones(method.backbone), **bb}, (v,)) for v in views]
        zs = [functional_call(method.projector, {**_bn_clones(method.projector), **pj}, (h,)) for h in hs]
        return hs, zs

    params = {n: p.detach().requires_grad_() for n, p in method.named_parameters()}
    hs, zs = embed(params)
    fused = torch.cat([h.detach() for h in hs], dim=1)
    z_hat = functional_call(compmod, {**_bn_clones(compmod), **xi}, (fused,))
    level1 = nt_xent_loss(zs[0], zs[1], method.temperature) + lambda1 * mcr_loss(zs, z_hat, "mec_cross", lamda_inv)
    grads = torch.autograd.grad(level1, list(params.values()))
    w_prime = {n: p.detach() - ALPHA * g for (n, p), g in zip(params.items(), grads, strict=True)}
    _, zs_prime = embed(w_prime)
    with torch.no_grad():
        return float(nt_xent_loss(zs_prime[0], zs_prime[1], method.temperature) + lambda2 * comp_loss(z_hat, lamda_inv))


def central_differences(model, views, lambda1, lambda2, directions: torch.Tensor, h=1e-6) -> torch.Tensor:
    """``(F(xi + h d) - F(xi - h d)) / 2h`` for every row ``d`` of ``directions`` (flattened xi)."""
    names = [n for n, _ in model.compmod.named_parameters()]
    base = [p.detach().clone() for _, p in model.compmod.named_parameters()]

    def shifted(step: torch.Tensor) -> dict[str, torch.Tensor]:
        out, offset = {}, 0
        for n, p in zip(names, base, strict=True):
            out[n] = p + step[offset:offset + p.numel()].view_as(p)
            offset += p.numel()
        return out

    values = []
    for d in directions:
        plus = level2_objective(model, views, shifted(h * d), lambda1, lambda2)
        minus = level2_objective(model, views, shifted(-h * d), lambda1, lambda2)
        values.append((plus - minus) / (2 * h))
    return torch.tensor(values, dtype=torch.float64)


def probe_directions(exact: torch.Tensor, k: int = 6, seed: int = 0) -> torch.Tensor:
    """``k`` orthonormal directions in xi-space, the first along the exact hypergradient itself."""
    gen = torch.Generator().manual_seed(seed)
    basis = torch.cat([exact[None], torch.randn(k - 1, exact.numel(), generator=gen, dtype=exact.dtype)])
    q, _ = torch.linalg.qr(basis.T)
    return q.T


def flat(grads) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in grads])


@pytest.mark.parametrize("lambda2", [0.0, 1.0])
def test_exact_hypergradient_equals_central_differences(lambda2):
    model = tiny_mcr("simclr", lambda1=1.0, lambda2=lambda2)
    model.set_progress(5, 10, 1.0)  # past the 1/lambda warm-up: the Taylor series still converges here
    views = random_views()
    exact = flat(model.level_two(views, ALPHA, "exact"))
    directions = probe_directions(exact)
    reference = central_differences(model, views, 1.0, lambda2, directions)
    rel = float((directions @ exact - reference).norm() / reference.norm())
    assert rel <= 1e-6, rel
    if lambda2 == 0.0:  # the whole hypergradient is the second-order (lookahead) term: not a trivial check
        assert float(reference.norm()) > 1e-3


def test_exact_matches_the_naive_unrolled_double_backward():
    model = tiny_mcr("simclr", lambda1=1.0, lambda2=1.0)
    views = random_views(seed=3)
    exact = flat(model.level_two(views, ALPHA, "exact"))
    naive = flat(naive_exact_hypergradient(model, views, ALPHA))
    assert float((exact - naive).norm() / naive.norm()) <= 1e-10


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_finite_difference_agrees_with_exact(dtype):
    model = tiny_mcr("simclr", width=4, dtype=dtype, lambda1=1.0, lambda2=1.0)  # default DARTS step 0.01/||v||
    views = random_views(dtype=dtype, seed=1)
    exact = flat(model.level_two(views, ALPHA, "exact"))
    fd = flat(model.level_two(views, ALPHA, "finite_difference"))
    assert float(F.cosine_similarity(exact, fd, dim=0)) >= 0.99


def test_first_order_drops_the_lookahead_term_and_keeps_only_lambda2_comp():
    """first_order drops ``-alpha * lambda1 * d/dxi <dL_mcr/dz, J_z v>``, the only path from
    ``L_ssl(w')`` to xi (Z_hat is built from detached representations), so xi is trained by
    ``lambda2 * grad L_comp`` alone: exactly the hypergradient with lambda1 = 0."""
    model = tiny_mcr("simclr", lambda1=1.0, lambda2=1.0)
    views = random_views(seed=2)
    first = flat(model.level_two(views, ALPHA, "first_order"))
    out = model.level_one(views)
    comp_only = flat(torch.autograd.grad(out["comp"], list(model.compmod.parameters())))
    torch.testing.assert_close(first, comp_only, rtol=1e-12, atol=1e-14)
    exact = flat(model.level_two(views, ALPHA, "exact"))
    dropped = exact - first
    assert float(dropped.norm()) > 0.1 * float(exact.norm())  # what it drops is not negligible here
