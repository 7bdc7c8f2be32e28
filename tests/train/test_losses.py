"""Each SSL loss against an independent reference in float64 (lightly as oracle, or a closed form)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from lightly.loss import BarlowTwinsLoss, NegativeCosineSimilarity, NTXentLoss, VICRegLoss

from mcr_train.methods import (
    barlow_twins_loss,
    byol_regression_loss,
    mec_loss,
    moco_infonce_loss,
    nt_xent_loss,
    simsiam_loss,
    taylor_log_det_trace,
    vicreg_loss,
)
from mcr_train.methods.mec import lamda_inv_schedule, mec_lambda

TOL = 1e-6


def pair(n=16, d=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_nt_xent_matches_lightly(temperature):
    z1, z2 = pair()
    ours = nt_xent_loss(z1, z2, temperature)
    ref = NTXentLoss(temperature=temperature)(z1, z2)
    assert abs(float(ours) - float(ref)) < TOL


def test_barlow_twins_matches_lightly():
    z1, z2 = pair(32, 10)
    ours = barlow_twins_loss(z1, z2, lambda_offdiag=5e-3)
    ref = BarlowTwinsLoss(lambda_param=5e-3)(z1, z2)
    assert abs(float(ours) - float(ref)) < TOL
    assert abs(float(barlow_twins_loss(z1, z2, 5e-3, scale=0.1)) - 0.1 * float(ref)) < TOL


def test_vicreg_matches_lightly():
    z1, z2 = pair(24, 9)
    ours = vicreg_loss(z1, z2, 25.0, 25.0, 1.0)
    ref = VICRegLoss(lambda_param=25.0, mu_param=25.0, nu_param=1.0)(z1, z2)
    assert abs(float(ours) - float(ref)) < TOL


def test_simsiam_and_byol_match_negative_cosine():
    p1, p2 = pair(8, 6, seed=1)
    z1, z2 = pair(8, 6, seed=2)
    ncs = NegativeCosineSimilarity()
    ref = 0.5 * (ncs(p1, z2) + ncs(p2, z1))
    assert abs(float(simsiam_loss(p1, p2, z1, z2)) - float(ref)) < TOL
    assert abs(float(byol_regression_loss(p1, z2)) - float(2 + 2 * ncs(p1, z2))) < TOL


def test_simsiam_stops_gradient_into_targets():
    p1, p2 = (t.requires_grad_() for t in pair(8, 6, seed=1))
    z1, z2 = (t.requires_grad_() for t in pair(8, 6, seed=2))
    simsiam_loss(p1, p2, z1, z2).backward()
    assert z1.grad is None and z2.grad is None and p1.grad is not None


def test_moco_infonce_closed_form():
    q, k = pair(6, 5, seed=3)
    queue = torch.nn.functional.normalize(torch.randn(11, 5, dtype=torch.float64), dim=1)
    t = 0.2
    qn, kn = (
        q.numpy() / np.linalg.norm(q.numpy(), axis=1, keepdims=True),
        k.numpy() / np.linalg.norm(k.numpy(), axis=1, keepdims=True),
    )
    expected = 0.0
    for i in range(6):
        logits = np.concatenate([[qn[i] @ kn[i]], queue.numpy() @ qn[i]]) / t
        expected += -(logits[0] - math.log(np.exp(logits).sum()))
    expected /= 6
    assert abs(float(moco_infonce_loss(q, k, queue, t)) - expected) < TOL


def test_taylor_series_matches_logdet_for_small_lambda():
    z, _ = pair(20, 30, seed=4)
    z = torch.nn.functional.normalize(z, dim=1)
    lam = 0.01
    c = lam * z @ z.T
    exact = torch.logdet(torch.eye(20, dtype=torch.float64) + c)
    series = taylor_log_det_trace(c, order=4)
    # The remainder of the alternating series is bounded by the 5th-order term.
    bound = float(torch.trace(torch.linalg.matrix_power(c, 5))) / 5
    assert abs(float(series) - float(exact)) <= bound + 1e-12
    assert abs(float(series) - float(exact)) < 1e-6


def test_mec_loss_scaling_matches_definition():
    p1, p2 = pair(16, 8, seed=5)
    t1, t2 = pair(16, 8, seed=6)
    lam = mec_lambda(8, 16, 64.0)
    assert lam == 8 / (16 * 64)
    n = torch.nn.functional.normalize
    expected = (
        -(1 / lam)
        * 0.5
        * (
            torch.logdet(torch.eye(16, dtype=torch.float64) + lam * n(p1, dim=1) @ n(t2, dim=1).T)
            + torch.logdet(torch.eye(16, dtype=torch.float64) + lam * n(p2, dim=1) @ n(t1, dim=1).T)
        )
        / 16
    )
    assert abs(float(mec_loss(p1, p2, t1, t2, 1 / lam)) - float(expected)) < 1e-6


def test_mec_lambda_warmup_schedule():
    lam = 0.25
    assert lamda_inv_schedule(0, lam, 100) == pytest.approx(8 / lam)
    assert lamda_inv_schedule(50, lam, 100) == pytest.approx(np.linspace(8 / lam, 1 / lam, 100)[50])
    assert lamda_inv_schedule(99, lam, 100) == pytest.approx(1 / lam)  # the official linspace's last point
    assert lamda_inv_schedule(100, lam, 100) == pytest.approx(1 / lam)
    assert lamda_inv_schedule(1000, lam, 100) == pytest.approx(1 / lam)
