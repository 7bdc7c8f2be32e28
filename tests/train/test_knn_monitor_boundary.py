"""The online kNN monitor lives in the training package: ``mcr_train`` imports nothing from ``mcr_eval``,
configs name the hook by type, and the monitor refuses a bad ``k`` before training and NaN features when
training has diverged. Its center crop is the evaluation's, and its kNN the one ``mcr-eval knn`` runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from mcr_train.cli import main
from mcr_train.engine.knn_monitor import KnnMonitorHook, center_crop_transform
from mcr_train.errors import TrainingError
from mcr_train.models.backbone import build_backbone
from tests.train.conftest import scenes_config, tiny_options

REPO = Path(__file__).resolve().parents[2]


def test_training_package_never_imports_the_evaluation_package():
    pattern = re.compile(r"^\s*(from|import)\s+mcr_eval\b", re.MULTILINE)
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "mcr_train").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
    code = ("import sys, mcr_train.cli, mcr_train.engine.runner, mcr_train.engine.knn_monitor\n"
            "from mmengine.registry import HOOKS\n"
            "assert HOOKS.get('KnnMonitorHook') is mcr_train.engine.knn_monitor.KnnMonitorHook\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mcr_eval'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    configs = [p for p in (REPO / "configs" / "train").rglob("*.py") if "mcr_eval" in p.read_text()]
    assert configs == []


def test_evaluation_kNN_is_the_training_kNN():
    import mcr_eval.probes.knn as probe
    import mcr_train.engine.knn as core

    assert probe.knn_evaluate is core.knn_evaluate and probe.knn_scores is core.knn_scores


@pytest.mark.parametrize("size", [8, 96])
def test_monitor_center_crop_equals_the_evaluation_center_crop(size):
    from mcr_eval.data import center_crop_transform as eval_crop

    pixels = np.random.default_rng(0).integers(0, 256, size=(120, 100, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    assert torch.equal(center_crop_transform(size, mean, std)(image), eval_crop(size, mean, std)(image))


def train_args(work_dir, *extra: str) -> list[str]:
    opts = tiny_options("simclr", n=48, batch=16) + [*extra]
    return [scenes_config("simclr"), "--work-dir", str(work_dir), "--max-iters", "4", "--cfg-options", *opts]


def test_monitor_k_above_its_training_images_is_refused_before_training(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(train_args(tmp_path, "knn_monitor.interval=2", "knn_monitor.max_train=40", "knn_monitor.max_test=20",
                        "knn_monitor.k=50"))
    assert info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "k=50" in errors[0] and "(40 images)" in errors[0]
    assert "knn_monitor.k <= 40" in errors[0]
    assert not (tmp_path / "encoder.safetensors").exists() and not list(tmp_path.rglob("iter_*.pth"))


def test_monitor_refuses_nan_features(digits_like):
    torch.manual_seed(0)
    model = torch.nn.Module()
    model.backbone = build_backbone("resnet18", "cifar", 8).eval()
    with torch.no_grad():
        model.backbone.conv1.weight[0, 0, 0, 0] = float("nan")
    hook = KnnMonitorHook(data=digits_like, k=5, temperature=0.1)
    with pytest.raises(TrainingError, match="NaN or inf features for 20 of 20 held-out images after 7 iterations"):
        hook.evaluate(SimpleNamespace(model=model, iter=7))


@pytest.fixture
def digits_like():
    from torch.utils.data import TensorDataset

    generator = torch.Generator().manual_seed(0)
    images, labels = torch.rand(40, 3, 8, 8, generator=generator), torch.arange(40) % 4
    return TensorDataset(images[:20], labels[:20]), TensorDataset(images[20:], labels[20:])
