"""DDP parity: 2 gloo processes match 1 process at the same global batch (SimCLR, Barlow Twins).

BatchNorm is replaced by Identity here so that the only cross-sample coupling is the loss itself;
the test then isolates the gradient-carrying all-gather (NT-Xent negatives, Barlow statistics).
Runs through mmengine's DDP wrapper (``DeviceAwareDDP``) and ``OptimWrapper``, in float64.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.optim import OptimWrapper
from torch import nn

from mcr_train.methods import build_method

STEPS, GLOBAL_BATCH, SIZE = 10, 8, 16


def strip_bn(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, nn.Identity())
        else:
            strip_bn(child)


def tiny_model(method: str):
    torch.manual_seed(0)
    model = build_method(
        dict(
            type=method,
            backbone=dict(arch="resnet18", stem="cifar", width=4),
            projector=dict(hidden_dim=16, out_dim=8, num_layers=2, hidden_bn=False),
        )
    )
    strip_bn(model)
    return model.double()


def batches() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(STEPS, 2, GLOBAL_BATCH, 3, SIZE, SIZE, generator=g, dtype=torch.float64)


def train(model, step_fn, rank: int, world: int) -> list[float]:
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    data, local = batches(), GLOBAL_BATCH // world
    losses = []
    for step in range(STEPS):
        views = [v[rank * local : (rank + 1) * local] for v in data[step]]
        loss = step_fn(dict(inputs=views), optim)["loss"].detach().clone()
        if world > 1:
            dist.all_reduce(loss)
        losses.append(float(loss) / world)
    return losses


def _worker(rank: int, world: int, port: int, method: str, out: str) -> None:
    from mcr_train.engine.optim import DeviceAwareDDP

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = tiny_model(method)
        ddp = DeviceAwareDDP(module=model, broadcast_buffers=False)
        losses = train(ddp, ddp.train_step, rank, world)
        if rank == 0:
            torch.save({"losses": losses, "state": model.state_dict()}, out)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("method", ["simclr", "barlowtwins"])
def test_two_gloo_processes_match_one(method, tmp_path):
    single = tiny_model(method)
    single_losses = train(single, single.train_step, 0, 1)
    out = str(tmp_path / "ddp.pt")
    mp.start_processes(_worker, args=(2, free_port(), method, out), nprocs=2, start_method="spawn", join=True)
    result = torch.load(out, weights_only=True)
    assert result["losses"] == pytest.approx(single_losses, abs=1e-5)
    for key, value in single.state_dict().items():
        assert torch.allclose(result["state"][key], value, atol=1e-6), key
