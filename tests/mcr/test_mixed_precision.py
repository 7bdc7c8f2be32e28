"""Under autocast on the level-1 forward (as mmengine's AmpOptimWrapper does on a GPU; CPU bf16 autocast
stands in here), CompMod, ``L_comp``, ``L_mcr`` and the whole level 2 run in fp32, and the step trains xi.

This checks where fp32 is kept, not how close a bf16 run is to an fp32 one: on these tiny nets, bf16
rounding of the level-1 forward alone moves the level-1 gradient to cosine 0.88 of the fp32 one."""

from __future__ import annotations

import contextlib

import torch
from mmengine.optim import OptimWrapper

from tests.mcr.conftest import random_views, tiny_mcr


class CpuBf16OptimWrapper(OptimWrapper):
    """An OptimWrapper whose ``optim_context`` enables bf16 autocast, like mmengine's AmpOptimWrapper."""

    @contextlib.contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast("cpu", dtype=torch.bfloat16):
            yield


def test_compmod_losses_and_level_two_stay_fp32_under_bf16_autocast():
    model = tiny_mcr("simclr", width=4, dtype=torch.float32)
    views = random_views(dtype=torch.float32, seed=4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model.level_one(views)
        hyper = model.level_two(views, 0.01)
    assert out["zs"][0].dtype == torch.bfloat16  # the encoder/projector did run in bf16
    assert out["z_hat"].dtype == out["comp"].dtype == out["mcr"].dtype == torch.float32
    assert all(h.dtype == torch.float32 and torch.isfinite(h).all() for h in hyper)
    groups = [{k: v for k, v in g.items() if k != "lars_exclude"} for g in model.parameter_groups() if g["params"]]
    xi_before = [p.detach().clone() for p in model.compmod.parameters()]
    logs = model.train_step(dict(inputs=views, data_samples=torch.zeros(6)),
                            CpuBf16OptimWrapper(torch.optim.SGD(groups, lr=0.1)))
    assert torch.isfinite(logs["hypergrad_norm"]) and float(logs["hypergrad_norm"]) > 0
    assert any(not torch.equal(a, b) for a, b in zip(xi_before, model.compmod.parameters(), strict=True))
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.compmod.parameters())
