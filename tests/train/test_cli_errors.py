"""Bad input gets one line on stderr and exit status 2, through ``mcr-train``'s ``main``."""

from __future__ import annotations

import pytest
import torch

from mcr_train.cli import main
from mcr_train.methods.registry import METHODS
from mcr_train.methods.simclr import SimCLR
from tests.train.conftest import scenes_config, tiny_options


def run_cli(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: ")
    return err[-1]


def base(tmp_path, *extra) -> list[str]:
    return [
        scenes_config("simclr"),
        "--work-dir",
        str(tmp_path),
        "--max-iters",
        "2",
        "--cfg-options",
        *tiny_options("simclr", n=8, batch=4),
        *extra,
    ]


def test_missing_dataset_path(tmp_path, capsys):
    msg = run_cli(capsys, *base(tmp_path, f"data.spec=cifar10:{tmp_path}/nowhere"))
    assert "cifar" in msg.lower() and "nowhere" in msg


def test_unknown_method(tmp_path, capsys):
    msg = run_cli(capsys, *base(tmp_path, "model.type=simclrr"))
    assert "unknown method 'simclrr'" in msg and "simclr" in msg


def test_unknown_backbone(tmp_path, capsys):
    msg = run_cli(capsys, *base(tmp_path, "model.backbone.arch=resnet7"))
    assert "unknown backbone arch 'resnet7'" in msg


def test_bad_cfg_options_key(tmp_path, capsys):
    msg = run_cli(capsys, *base(tmp_path, "optimizer.lrr=0.1"))
    assert "'optimizer.lrr' is not in the config" in msg and "'lr'" in msg


def test_missing_config_file(tmp_path, capsys):
    msg = run_cli(capsys, str(tmp_path / "nope.py"))
    assert "does not exist" in msg


def test_resume_without_checkpoint(tmp_path, capsys):
    msg = run_cli(capsys, *base(tmp_path), "--resume")
    assert "found no checkpoint" in msg


@METHODS.register_module(name="simclr_nan_after_2", force=True)
class NanAfterTwo(SimCLR):
    """SimCLR whose loss turns NaN from the third iteration on (simulates a divergence)."""

    def ssl_loss(self, hs, zs, views):
        loss = super().ssl_loss(hs, zs, views)
        return loss * torch.nan if self.iteration >= 2 else loss


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, capsys):
    from mcr_train.engine.checkpoint import register_safe_globals

    argv = [
        scenes_config("simclr"),
        "--work-dir",
        str(tmp_path),
        "--max-iters",
        "4",
        "--cfg-options",
        *tiny_options("simclr", n=8, batch=4),
        "model.type=simclr_nan_after_2",
        "checkpoint_interval=2",
    ]
    msg = run_cli(capsys, *argv)
    assert "iteration 3" in msg and "iter_2.pth" in msg and "--resume" in msg
    assert (tmp_path / "iter_2.pth").is_file() and not (tmp_path / "iter_3.pth").exists()
    register_safe_globals()
    ckpt = torch.load(tmp_path / "iter_2.pth", weights_only=True)
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert not (tmp_path / "encoder.safetensors").exists()
