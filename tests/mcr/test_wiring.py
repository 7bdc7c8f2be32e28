"""MCR wraps every registered method: it trains CompMod, its level 1 is the base step plus exactly the
``lambda1 * L_mcr`` gradient, it leaves BatchNorm statistics as the base step does, and it never
exports CompMod."""

from __future__ import annotations

import copy

import pytest
import torch
from mmengine.optim import OptimWrapper
from safetensors.torch import load_file

from mcr_train.export import REQUIRED_KEYS, export_encoder
from mcr_train.mcr import wrap_with_regularizer
from mcr_train.models.backbone import build_backbone
from tests.mcr.conftest import METHODS, random_views, tiny_method

LR, LAMBDA1 = 0.1, 0.7


def sgd(model) -> OptimWrapper:
    groups = [g for g in model.parameter_groups() if g["params"]]
    return OptimWrapper(torch.optim.SGD([{k: v for k, v in g.items() if k != "lars_exclude"} for g in groups], lr=LR))


def batch(seed: int, dtype=torch.float64) -> dict:
    return dict(inputs=random_views(dtype=dtype, seed=seed), data_samples=torch.zeros(6))


@pytest.mark.parametrize("name", METHODS)
def test_level_one_is_the_base_step_plus_the_lambda1_mcr_gradient(name):
    method = tiny_method(name)
    base = copy.deepcopy(method)
    torch.manual_seed(1)
    model = wrap_with_regularizer(copy.deepcopy(method), dict(type="MCR", lambda1=LAMBDA1, compmod=dict(hidden=4)))
    model = model.double()
    data = batch(0)
    # Independent expectation: grad_w of lambda1 * L_mcr with Z_hat a fixed target (a copy of the model).
    probe = copy.deepcopy(model)
    names, w = probe.method_parameters()
    out = probe.level_one(data["inputs"])
    mcr_grads = torch.autograd.grad(LAMBDA1 * out["mcr"], w, allow_unused=True)
    base.train_step(data, sgd(base))
    model.train_step(data, sgd(model))
    mcr_params = dict(model.named_parameters())
    base_params = {f"method.{n}": p for n, p in base.named_parameters()}
    for n, p, g in zip(names, w, mcr_grads, strict=True):
        expected = -LR * (torch.zeros_like(p) if g is None else g)
        torch.testing.assert_close(mcr_params[n] - base_params[n], expected,
                                   rtol=0, atol=1e-12, msg=lambda m, n=n: f"{name}:{n}: {m}")
    assert any(g is not None and float(g.abs().max()) > 1e-6 for g in mcr_grads)
    base_buffers = {f"method.{n}": b for n, b in base.named_buffers()}
    for n, b in model.method.named_buffers():  # extra forwards (lookahead, JVP) never move BN statistics
        if "running" in n:
            torch.testing.assert_close(b, base_buffers[f"method.{n}"], rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", METHODS)
def test_ten_mcr_iterations_train_compmod_on_every_method(name):
    torch.manual_seed(0)
    model = wrap_with_regularizer(tiny_method(name, dtype=torch.float32),
                                  dict(type="MCR", compmod=dict(hidden=4), hypergrad="exact"))
    optim = sgd(model)
    xi_before = [p.detach().clone() for p in model.compmod.parameters()]
    for i in range(10):
        model.set_progress(i, 10, 2.0)
        logs = model.train_step(batch(i, torch.float32), optim)
        model.after_train_step()
        assert all(torch.isfinite(torch.as_tensor(v)).all() for v in logs.values()), logs
    moved = sum(float((a - b.detach()).abs().sum()) for a, b in zip(xi_before, model.compmod.parameters(), strict=True))
    assert moved > 1e-4


def test_compmod_never_enters_the_exported_encoder(tmp_path):
    model = wrap_with_regularizer(tiny_method("simclr", dtype=torch.float32), dict(type="MCR"))
    assert any(k.startswith("compmod.") for k in model.state_dict())  # it is in resumable checkpoints
    meta = {k: "x" for k in REQUIRED_KEYS} | dict(method="simclr", regularizer=model.regularizer_info())
    weights, _ = export_encoder(model.backbone, tmp_path, meta)
    exported = load_file(str(weights))
    assert set(exported) == set(model.method.backbone.state_dict())
    compmod_shapes = {tuple(p.shape) for p in model.compmod.state_dict().values()}
    assert not any("compmod" in k or "projector" in k for k in exported)
    fresh = build_backbone("resnet18", "cifar", 2)
    fresh.load_state_dict(exported, strict=True)
    assert compmod_shapes  # CompMod exists and has tensors, none of which was written
    assert model.regularizer_info()["type"] == "mcr"
