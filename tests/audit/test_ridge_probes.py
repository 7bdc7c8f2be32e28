"""The ridge probe against scikit-learn and brute-force leave-one-out; probes on known features."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from mcr_eval.audit.factors import FactorLabels, chance_level
from mcr_eval.audit.probes import probe_all
from mcr_eval.audit.ridge import RidgeBasis, fit_ridge


@pytest.mark.parametrize("n,d", [(80, 20), (40, 120)])
def test_ridge_matches_sklearn_for_a_fixed_penalty(n, d):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d)
    y = x[:, 0] - 2 * x[:, 1] + rng.normal(size=n)
    probe = fit_ridge(x, y, None, alphas=(2.5,))
    xs = (x - x.mean(0)) / x.std(0)
    reference = Ridge(alpha=2.5).fit(xs, y).predict(xs)
    np.testing.assert_allclose(probe.predict(x), reference, atol=1e-9)


def test_leave_one_out_choice_equals_brute_force():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 8))
    y = x @ rng.normal(size=8) + 0.5 * rng.normal(size=30)
    alphas = (0.01, 1.0, 100.0)
    brute = []
    for alpha in alphas:
        errors = []
        for i in range(len(x)):
            keep = np.arange(len(x)) != i
            # same standardization as the closed form (statistics of all training samples)
            basis = RidgeBasis(x)
            xs = (x - basis.mean) / basis.scale
            model = Ridge(alpha=alpha).fit(xs[keep], y[keep])
            errors.append((model.predict(xs[i:i + 1])[0] - y[i]) ** 2)
        brute.append(np.mean(errors))
    assert RidgeBasis(x).fit(y, None, alphas).alpha == alphas[int(np.argmin(brute))]


def test_probes_read_perfect_and_useless_features():
    rng = np.random.default_rng(2)
    n = 300
    color = rng.integers(8, size=n)
    pos = rng.uniform(size=n)
    noise = rng.integers(4, size=n)
    labels = FactorLabels({"color": color, "pos_x": pos, "control": noise})
    features = np.concatenate([np.eye(8)[color], pos[:, None], rng.normal(size=(n, 5))], 1)
    scores = probe_all(features, labels, folds=5)
    assert scores["color"].mean == 1.0 and scores["color"].std == 0.0
    assert scores["pos_x"].metric == "r2" and scores["pos_x"].mean > 0.99
    assert abs(scores["control"].mean - scores["control"].chance) < 0.08
    assert scores["control"].chance == chance_level(noise, False) == np.bincount(noise).max() / n
