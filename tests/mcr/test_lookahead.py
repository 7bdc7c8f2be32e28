"""The lookahead's step rule: under LARS it is the real LARS step (momentum and weight decay aside), the
hypergradient with those per-parameter steps matches differentiation through the unrolled lookahead, and
under SGD the ``'optimizer'`` rule is the plain ``'sgd'`` rule."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mcr_train.engine.lars import LARS
from mcr_train.errors import ConfigError
from mcr_train.mcr import wrapper as wrapper_module
from mcr_train.mcr.lookahead import lookahead_step_sizes
from mcr_train.mcr.reference import naive_exact_hypergradient
from mcr_train.mcr.settings import MCRSettings
from tests.mcr.conftest import random_views, tiny_mcr


def flat(grads) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in grads])


def method_optimizer(model, kind: str, lr: float = 0.5, weight_decay: float = 0.0):
    groups = [dict(g) for g in model.method.parameter_groups() if g["params"]]
    if kind == "lars":
        return LARS(groups, lr=lr, momentum=0.0, weight_decay=weight_decay, eta=0.02)
    return torch.optim.SGD([{k: v for k, v in g.items() if k != "lars_exclude"} for g in groups], lr=lr)


def level_one_gradient(model, views) -> tuple[list[str], list[torch.Tensor], list[torch.Tensor]]:
    out = model.level_one(views)
    names, w = model.method_parameters()
    raw = torch.autograd.grad(out["ssl"] + model.settings.lambda1 * out["mcr"], w, allow_unused=True)
    return names, w, [torch.zeros_like(p) if g is None else g for g, p in zip(raw, w, strict=True)]


@pytest.mark.parametrize("weight_decay", [0.0, 1e-3])
def test_lars_lookahead_is_the_real_lars_step_without_momentum_and_weight_decay(weight_decay):
    model = tiny_mcr("simclr")
    views = random_views(seed=4)
    optimizer = method_optimizer(model, "lars", weight_decay=weight_decay)
    names, w, grads = level_one_gradient(model, views)
    steps = lookahead_step_sizes(optimizer, names, w, grads, "optimizer")
    before = [p.detach().clone() for p in w]
    lookahead = [p - steps[n] * g for n, p, g in zip(names, before, grads, strict=True)]
    for p, g in zip(w, grads, strict=True):
        p.grad = g.clone()
    optimizer.step()  # LARS itself is the oracle of the step size
    for n, p, p0, ahead in zip(names, w, before, lookahead, strict=True):
        # What the lookahead leaves out is the weight-decay term, scaled like the gradient.
        decay = steps[n] * weight_decay * p0 if "bias_norm" not in _group_name(optimizer, p) else 0.0
        torch.testing.assert_close(p.detach(), ahead - decay, rtol=0, atol=1e-14)
    lrs = {float(s) for s in steps.values()}
    assert len(lrs) > 2 and 0.5 in lrs  # LARS factors per tensor; excluded biases/norms keep the plain lr


def _group_name(optimizer, p) -> str:
    return next(g.get("name", "") for g in optimizer.param_groups if any(q is p for q in g["params"]))


@pytest.mark.parametrize("method", ["simclr", "byol"])
def test_hypergradient_with_lars_steps_matches_the_unrolled_reference(method):
    model = tiny_mcr(method, lambda1=1.0, lambda2=1.0, lookahead="optimizer")
    views = random_views(seed=5)
    optimizer = method_optimizer(model, "lars")
    names, w, grads = level_one_gradient(model, views)
    steps = lookahead_step_sizes(optimizer, names, w, grads, "optimizer")
    exact = flat(model.level_two(views, 0.0, "exact", optimizer=optimizer))
    naive = flat(naive_exact_hypergradient(model, views, steps))
    assert float((exact - naive).norm() / naive.norm()) <= 1e-10
    # The plain-SGD lookahead at LARS' learning rate is a different hypergradient, not a rescaled one.
    sgd_rule = flat(model.level_two(views, 0.5, "exact"))
    assert float(F.cosine_similarity(exact, sgd_rule, dim=0)) < 0.999


@pytest.mark.parametrize(("fd_epsilon", "min_cosine"), [(0.01, 0.99), (1e-4, 1 - 1e-9)])
def test_finite_difference_with_lars_steps_agrees_with_exact(fd_epsilon, min_cosine):
    """At DARTS' default step (width 4, as the SGD-rule check) and, converging, at a small one."""
    model = tiny_mcr("simclr", width=4, lambda1=1.0, lambda2=1.0, fd_epsilon=fd_epsilon, lookahead="optimizer")
    views = random_views(seed=5)
    optimizer = method_optimizer(model, "lars")
    exact = flat(model.level_two(views, 0.0, "exact", optimizer=optimizer))
    fd = flat(model.level_two(views, 0.0, "finite_difference", optimizer=optimizer))
    assert float(F.cosine_similarity(exact, fd, dim=0)) >= min_cosine


def test_optimizer_rule_under_sgd_with_one_learning_rate_is_the_sgd_rule():
    model = tiny_mcr("simclr", lambda1=1.0, lambda2=1.0, lookahead="optimizer")
    views = random_views(seed=6)
    optimizer = method_optimizer(model, "sgd", lr=0.3)
    by_rule = flat(model.level_two(views, 0.0, "exact", optimizer=optimizer))
    plain = flat(model.level_two(views, 0.3, "exact"))
    assert torch.equal(by_rule, plain)


def test_train_step_hands_the_lars_steps_to_the_hypergradient(monkeypatch):
    from mmengine.optim import OptimWrapper, OptimWrapperDict

    model = tiny_mcr("simclr", lookahead="optimizer")
    views = random_views(seed=7)
    optimizer = method_optimizer(model, "lars")
    compmod_optimizer = torch.optim.SGD(model.compmod.parameters(), lr=0.1)
    wrappers = OptimWrapperDict(model=OptimWrapper(optimizer), compmod=OptimWrapper(compmod_optimizer))
    seen = []
    real = wrapper_module.hypergradient

    def spy(problem, estimator, fd_epsilon):
        names, w = model.method_parameters()
        expected = lookahead_step_sizes(optimizer, names, w, list(problem.grads.values()), "optimizer")
        seen.append(all(torch.equal(problem.steps[n], expected[n]) for n in names))
        return real(problem, estimator, fd_epsilon)

    monkeypatch.setattr(wrapper_module, "hypergradient", spy)
    model.train_step(dict(inputs=views, data_samples=None), wrappers)
    assert seen == [True]


def test_lookahead_rule_defaults_to_the_plain_sgd_step_and_rejects_unknown_rules():
    assert MCRSettings.from_config(dict(type="MCR")).lookahead == "sgd"
    with pytest.raises(ConfigError, match="unknown regularizer.lookahead 'adam'"):
        MCRSettings.from_config(dict(type="MCR", lookahead="adam"))
