"""MCR losses against ``torch.logdet`` in float64 where MEC's Taylor series converges (small lambda)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mcr_train.mcr.losses import coding_rate, comp_loss, cross_coding_rate, mcr_loss
from mcr_train.methods.mec import mec_lambda


def rows(m=32, d=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(m, d, generator=gen, dtype=torch.float64)


def logdet_rate(a, b, lamda_inv):
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    m = a.shape[0]
    return lamda_inv * torch.logdet(torch.eye(m, dtype=a.dtype) + a @ b.T / lamda_inv) / m


@pytest.mark.parametrize("lamda_inv", [64.0, 200.0])
def test_coding_rate_matches_logdet(lamda_inv):
    z = rows()
    # ||Zn Zn^T|| / lamda_inv < 1 here, so the 4th-order series is close; a 12th-order one is exact.
    assert float(torch.linalg.matrix_norm(F.normalize(z, dim=1) @ F.normalize(z, dim=1).T, 2)) / lamda_inv < 0.5
    exact = logdet_rate(z, z, lamda_inv)
    torch.testing.assert_close(coding_rate(z, lamda_inv, order=12), exact, rtol=1e-9, atol=0)
    torch.testing.assert_close(coding_rate(z, lamda_inv, order=4), exact, rtol=1e-4, atol=0)
    torch.testing.assert_close(comp_loss(z, lamda_inv, order=12), -exact, rtol=1e-9, atol=0)


def test_cross_term_matches_logdet_of_the_nonsymmetric_product():
    a, b = rows(seed=1), rows(seed=2)
    exact = logdet_rate(a, b, 100.0)
    torch.testing.assert_close(cross_coding_rate(a, b, 100.0, order=12), exact, rtol=1e-9, atol=0)
    expected = -(logdet_rate(a, b, 100.0) + logdet_rate(rows(seed=3), b, 100.0)) / 2
    got = mcr_loss([a, rows(seed=3)], b, "mec_cross", 100.0, order=12)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=0)


def test_mec_scaling_uses_the_official_lambda():
    m, d = 256, 128
    assert mec_lambda(d, m, 64.0) == pytest.approx(d / (m * 64.0))


def test_comp_loss_prefers_spread_embeddings_over_collapsed_ones():
    spread = rows(m=16, d=16)
    collapsed = rows(m=1, d=16).expand(16, 16) + 1e-3 * rows(m=16, d=16, seed=5)
    assert float(comp_loss(spread, 8.0)) < float(comp_loss(collapsed, 8.0))


def test_cosine_and_rate_gap_variants():
    a, b = rows(seed=1), rows(seed=2)
    cos = 1 - (F.cosine_similarity(a, b, dim=1).mean() + F.cosine_similarity(b, b, dim=1).mean()) / 2
    torch.testing.assert_close(mcr_loss([a, b], b, "cosine"), cos)
    gap = (coding_rate(a, 100.0) - coding_rate(b, 100.0)).abs() / 2  # second view's gap is zero
    torch.testing.assert_close(mcr_loss([a, b], b, "rate_gap", 100.0), gap)
    assert float(mcr_loss([b, b], b, "rate_gap", 100.0)) == 0.0
    with pytest.raises(ValueError, match="unknown mcr_loss"):
        mcr_loss([a], b, "kl")
