"""Class-balanced label subsets and semi-supervised fine-tuning."""

from __future__ import annotations

import json

import numpy as np
import torch
from torch.utils.data import TensorDataset

from mcr_eval.probes.semisup import balanced_subset, finetune, load_subset, save_subset


def test_balanced_subset_counts_seed_and_saved_list(tmp_path):
    labels = np.repeat(np.arange(5), [100, 200, 300, 50, 1000])
    subset = balanced_subset(labels, 0.1, seed=3)
    assert np.bincount(labels[subset]).tolist() == [10, 20, 30, 5, 100]
    assert len(np.unique(subset)) == len(subset)
    assert np.array_equal(subset, balanced_subset(labels, 0.1, seed=3))
    assert not np.array_equal(subset, balanced_subset(labels, 0.1, seed=4))
    one_pct = balanced_subset(labels, 0.01, seed=0)
    assert np.bincount(labels[one_pct]).tolist() == [1, 2, 3, 1, 10]  # at least one per class
    path = save_subset(tmp_path / "s.json", subset, "toy", 0.1, 3)
    assert np.array_equal(load_subset(path), subset) and json.loads(path.read_text())["seed"] == 3


def test_finetune_trains_a_copy(digits_images, make_encoder):
    train_x, train_y, test_x, test_y = digits_images
    encoder = make_encoder(seed=1, width=16)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    train_set, test_set = TensorDataset(train_x, train_y), TensorDataset(test_x, test_y)
    indices = balanced_subset(train_y.numpy(), 0.1, seed=0)
    result = finetune(
        encoder,
        train_set,
        indices,
        test_set,
        10,
        epochs=10,
        batch_size=32,
        lr_encoder=0.02,
        lr_head=0.2,
        device="cpu",
        progress=False,
    )
    expected = sum(max(1, round(0.1 * c)) for c in np.bincount(train_y.numpy()))
    assert result["n_labelled"] == len(indices) == expected
    assert result["top1"] > 0.4  # 10 classes from ~14 labels each; chance is 0.1
    assert all(torch.equal(v, before[k]) for k, v in encoder.state_dict().items())
