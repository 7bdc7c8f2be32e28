"""The learning rate mmengine's param schedulers actually set, iteration by iteration, against the closed
form of a linear warm-up (``np.linspace``) followed by a half cosine from the base rate (the official
MEC/DINO ``cosine_scheduler`` shape), for every ``--max-iters`` N from 1 to 50 of the 30-epoch scenes
configs, including the compressions that leave a one-iteration warm-up."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import PARAM_SCHEDULERS

from mcr_train.data.spec import SCENES_DEFAULTS
from mcr_train.engine.schedule import lr_at, lr_schedulers, plan_schedule
from tests.train.conftest import logged_scalars, scenes_config, tiny_options


def closed_form(n: int, warmup: int, base: float, start: float, min_ratio: float) -> np.ndarray:
    """Independent reference: ``linspace(start*base, base, W)`` then ``eta + (base-eta)(1+cos(pi k/(N-W)))/2``."""
    eta = base * min_ratio
    k = np.arange(n - warmup)
    cosine = eta + (base - eta) * 0.5 * (1 + np.cos(np.pi * k / (n - warmup)))
    return np.concatenate([np.linspace(start * base, base, warmup), cosine])


def driven_lrs(schedule, base: float, start: float, min_ratio: float) -> np.ndarray:
    """Build the schedulers from their config dicts and step them as ``ParamSchedulerHook`` does
    (after every optimizer step, in list order); record the rate each iteration trains with."""
    param = torch.nn.Parameter(torch.zeros(1))
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=base, momentum=0.9))
    schedulers = [PARAM_SCHEDULERS.build({**cfg, "optimizer": wrapper})
                  for cfg in lr_schedulers(schedule, start, min_ratio)]
    seen = []
    for _ in range(schedule.max_iters):
        seen.append(wrapper.get_lr()["lr"][0])
        param.grad = torch.zeros_like(param)
        wrapper.step()
        for scheduler in schedulers:
            scheduler.step()
    return np.array(seen)


def scenes_schedule_settings(config: str):
    cfg = Config.fromfile(config)
    return cfg.data.batch_size, cfg.schedule, float(cfg.optimizer.lr)


@pytest.mark.parametrize("method", ["mec", "simclr"])
def test_every_compression_of_the_scenes_schedule_peaks_at_the_base_rate(method):
    batch, sched, base = scenes_schedule_settings(scenes_config(method))
    start, min_ratio = sched.warmup_start_factor, sched.min_lr_ratio
    one_iteration_warmups = []
    for n in range(1, 51):
        schedule = plan_schedule(SCENES_DEFAULTS["n"], batch, sched.epochs, sched.warmup_epochs, n)
        w = schedule.warmup_iters
        one_iteration_warmups += [n] if w == 1 else []
        seen = driven_lrs(schedule, base, start, min_ratio)
        expected = closed_form(n, w, base, start, min_ratio)
        np.testing.assert_allclose(seen, expected, rtol=1e-9, atol=1e-12, err_msg=f"N={n}, W={w}")
        np.testing.assert_allclose([lr_at(i, schedule, base, start, min_ratio) for i in range(n)], expected,
                                   rtol=1e-12, atol=1e-15)
        assert seen.max() == pytest.approx(base, rel=1e-12), f"N={n}: peak {seen.max()} != {base}"
        assert np.all(np.diff(seen[:w]) > 0) and np.all(np.diff(seen[:w + 1]) >= 0), f"N={n}: warm-up not rising"
        assert np.all(np.diff(seen[w:]) <= 1e-15), f"N={n}: cosine not decreasing"
        assert seen[w] == pytest.approx(base, rel=1e-12)
    # 2 warm-up epochs of 30 make N // 15 (rounded) warm-up iterations: N = 8..22 leave exactly one.
    assert one_iteration_warmups == list(range(8, 23))


@pytest.mark.parametrize(("start", "min_ratio"), [(0.1, 0.05), (0.5, 0.0)])
def test_other_warmup_factors_and_floors(start, min_ratio):
    for n in (2, 3, 10, 17, 40):
        schedule = plan_schedule(1000, 100, 20, 2, n)
        seen = driven_lrs(schedule, 0.3, start, min_ratio)
        np.testing.assert_allclose(seen, closed_form(n, schedule.warmup_iters, 0.3, start, min_ratio),
                                   rtol=1e-9, atol=1e-12)


def test_a_real_run_with_a_one_iteration_warmup_trains_at_the_base_rate(tmp_path):
    """Through the CLI and mmengine's Runner: 64 scenes at batch 32 for 30 epochs is 60 iterations with a
    2-iteration warm-up; ``--max-iters 10`` compresses that to 1 warm-up iteration."""
    from mcr_train.cli import prepare_training, run_training

    job = prepare_training([scenes_config("simsiam"), "--work-dir", str(tmp_path), "--max-iters", "10",
                            "--cfg-options", *tiny_options("simsiam", n=64, batch=32, width=4)])
    assert job.schedule.warmup_iters == 1
    run_training(job)
    logged = [row["lr"] for row in logged_scalars(tmp_path) if "lr" in row]
    assert len(logged) == 10
    np.testing.assert_allclose(logged, closed_form(10, 1, 0.25, 0.01, 0.0), rtol=1e-6)
    assert max(logged) == pytest.approx(0.25)
