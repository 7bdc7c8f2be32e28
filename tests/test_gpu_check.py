"""benchmarks/gpu_check: its kNN comparison against scikit-learn, and the whole script in its tiny CPU mode."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("gpu_check", None)


def test_knn_rankings_equal_scikit_learn_and_mismatches_are_counted(gpu_check):
    from sklearn.neighbors import KNeighborsClassifier

    from mcr_eval.probes.knn import KNN_SETTINGS

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 300)
    features = rng.normal(size=(4, 16))[labels] + 0.8 * rng.normal(size=(300, 16))
    train, test = torch.from_numpy(features[:240]), torch.from_numpy(features[240:])
    ranks = gpu_check.knn_predictions(train, torch.from_numpy(labels[:240]), test, "cpu")
    for (k, temperature), ranking in zip(KNN_SETTINGS, ranks, strict=True):
        reference = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute",
                                         weights=lambda d, t=temperature: np.exp((1.0 - d) / t))
        predicted = reference.fit(features[:240], labels[:240]).predict(features[240:])
        np.testing.assert_array_equal(ranking[:, 0].numpy(), predicted)
    assert gpu_check.prediction_mismatches(ranks, ranks) == 0
    changed = [r.clone() for r in ranks]
    changed[1][7, 0] = (changed[1][7, 0] + 1) % 4
    assert gpu_check.prediction_mismatches(ranks, changed) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the missing-GPU answer")
def test_missing_gpu_exits_2(gpu_check, capsys):
    assert gpu_check.main(["--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_tiny_cpu_mode_passes_every_check():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", GPU_CHECK_TIMEOUT="120")
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--tiny", "--device", "cpu"],
                          capture_output=True, text=True, env=env, timeout=150)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ") and "status" not in line]
    checks = [line.split("|")[1].strip() for line in table]
    assert checks == ["train simclr+mcr fp32", "train byol+mcr fp32", "extract / forward", "knn cpu == cpu",
                      "r50 simclr / fwd+bwd 32px"], done.stdout
    assert all(line.rstrip(" |").endswith("PASS") for line in table), done.stdout
