"""Resume is bit-exact with MCR through the engine's mmengine Runner: stop after iteration 2, resume,
finish, and compare with an uninterrupted run (method, CompMod, optimizer state, BN statistics)."""

from __future__ import annotations

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from mcr_train.data import build_dataset, dataset_stats
from mcr_train.engine.hooks import unwrap
from mcr_train.engine.runner import build_runner, with_defaults
from mcr_train.engine.schedule import plan_schedule
from mcr_train.mcr import regularized_model_class
from mcr_train.methods.registry import get_method
from mcr_train.views import build_views
from mcr_train.views.dataset import TwoViewDataset

SPEC = "scenes?n=32&n_test=8&size=16"


class _Stop(Exception):
    pass


class StopAfter(Hook):
    """Simulates a killed job right after the checkpoint of iteration ``n`` is written."""

    def __init__(self, n: int):
        self.n = n

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 >= self.n:
            raise _Stop


def make_runner(work_dir, resume: bool = False):
    cfg = with_defaults(Config(dict(
        model=dict(type="simclr", backbone=dict(arch="resnet18", stem="cifar", width=2),
                   projector=dict(hidden_dim=8, out_dim=4)),
        regularizer=dict(type="MCR", lambda1=1.0, lambda2=1.0, hypergrad="exact", compmod=dict(hidden=8)),
        data=dict(spec=SPEC, views="simclr_cifar", input_size=16, batch_size=8, num_workers=0),
        optimizer=dict(type="LARS", lr=0.3, momentum=0.9, weight_decay=1e-5),
        schedule=dict(epochs=1, warmup_epochs=0), deterministic=True, tensorboard=False,
        checkpoint_interval=2, log_interval=1, seed=3)))
    mean, std = dataset_stats(SPEC)
    dataset = TwoViewDataset(build_dataset(SPEC, "train"), build_views("simclr_cifar", 16, mean, std), seed=3)
    schedule = plan_schedule(len(dataset), 8, 1, 0)
    model_cls = regularized_model_class(get_method("simclr"), cfg.regularizer)
    return build_runner(cfg, model_cls, dataset, work_dir, schedule, "none", resume)


@pytest.fixture
def restore_determinism():
    yield
    torch.use_deterministic_algorithms(False)


def test_resume_with_mcr_is_bit_exact(tmp_path, restore_determinism):
    full = make_runner(tmp_path / "full")
    full.train()
    interrupted = make_runner(tmp_path / "cut")
    interrupted.register_hook(StopAfter(2), priority="LOWEST")
    with pytest.raises(_Stop):
        interrupted.train()
    torch.load(tmp_path / "cut" / "iter_2.pth", weights_only=True)  # the engine's checkpoints are weights-only
    resumed = make_runner(tmp_path / "cut", resume=True)
    resumed.train()
    assert resumed.iter == full.iter == 4
    a, b = unwrap(full.model).state_dict(), unwrap(resumed.model).state_dict()
    assert any(k.startswith("compmod.") for k in a)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    opt_a, opt_b = full.optim_wrapper.state_dict()["state"], resumed.optim_wrapper.state_dict()["state"]
    assert opt_a.keys() == opt_b.keys() and len(opt_a) == len(list(unwrap(full.model).parameters()))
    for key in opt_a:
        assert torch.equal(opt_a[key]["momentum_buffer"], opt_b[key]["momentum_buffer"]), key
    first = make_runner(tmp_path / "fresh")  # and MCR did move CompMod away from its initialization
    assert not torch.equal(unwrap(first.model).compmod.net[0].weight, unwrap(full.model).compmod.net[0].weight)
