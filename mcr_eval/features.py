"""Frozen-feature extraction with an on-disk cache.

Features are the encoder's pooled outputs, computed in batches with the encoder in eval mode, under
``torch.inference_mode``, in channels_last memory format. They are cached as safetensors files keyed by
the sha256 of ``(checkpoint sha256, arch, dataset spec, split, transform)``, so a second probe on the same
features performs no model pass.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from mcr_eval.checkpoints.safe_io import atomic_write
from mcr_train.atomic_files import clean_stale_temps
from mcr_train.errors import CheckpointError

CACHE_FILE = re.compile(r"^[0-9a-f]{32}\.safetensors$")


@dataclass
class FeatureSet:
    """``features`` (N, D) float32 and ``labels`` (N,) int64, on CPU."""

    features: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.numel())


def default_cache_dir() -> Path:
    base = os.environ.get("MCR_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "mcr")
    return Path(base).expanduser() / "features"


def pick_device(device: str | None = None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def extract_features(
    model: nn.Module,
    dataset: Dataset,
    batch_size: int = 256,
    num_workers: int = 0,
    device: str | torch.device | None = None,
    desc: str = "features",
    progress: bool = True,
    convert_model: bool = True,
) -> FeatureSet:
    """Pooled features of every item of ``dataset`` (yielding ``(image tensor, label)``), in order.

    Inputs are fed in channels_last; with ``convert_model`` the weights are converted too (the online
    monitor passes ``False`` so that the model being trained keeps its memory format and device).
    """
    device = pick_device(str(device) if device is not None else None)
    was_training = model.training
    model.eval()
    if convert_model:
        model.to(device=device, memory_format=torch.channels_last)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    chunks, labels = [], []
    try:
        with torch.inference_mode():
            for images, targets in tqdm(loader, desc=desc, disable=not progress, leave=False):
                images = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
                chunks.append(model(images).flatten(1).float().cpu())
                labels.append(torch.as_tensor(targets, dtype=torch.int64))
    finally:
        model.train(was_training)
    if not chunks:
        return FeatureSet(torch.zeros(0, getattr(model, "num_features", 0)), torch.zeros(0, dtype=torch.int64))
    return FeatureSet(torch.cat(chunks), torch.cat(labels))


class FeatureCache:
    """Feature files under ``root``, one per key: ``<key>.safetensors`` with the key parts as metadata."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        # Temp files of a writer that was killed mid-save (``.<key>.safetensors.<random>.tmp``).
        clean_stale_temps(self.root, lambda target: CACHE_FILE.match(target) is not None)

    @staticmethod
    def key(parts: dict[str, Any]) -> str:
        text = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def path(self, parts: dict[str, Any]) -> Path:
        return self.root / f"{self.key(parts)}.safetensors"

    def load(self, parts: dict[str, Any]) -> FeatureSet | None:
        path = self.path(parts)
        if not path.is_file():
            return None
        try:
            tensors = load_file(str(path))
            return FeatureSet(tensors["features"], tensors["labels"])
        except (SafetensorError, OSError, KeyError):
            return None  # a damaged cache entry is recomputed and overwritten

    def save(self, parts: dict[str, Any], feats: FeatureSet) -> Path:
        meta = {"parts": json.dumps(parts, sort_keys=True, default=str)}
        tensors = {"features": feats.features.contiguous(), "labels": feats.labels.contiguous()}
        return atomic_write(self.path(parts), lambda tmp: save_file(tensors, tmp, metadata=meta))


def ensure_finite(features: torch.Tensor, source: str) -> None:
    """Refuse features with NaN or inf: every probe would turn them into a plausible-looking number (a kNN
    of NaN similarities, a logistic fit on NaN columns), so no evaluation may run on them."""
    bad = int((~torch.isfinite(features)).reshape(features.shape[0], -1).any(dim=1).sum()) if features.numel() else 0
    if bad:
        raise CheckpointError(
            f"the encoder in {source} gives NaN or inf features for {bad} of {features.shape[0]} images (its weights "
            "or BN statistics are not finite, or its activations overflow); evaluate an earlier checkpoint of that "
            "run, or retrain it with a lower learning rate"
        )


def checkpoint_source(meta: dict[str, Any]) -> str | None:
    """``'<checkpoint path>'`` from an encoder's metadata (``load_encoder`` records it), else None."""
    return f"'{meta['checkpoint']}'" if meta.get("checkpoint") else None


def describe_source(parts: dict[str, Any]) -> str:
    """How an error names the weights behind cache-key ``parts`` when the caller gives no checkpoint path."""
    sha = str(parts.get("checkpoint_sha256") or "unknown")[:12]
    return f"the checkpoint with sha256 {sha}... ({parts.get('arch')}, data '{parts.get('dataset')}')"


def cached_features(
    cache: FeatureCache | None,
    parts: dict[str, Any],
    model: nn.Module,
    dataset: Dataset,
    source: str | None = None,
    **extract_kwargs: Any,
) -> FeatureSet:
    """Features from the cache when present, else extracted and stored. ``cache=None`` disables caching.

    Non-finite features are refused (:func:`ensure_finite`) whether read or computed, and never cached;
    ``source`` names the checkpoint in that error (e.g. ``"'run/encoder.safetensors'"``)."""
    where = source or describe_source(parts)
    if cache is not None:
        hit = cache.load(parts)
        if hit is not None and len(hit) == len(dataset):
            ensure_finite(hit.features, where)
            return hit
    feats = extract_features(model, dataset, **extract_kwargs)
    ensure_finite(feats.features, where)
    if cache is not None:
        cache.save(parts, feats)
    return feats


def feature_key(meta: dict[str, Any], spec: str, split: str, transform: Any) -> dict[str, Any]:
    """Cache-key parts: which weights (hash + architecture), which data, which transform."""
    return {
        "checkpoint_sha256": meta.get("checkpoint_sha256"),
        "source_format": meta.get("source_format"),
        "arch": meta.get("arch"),
        "stem": meta.get("stem"),
        "stem_padding": meta.get("stem_padding"),
        "width": meta.get("width"),
        "dataset": spec,
        "split": split,
        "transform": repr(transform),
    }
