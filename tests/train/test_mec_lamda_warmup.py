"""MEC's ``1/lambda`` warm-up equals the official ``lamda_scheduler``: ``np.linspace(8/lambda, 1/lambda, W)``
over ``W = warmup_epochs * iters_per_epoch`` iterations, then ``1/lambda`` (Liu et al., NeurIPS 2022)."""

from __future__ import annotations

import numpy as np
import pytest

from mcr_train.methods import build_method
from mcr_train.methods.mec import lamda_inv_schedule, mec_lambda


def official(lam: float, warmup: int, total: int) -> np.ndarray:
    """The official schedule, rebuilt from its description: linspace warm-up, then constant."""
    return np.concatenate([np.linspace(8 / lam, 1 / lam, warmup), np.full(total - warmup, 1 / lam)])


@pytest.mark.parametrize("warmup", [0, 1, 2, 3, 7, 10, 64])
def test_schedule_function_matches_linspace(warmup):
    lam = mec_lambda(2048, 256)
    total = warmup + 20
    values = [lamda_inv_schedule(i, lam, warmup) for i in range(total)]
    np.testing.assert_allclose(values, official(lam, warmup, total), rtol=1e-12)
    if warmup >= 2:  # 1/lambda is reached at iteration W - 1, as in the official code, not at W
        assert values[warmup - 1] == pytest.approx(1 / lam) and values[warmup - 2] > 1 / lam


def test_mec_model_follows_the_schedule_through_set_progress():
    """The MEC method, driven like ``SSLScheduleHook`` does, with 10 warm-up epochs of 3 iterations."""
    model = build_method(dict(type="mec", backbone=dict(arch="resnet18", stem="cifar", width=2),
                              projector=dict(hidden_dim=8, out_dim=4, num_layers=3, last_bn=True,
                                             last_bn_affine=False),
                              predictor=dict(hidden_dim=4, out_dim=4)))
    batch, total = 16, 50
    seen = []
    for i in range(total):
        model.set_progress(i, total, 3.0)
        seen.append(model.lamda_inv(batch))
    np.testing.assert_allclose(seen, official(mec_lambda(4, batch), 30, total), rtol=1e-12)
