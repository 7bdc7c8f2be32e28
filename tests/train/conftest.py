"""Shared helpers for the training tests: tiny CPU sizes so the whole folder runs in minutes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"
METHOD_NAMES = ["simclr", "mocov2", "byol", "simsiam", "barlowtwins", "vicreg", "mec"]


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)
    yield


def scenes_config(method: str) -> str:
    (path,) = CONFIGS.glob(f"{method}_resnet18-cifar_1xb128-30e_scenes.py")
    return str(path)


def tiny_options(method: str, n: int = 64, batch: int = 32, width: int = 8) -> list[str]:
    """``--cfg-options`` that shrink a scenes config to a few-second CPU run."""
    opts = [
        f"model.backbone.width={width}",
        f"data.batch_size={batch}",
        f"data.spec=scenes?n={n}",
        "data.num_workers=0",
        "log_interval=1",
        "tensorboard=False",
        "model.projector.hidden_dim=64",
    ]
    if method in ("simsiam", "mec", "byol"):
        opts.append("model.predictor.hidden_dim=32")
    if method in ("simsiam", "mec", "barlowtwins", "vicreg"):
        opts.append("model.projector.out_dim=64")
    if method in ("simsiam", "mec"):
        opts.append("model.predictor.out_dim=64")
    if method == "mocov2":
        opts.append("model.queue_size=256")
    return opts


def logged_scalars(work_dir: Path) -> list[dict]:
    (path,) = sorted(Path(work_dir).glob("*/vis_data/scalars.json"))[-1:]
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
