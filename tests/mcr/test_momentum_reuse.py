"""MCR's lookahead reuses the level-1 momentum branch (BYOL target, MoCo keys, MEC teacher) instead of
recomputing it: the step is unchanged to the last bit and the branch runs once per view instead of twice."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch

from tests.mcr.conftest import tiny_mcr
from tests.mcr.test_wiring import batch, sgd

MOMENTUM_BACKBONE = {"byol": "target_backbone", "mocov2": "target_backbone", "mec": "teacher_backbone"}


def _counted(model, name: str) -> list[int]:
    calls = [0]
    getattr(model.method, MOMENTUM_BACKBONE[name]).register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.mark.parametrize("name", sorted(MOMENTUM_BACKBONE))
@pytest.mark.parametrize("estimator", ["exact", "finite_difference"])
def test_reusing_the_momentum_branch_leaves_the_step_bit_identical_and_halves_its_passes(name, estimator):
    reused = tiny_mcr(name, hypergrad=estimator)
    recomputed = copy.deepcopy(reused)
    recomputed.method.reusing_momentum_branch = contextlib.nullcontext  # the previous behaviour
    reused_calls, recomputed_calls = _counted(reused, name), _counted(recomputed, name)
    data = batch(0)
    reused.train_step(data, sgd(reused))
    recomputed.train_step(copy.deepcopy(data), sgd(recomputed))
    assert (reused_calls[0], recomputed_calls[0]) == (2, 4)  # two views; the lookahead adds two more without reuse
    after = dict(recomputed.named_parameters())
    for key, p in reused.named_parameters():
        assert torch.equal(p, after[key]), key  # CompMod's xi included: the hypergradient is unchanged
    for key, b in recomputed.named_buffers():
        assert torch.equal(dict(reused.named_buffers())[key], b), key


def test_the_cache_lives_for_one_step_and_never_serves_other_views():
    model = tiny_mcr("byol")
    method, calls = model.method, _counted(model, "byol")
    views, other = batch(0)["inputs"], batch(1)["inputs"]
    with method.reusing_momentum_branch():
        first = method.momentum_branch(method.targets, views)
        assert method.momentum_branch(method.targets, views) is first and calls[0] == 2
        method.momentum_branch(method.targets, other)
        assert calls[0] == 4
    method.momentum_branch(method.targets, views)
    assert calls[0] == 6  # outside the block nothing is reused
