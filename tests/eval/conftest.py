"""Shared fixtures for the evaluation tests: tiny encoders and real features (sklearn digits)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from mcr_train.models.backbone import build_backbone


def tiny_encoder(seed: int = 0, width: int = 8, stem: str = "cifar", arch: str = "resnet18"):
    torch.manual_seed(seed)
    model = build_backbone(arch, stem, width)
    # Non-trivial BN statistics, so that loading and checking them means something.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.num_batches_tracked.fill_(7)
    return model.eval()


@pytest.fixture(scope="session")
def digits_images():
    """sklearn digits as (N, 3, 8, 8) float tensors in [0, 1] plus labels, split 75/25 stratified."""
    bunch = load_digits()
    images = torch.tensor(bunch.images / 16.0, dtype=torch.float32).unsqueeze(1).repeat(1, 3, 1, 1)
    labels = torch.tensor(bunch.target, dtype=torch.int64)
    tr, te = train_test_split(np.arange(len(labels)), test_size=0.25, random_state=0, stratify=bunch.target)
    return images[tr], labels[tr], images[te], labels[te]


@pytest.fixture(scope="session")
def digits_features(digits_images):
    """Pooled features of a fixed random-init ResNet-18 (width 16, CIFAR stem) on digits."""
    train_x, train_y, test_x, test_y = digits_images
    model = tiny_encoder(seed=1, width=16)
    with torch.inference_mode():
        feats = [model((x - 0.3) / 0.4) for x in (train_x, test_x)]
    return feats[0].clone(), train_y, feats[1].clone(), test_y


@pytest.fixture
def make_encoder():
    """Factory for small random-init encoders with non-trivial BN statistics."""
    return tiny_encoder
