"""Resume is exact: stop at iteration k, resume from the checkpoint, finish; the encoder is bit-identical
to an uninterrupted run (CPU, deterministic mode). BYOL covers LARS state, EMA targets and schedules."""

from __future__ import annotations

import pytest
import torch
from mmengine.hooks import Hook
from safetensors.torch import load_file

from mcr_train.cli import prepare_training, run_training
from tests.train.conftest import scenes_config, tiny_options

TOTAL, STOP_AT = 8, 4


class _Crash(RuntimeError):
    pass


class CrashAt(Hook):
    """Simulates a killed job: raises before iteration ``STOP_AT`` (after its checkpoint was written)."""

    priority = "VERY_HIGH"

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == STOP_AT:
            raise _Crash(f"stopped at {runner.iter}")


def args(method: str, work_dir) -> list[str]:
    opts = tiny_options(method, n=32, batch=16) + [f"checkpoint_interval={STOP_AT}", "deterministic=True"]
    return [scenes_config(method), "--work-dir", str(work_dir), "--max-iters", str(TOTAL), "--cfg-options", *opts]


@pytest.mark.parametrize("method", ["byol", "mocov2"])
def test_resume_is_bit_exact(method, tmp_path):
    full_dir, split_dir = tmp_path / "full", tmp_path / "split"
    run_training(prepare_training(args(method, full_dir)))

    job = prepare_training(args(method, split_dir))
    job.runner.register_hook(CrashAt())
    with pytest.raises(_Crash):
        run_training(job)
    assert (split_dir / f"iter_{STOP_AT}.pth").is_file() and not (split_dir / "encoder.safetensors").exists()
    run_training(prepare_training(args(method, split_dir) + ["--resume"]))

    full = load_file(str(full_dir / "encoder.safetensors"))
    resumed = load_file(str(split_dir / "encoder.safetensors"))
    assert full.keys() == resumed.keys()
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    last_full = torch.load(full_dir / f"iter_{TOTAL}.pth", weights_only=True)["state_dict"]
    last_resumed = torch.load(split_dir / f"iter_{TOTAL}.pth", weights_only=True)["state_dict"]
    assert all(torch.equal(last_full[k], last_resumed[k]) for k in last_full)  # targets, queue, heads too
