"""End to end through ``mcr-train``: an ``*-mcr_*`` config trains the MCR model and exports only the encoder."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from mcr_train.cli import prepare_training, run_training
from mcr_train.engine.hooks import unwrap
from mcr_train.mcr import MCRModel

CONFIG = Path(__file__).resolve().parents[2] / "configs/train/simclr-mcr_resnet18-cifar_1xb128-30e_scenes.py"
OPTIONS = ["model.backbone.width=4", "data.batch_size=16", "data.spec=scenes?n=32&size=16", "data.input_size=16",
           "data.num_workers=0", "log_interval=1", "tensorboard=False", "model.projector.hidden_dim=32",
           "regularizer.compmod.hidden=16"]


def test_mcr_config_trains_and_exports_the_encoder_only(tmp_path):
    job = prepare_training([str(CONFIG), "--work-dir", str(tmp_path), "--max-iters", "3", "--cfg-options", *OPTIONS])
    model = unwrap(job.runner.model)
    assert isinstance(model, MCRModel), "the regularizer block must wrap the method in MCRModel"
    xi_before = model.compmod.net[0].weight.detach().clone()
    run_training(job)
    assert not torch.equal(xi_before, model.compmod.net[0].weight)
    meta = json.loads((tmp_path / "encoder.json").read_text())
    assert meta["regularizer"]["type"] == "mcr" and meta["regularizer"]["hypergrad"] == "exact"
    exported = load_file(str(tmp_path / "encoder.safetensors"))
    assert set(exported) == set(model.method.backbone.state_dict())
