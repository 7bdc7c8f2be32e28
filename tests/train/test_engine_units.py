"""LARS against a hand computation, parameter groups, schedule arithmetic, EMA update."""

from __future__ import annotations

import math

import pytest
import torch

from mcr_train.engine.lars import LARS
from mcr_train.engine.schedule import plan_schedule
from mcr_train.errors import ConfigError, DataError
from mcr_train.methods import build_method
from mcr_train.methods.ema import cosine_momentum, ema_update, make_target

TINY = dict(arch="resnet18", stem="cifar", width=4)


def test_lars_step_matches_hand_computation():
    w = torch.tensor([[3.0, 4.0]], requires_grad=True)  # ||w|| = 5
    b = torch.tensor([1.0], requires_grad=True)
    w.grad, b.grad = torch.tensor([[0.6, 0.8]]), torch.tensor([0.5])  # ||g|| = 1
    lr, wd, eta, momentum = 0.1, 0.01, 0.02, 0.9
    opt = LARS(
        [{"params": [w]}, {"params": [b], "weight_decay": 0.0, "lars_exclude": True}],
        lr=lr,
        momentum=momentum,
        weight_decay=wd,
        eta=eta,
    )
    opt.step()
    trust = eta * 5.0 / (1.0 + wd * 5.0 + 1e-8)
    expected_w = torch.tensor([[3.0, 4.0]]) - lr * trust * (
        torch.tensor([[0.6, 0.8]]) + wd * torch.tensor([[3.0, 4.0]])
    )
    assert torch.allclose(w.detach(), expected_w, atol=1e-7)
    assert torch.allclose(b.detach(), torch.tensor([1.0 - lr * 0.5]))  # excluded: plain SGD, no decay
    # Second step uses the momentum buffer: v = m v + g_scaled.
    w.grad = torch.tensor([[0.6, 0.8]])
    before = w.detach().clone()
    opt.step()
    w_norm = float(torch.linalg.vector_norm(before))
    trust2 = eta * w_norm / (1.0 + wd * w_norm + 1e-8)
    g2 = trust2 * (torch.tensor([[0.6, 0.8]]) + wd * before)
    v = momentum * trust * (torch.tensor([[0.6, 0.8]]) + wd * torch.tensor([[3.0, 4.0]])) + g2
    assert torch.allclose(w.detach(), before - lr * v, atol=1e-6)


def test_lars_clip_limits_local_rate():
    w = torch.tensor([10.0, 0.0], requires_grad=True)
    w.grad = torch.tensor([0.001, 0.0])
    LARS([w], lr=0.5, momentum=0.0, eta=0.02, clip_lr=True).step()
    # trust = 0.02 * 10 / 0.001 = 200 -> clipped to 1 relative to lr -> plain SGD step.
    assert torch.allclose(w.detach(), torch.tensor([10.0 - 0.5 * 0.001, 0.0]))


@pytest.mark.parametrize("method", ["simclr", "byol", "mocov2", "mec"])
def test_parameter_groups_cover_trainable_params_once(method):
    model = build_method(
        dict(
            type=method,
            backbone=TINY,
            projector=dict(hidden_dim=16, out_dim=8),
            **({"predictor": dict(hidden_dim=8, out_dim=8)} if method in ("byol", "mec") else {}),
            **({"queue_size": 16} if method == "mocov2" else {}),
        )
    )
    groups = model.parameter_groups()
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids))
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert set(ids) == trainable
    for g in groups:
        if g.get("lars_exclude"):
            assert g["weight_decay"] == 0.0 and all(p.ndim == 1 for p in g["params"])
        else:
            assert all(p.ndim > 1 for p in g["params"])
    if method in ("byol", "mocov2", "mec"):
        frozen = [p for n, p in model.named_parameters() if n.startswith(("target_", "teacher_"))]
        assert frozen and not any(p.requires_grad for p in frozen)


def test_ema_update_and_cosine_momentum():
    online = torch.nn.Linear(3, 2)
    target = make_target(online)
    t0 = [p.clone() for p in target.parameters()]
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    ema_update(target, online, 0.9)
    for t, o, old in zip(target.parameters(), online.parameters(), t0):
        assert torch.allclose(t, 0.9 * old + 0.1 * o)
    assert cosine_momentum(0.99, 1.0, 0.0) == pytest.approx(0.99)
    assert cosine_momentum(0.99, 1.0, 0.5) == pytest.approx(0.995)
    assert cosine_momentum(0.99, 1.0, 1.0) == pytest.approx(1.0)


def test_schedule_compresses_under_a_cap():
    s = plan_schedule(num_samples=1000, global_batch=100, epochs=30, warmup_epochs=3)
    assert (s.iters_per_epoch, s.max_iters, s.warmup_iters) == (10, 300, 30)
    capped = plan_schedule(1000, 100, 30, 3, max_iters_cap=60)
    assert capped.max_iters == 60 and capped.warmup_iters == 6
    assert math.isclose(capped.effective_iters_per_epoch, 2.0)
    with pytest.raises(DataError, match="fewer than one global batch"):
        plan_schedule(10, 32, 1, 0)
    with pytest.raises(ConfigError, match=r"--max-iters 301 exceeds the schedule's 300 iterations \(30 epochs of "
                                          r"10\); raise schedule.epochs to train longer"):
        plan_schedule(1000, 100, 30, 3, max_iters_cap=301)
    assert plan_schedule(1000, 100, 30, 3, max_iters_cap=300).max_iters == 300
