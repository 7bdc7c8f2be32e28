"""Feature extraction and the on-disk cache."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from mcr_eval.features import FeatureCache, cached_features, extract_features


class CountingDataset(TensorDataset):
    def __init__(self, *tensors):
        super().__init__(*tensors)
        self.reads = 0

    def __getitem__(self, index):
        self.reads += 1
        return super().__getitem__(index)


def test_extraction_is_batched_eval_inference_channels_last(digits_images, make_encoder):
    train_x, train_y, _, _ = digits_images
    encoder = make_encoder(seed=0, width=8).train()
    seen = []
    encoder.register_forward_pre_hook(
        lambda module, inputs: seen.append(
            (
                module.training,
                torch.is_inference_mode_enabled(),
                inputs[0].is_contiguous(memory_format=torch.channels_last),
                inputs[0].shape[0],
            )
        )
    )
    feats = extract_features(
        encoder, TensorDataset(train_x[:70], train_y[:70]), batch_size=32, progress=False, device="cpu"
    )
    assert [s[3] for s in seen] == [32, 32, 6] and all(s[0] is False and s[1] and s[2] for s in seen)
    assert encoder.training  # previous mode restored
    encoder.eval()
    with torch.no_grad():
        direct = encoder(train_x[:70])
    assert torch.allclose(feats.features, direct, atol=1e-5) and torch.equal(feats.labels, train_y[:70])


def test_second_probe_on_cached_features_does_no_model_pass(tmp_path, digits_images, make_encoder):
    train_x, train_y, _, _ = digits_images
    encoder = make_encoder(seed=0, width=8)
    calls = []
    encoder.register_forward_hook(lambda *args: calls.append(1))
    cache = FeatureCache(tmp_path)
    parts = {"checkpoint_sha256": "abc", "dataset": "digits", "split": "train", "transform": "t"}
    dataset = CountingDataset(train_x[:50], train_y[:50])
    first = cached_features(cache, parts, encoder, dataset, batch_size=16, progress=False, device="cpu")
    assert len(calls) == 4 and dataset.reads == 50
    second = cached_features(cache, parts, encoder, dataset, batch_size=16, progress=False, device="cpu")
    assert len(calls) == 4 and dataset.reads == 50  # no model pass, no image read
    assert torch.equal(first.features, second.features) and torch.equal(first.labels, second.labels)
    other = cached_features(
        cache, {**parts, "split": "test"}, encoder, dataset, batch_size=16, progress=False, device="cpu"
    )
    assert len(calls) == 8 and torch.equal(other.features, first.features)  # a new key is computed
    assert len(list(tmp_path.glob("*.safetensors"))) == 2
