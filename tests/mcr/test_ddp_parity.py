"""DDP parity with MCR: SimCLR+MCR (exact hypergradient) on 2 gloo processes matches 1 process at the same
global batch after 10 steps (float64, to 1e-10; the issue asks 1e-5), for the method's parameters and
CompMod's.

BatchNorm computes per-rank statistics under DDP (SyncBN needs CUDA), which no single process can
reproduce, so this model has no BatchNorm: an MLP encoder, a projector without BN and CompMod with
``norm='none'``. Everything else (NT-Xent's gathered negatives, the gathered MEC terms, the lookahead
gradient, the JVP, gradient averaging, the rank-0 broadcast) is the production path.
"""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.optim import OptimWrapper
from torch import nn

from mcr_train.errors import ConfigError
from mcr_train.mcr import MCRDataParallel, wrap_with_regularizer
from mcr_train.methods import build_method

GLOBAL_BATCH, STEPS, SIZE = 8, 10, 6


def build_model(seed: int):
    torch.manual_seed(seed)
    method = build_method(dict(type="simclr", backbone=dict(arch="resnet18", stem="cifar", width=2),
                               projector=dict(hidden_dim=8, out_dim=4, hidden_bn=False)))
    method.backbone = nn.Sequential(nn.Flatten(), nn.Linear(3 * SIZE * SIZE, 16), nn.ReLU(), nn.Linear(16, 16))
    model = wrap_with_regularizer(method, dict(type="MCR", hypergrad="exact", compmod=dict(hidden=8, norm="none")))
    return model.double()


def global_views(step: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(100 + step)
    return [torch.rand(GLOBAL_BATCH, 3, SIZE, SIZE, generator=gen, dtype=torch.float64) for _ in range(2)]


def train(model, rank: int = 0, world: int = 1) -> dict[str, torch.Tensor]:
    inner = model.module if isinstance(model, MCRDataParallel) else model
    groups = [g for g in inner.parameter_groups() if g["params"]]
    optim = OptimWrapper(torch.optim.SGD([{k: v for k, v in g.items() if k != "lars_exclude"} for g in groups],
                                         lr=0.2, momentum=0.9))
    shard = GLOBAL_BATCH // world
    for step in range(STEPS):
        inner.set_progress(step, STEPS, 2.0)
        views = [v[rank * shard:(rank + 1) * shard] for v in global_views(step)]
        model.train_step(dict(inputs=views, data_samples=torch.zeros(shard)), optim)
        inner.after_train_step()
    return {k: v.detach().clone() for k, v in inner.state_dict().items()}


def _worker(rank: int, world: int, init_file: str, out_file: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        model = MCRDataParallel(build_model(seed=rank))  # different seeds: the broadcast must align them
        state = train(model, rank, world)
        with pytest.raises(ConfigError, match="MCRDataParallel"):  # what plain DDP's train_step would call
            model.module(global_views(0), mode="loss")
        if rank == 0:
            torch.save(state, out_file)
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_match_one(tmp_path):
    single = train(build_model(seed=0))
    out = tmp_path / "ddp_state.pt"
    mp.spawn(_worker, args=(2, str(tmp_path / "rendezvous"), str(out)), nprocs=2, join=True)
    ddp = torch.load(out)
    assert single.keys() == ddp.keys() and any(k.startswith("compmod.") for k in single)
    initial = build_model(seed=0).state_dict()
    assert not torch.equal(initial["compmod.net.0.weight"], single["compmod.net.0.weight"])
    for key, value in single.items():
        # float64: agreement is ~1e-15; 1e-10 is far inside the 1e-5 the issue asks for
        torch.testing.assert_close(ddp[key], value, rtol=0, atol=1e-10, msg=lambda m, key=key: f"{key}: {m}")
