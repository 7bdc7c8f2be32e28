"""Representation metrics against closed forms and numpy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mcr_eval.metrics.representation import (
    alignment,
    effective_rank,
    linear_cka,
    mec_coding_length,
    rankme,
    uniformity,
)


def test_rankme_closed_forms_and_numpy():
    assert rankme(torch.eye(6) * 3.0) == pytest.approx(6.0, rel=1e-5)  # equal singular values: full rank
    assert rankme(torch.ones(10, 4)) == pytest.approx(1.0, rel=1e-4)  # rank one
    z = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    s = np.linalg.svd(z.double().numpy(), compute_uv=False)
    p = s / s.sum() + 1e-7
    assert rankme(z) == pytest.approx(float(np.exp(-(p * np.log(p)).sum())), rel=1e-9)
    diag = torch.diag(torch.tensor([1.0, 1.0, 2.0]))  # p = (1/4, 1/4, 1/2): exp(1.5 log 2)
    assert rankme(diag, eps=0.0) == pytest.approx(2**1.5, rel=1e-9)


def test_effective_rank_centers():
    z = torch.randn(400, 5, generator=torch.Generator().manual_seed(1)) + 100.0  # large shared mean
    assert rankme(z) < 1.5  # the mean dominates the raw spectrum
    assert effective_rank(z) > 4.8  # centered: isotropic in 5 dims


def test_alignment_and_uniformity():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert alignment(a, a * 5) == pytest.approx(0.0, abs=1e-12)
    b = torch.tensor([[0.0, 1.0], [0.0, -3.0]])
    assert alignment(a, b) == pytest.approx((2.0 + 4.0) / 2)  # |e1-e2|^2 = 2, |e2+e2|^2 = 4
    two = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    assert uniformity(two) == pytest.approx(-2.0 * 4.0)  # one pair at squared distance 4
    z = torch.randn(30, 4, generator=torch.Generator().manual_seed(2))
    n = torch.nn.functional.normalize(z.double(), dim=1).numpy()
    pairs = [np.exp(-2 * np.sum((n[i] - n[j]) ** 2)) for i in range(30) for j in range(i + 1, 30)]
    assert uniformity(z) == pytest.approx(math.log(np.mean(pairs)), rel=1e-9)


def test_mec_coding_length_closed_form():
    n, d, eps_sq = 4, 6, 0.5
    z = torch.eye(d)[:n] * 7.0  # orthonormal rows after normalization: Z Z^T = I
    lam = d / (n * eps_sq)
    assert mec_coding_length(z, eps_sq) == pytest.approx((n + d) / 2 * n * math.log(1 + lam), rel=1e-10)
    w = torch.randn(20, 3, generator=torch.Generator().manual_seed(3))
    zn = torch.nn.functional.normalize(w.double(), dim=1).numpy()
    ref = (20 + 3) / 2 * np.linalg.slogdet(np.eye(20) + 3 / (20 * 64.0) * zn @ zn.T)[1]
    assert mec_coding_length(w) == pytest.approx(ref, rel=1e-9)


def test_linear_cka_invariances_and_hsic_reference():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(60, 5, generator=gen)
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=gen))
    assert linear_cka(x, 3.0 * x @ q + 2.0) == pytest.approx(1.0, abs=1e-10)
    y = torch.randn(60, 7, generator=gen)
    xn, yn = x.double().numpy(), y.double().numpy()
    h = np.eye(60) - np.ones((60, 60)) / 60
    k, l = xn @ xn.T, yn @ yn.T
    hsic = lambda a, b: np.trace(a @ h @ b @ h)  # noqa: E731
    assert linear_cka(x, y) == pytest.approx(hsic(k, l) / math.sqrt(hsic(k, k) * hsic(l, l)), rel=1e-9)
