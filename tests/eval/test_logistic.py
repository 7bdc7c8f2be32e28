"""The fast probe's logistic-regression solver: convergence by an independent gradient, pass count, warm starts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mcr_eval.probes.linear import fast_linear_probe, standardize
from mcr_eval.probes.logistic import REFRESH, Preconditioner, _shifted_pairs, fit_multinomial


def _objective_gradient(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                        l2: float) -> torch.Tensor:
    """The objective's gradient by autograd in float64 (independent of the solver's hand-written gradient)."""
    w = weight.double().requires_grad_(True)
    b = bias.double().requires_grad_(True)
    loss = F.cross_entropy(F.linear(x.double(), w, b), y) + 0.5 * l2 * w.pow(2).sum()
    gw, gb = torch.autograd.grad(loss, (w, b))
    return torch.cat([gw.flatten(), gb])


def _problem(digits_features):
    train_x, train_y, _, _ = digits_features
    (train_z,) = standardize(train_x)
    return train_z.float(), train_y


def test_solution_meets_the_tolerance_by_an_independent_gradient(digits_features):
    x, y = _problem(digits_features)
    for l2 in (1e-1, 1e-3, 1e-6):
        fit = fit_multinomial(x.double(), y, 10, l2, tol=1e-6, max_iter=2000)
        assert fit.converged
        assert float(_objective_gradient(x, y, fit.weight, fit.bias, l2).abs().max()) <= 1e-6


def test_each_iteration_reads_the_features_twice(digits_features):
    """Line-search trials cost no pass over the features: two per iteration, plus start, refreshes and checks."""
    x, y = _problem(digits_features)
    fit = fit_multinomial(x.double(), y, 10, 1e-4, tol=1e-6, max_iter=2000)
    assert fit.converged and fit.iterations > REFRESH
    # start, preconditioner, refreshes, up to three exact convergence checks
    overhead = 3 + fit.iterations // REFRESH + 3 * 2
    assert 2 * fit.iterations <= fit.feature_passes <= 2 * fit.iterations + overhead


def test_warm_start_at_the_solution_stops_at_once(digits_features):
    x, y = _problem(digits_features)
    first = fit_multinomial(x.double(), y, 10, 1e-2, tol=1e-6)
    again = fit_multinomial(x.double(), y, 10, 1e-2, tol=1e-6, init=(first.weight, first.bias))
    assert again.iterations == 0 and again.converged


def test_iteration_budget_is_respected_and_reported(digits_features):
    x, y = _problem(digits_features)
    fit = fit_multinomial(x, y, 10, 1e-6, tol=1e-12, max_iter=3)
    assert fit.iterations == 3 and not fit.converged and fit.max_grad > 1e-12


def test_regularization_path_reuses_curvature_and_reaches_the_same_solution(digits_features):
    """Shifted curvature pairs are exact secant pairs of the new objective, and a path step seeded with them
    reaches the cold solve's optimum."""
    x, y = _problem(digits_features)
    x = x.double()
    w0, w1 = torch.randn(2, 10 * x.shape[1] + 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def grad_at(flat: torch.Tensor, l2: float) -> torch.Tensor:
        return _objective_gradient(x, y, flat[:-10].view(10, -1), flat[-10:], l2)

    s_vec, y_strong = w1 - w0, grad_at(w1, 1e-2) - grad_at(w0, 1e-2)
    [(s_out, y_weak, rho)] = _shifted_pairs([(s_vec, y_strong, 0.0)], 1e-3 - 1e-2, 10 * x.shape[1])
    assert torch.allclose(y_weak, grad_at(w1, 1e-3) - grad_at(w0, 1e-3), rtol=0, atol=1e-12)
    assert rho == pytest.approx(1 / float(s_out @ y_weak))

    strong = fit_multinomial(x, y, 10, 1e-2, tol=1e-6)
    seeded = fit_multinomial(x, y, 10, 1e-3, tol=1e-6, previous=strong)
    cold = fit_multinomial(x, y, 10, 1e-3, tol=1e-6)
    assert seeded.converged and seeded.l2 == 1e-3 and len(strong.pairs) > 0
    assert float(_objective_gradient(x, y, seeded.weight, seeded.bias, 1e-3).abs().max()) <= 1e-6
    assert abs(seeded.loss - cold.loss) <= 1e-8


def test_probe_reports_whether_its_refit_converged(digits_features):
    train_x, train_y, test_x, test_y = digits_features
    done = fast_linear_probe(train_x, train_y, test_x, test_y, num_classes=10, device="cpu")
    assert done["converged"] and done["max_grad"] <= 1e-4
    cut = fast_linear_probe(train_x, train_y, test_x, test_y, num_classes=10, device="cpu", max_iter=2, tol=1e-9)
    assert not cut["converged"] and cut["iterations"] == 2 and cut["max_grad"] > 1e-9


def test_preconditioner_is_the_inverse_of_the_scaled_second_moments():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3000, 6, generator=gen, dtype=torch.float64) @ torch.diag(torch.tensor([30.0, 5, 1, 1, 0.2, 0.05],
                                                                                        dtype=torch.float64))
    h0 = Preconditioner(x, num_classes=4).inverse(1e-3)
    with_bias = torch.cat([x, torch.ones(3000, 1, dtype=torch.float64)], 1)
    curvature = with_bias.T @ with_bias / 3000 / 4 + 1e-3 * torch.eye(7, dtype=torch.float64)
    assert torch.allclose(h0 @ curvature, torch.eye(7, dtype=torch.float64), atol=1e-8)
    isotropic = torch.randn(20000, 6, generator=gen, dtype=torch.float64)
    assert Preconditioner(isotropic, num_classes=4).inverse(1e-3) is None  # spread under PRECOND_SPREAD


def test_preconditioning_reaches_the_same_optimum_in_fewer_iterations(digits_features):
    x, y = _problem(digits_features)
    x = x.double()
    plain = fit_multinomial(x, y, 10, 1e-2, tol=1e-6, max_iter=2000, precondition=False)
    pre = fit_multinomial(x, y, 10, 1e-2, tol=1e-6, max_iter=2000)
    assert plain.converged and pre.converged and pre.preconditioner is not None
    assert float(_objective_gradient(x, y, pre.weight, pre.bias, 1e-2).abs().max()) <= 1e-6
    assert abs(pre.loss - plain.loss) <= 1e-8
    assert pre.iterations <= 0.75 * plain.iterations, (pre.iterations, plain.iterations)  # 48 vs 90 when written
