"""L_comp and L_mcr use MEC's ``1/lambda`` warm-up with the official ``np.linspace`` points: ``8/lambda`` at
iteration 0, ``1/lambda`` from iteration ``W - 1`` on (``W`` = warm-up epochs x iterations per epoch)."""

from __future__ import annotations

import numpy as np
import pytest

from mcr_train.methods.mec import mec_lambda
from tests.mcr.conftest import tiny_mcr


@pytest.mark.parametrize(("warmup_epochs", "iters_per_epoch"), [(10.0, 2.0), (0.5, 2.0), (1.0, 1.0), (0.0, 4.0)])
def test_mcr_lamda_inv_matches_linspace(warmup_epochs, iters_per_epoch):
    model = tiny_mcr("simclr", lamda_warmup_epochs=warmup_epochs)
    batch, total = 8, 30
    warmup = int(round(warmup_epochs * iters_per_epoch))
    lam = mec_lambda(model.method.embed_dim, batch, model.settings.eps_sq)
    expected = np.concatenate([np.linspace(8 / lam, 1 / lam, warmup), np.full(total - warmup, 1 / lam)])
    seen = []
    for i in range(total):
        model.set_progress(i, total, iters_per_epoch)
        seen.append(model.lamda_inv(batch))
    np.testing.assert_allclose(seen, expected, rtol=1e-12)
