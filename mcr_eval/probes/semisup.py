"""Semi-supervised fine-tuning on class-balanced label subsets (SimCLR, Chen et al. 2020; Barlow Twins,
Zbontar et al. 2021).

Subsets: for a fraction ``p`` (1% or 10%), each class keeps ``max(1, round(p * n_class))`` training
images drawn without replacement by ``numpy.random.default_rng(seed)``; the sorted index list is saved as
JSON beside the results so the same subset can be reused and audited (SimCLR and Barlow Twins publish
their fixed ImageNet 1%/10% lists the same way).

Fine-tuning: the whole encoder (BN in train mode) plus a new linear head, RandomResizedCrop + flip,
SGD momentum 0.9 with Nesterov, separate learning rates for encoder and head (Barlow Twins' recipe
shape), cosine schedule, no weight decay by default; the last epoch's test accuracy is reported.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from mcr_eval.checkpoints.safe_io import atomic_write
from mcr_eval.features import ensure_finite
from mcr_eval.probes.linear import evaluate_classifier
from mcr_train.errors import ConfigError, DataError, TrainingError


def balanced_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices: ``max(1, round(fraction * n_c))`` per class ``c``, drawn by ``seed``."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"label fraction must be in (0, 1], got {fraction}; use e.g. 0.01 or 0.1")
    labels = np.asarray(labels)
    if labels.size == 0:
        raise DataError("cannot draw a label subset from an empty training split; check --data")
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        take = min(len(members), max(1, int(round(fraction * len(members)))))
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def save_subset(path: str | Path, indices: np.ndarray, dataset: str, fraction: float, seed: int) -> Path:
    payload = {
        "dataset": dataset,
        "split": "train",
        "fraction": fraction,
        "seed": seed,
        "n": int(len(indices)),
        "indices": [int(i) for i in indices],
    }
    text = json.dumps(payload)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def load_subset(path: str | Path) -> np.ndarray:
    try:
        return np.asarray(json.loads(Path(path).read_text())["indices"], dtype=np.int64)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise DataError(f"subset file '{path}' is unreadable ({exc}); delete it to draw the subset again") from None


def finetune(
    encoder: nn.Module,
    train_set: Dataset,
    indices: np.ndarray,
    test_set: Dataset,
    num_classes: int,
    epochs: int = 20,
    batch_size: int = 256,
    lr_encoder: float = 0.005,
    lr_head: float = 0.5,
    weight_decay: float = 0.0,
    num_workers: int = 0,
    device: str | None = None,
    seed: int = 0,
    progress: bool = True,
    source: str = "this checkpoint",
) -> dict[str, Any]:
    """Fine-tune a copy of ``encoder`` + a linear head on ``train_set[indices]``; ``encoder`` is untouched.

    The starting encoder's features are checked finite on the first batch (``source`` names the checkpoint
    in that error), and a non-finite loss stops the run (the fine-tuning diverged)."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    model_encoder = copy.deepcopy(encoder).to(dev, memory_format=torch.channels_last)
    for p in model_encoder.parameters():
        p.requires_grad_(True)
    head = nn.Linear(int(encoder.num_features), num_classes).to(dev)
    nn.init.normal_(head.weight, std=0.01)
    nn.init.zeros_(head.bias)
    model = nn.Sequential(model_encoder, head)
    loader = DataLoader(
        Subset(train_set, indices.tolist()),
        batch_size=batch_size,
        shuffle=True,
        drop_last=len(indices) > batch_size,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
        pin_memory=dev.type == "cuda",
    )
    optimizer = torch.optim.SGD(
        [
            {"params": model_encoder.parameters(), "lr": lr_encoder},
            {"params": head.parameters(), "lr": lr_head},
        ],
        momentum=0.9,
        nesterov=True,
        weight_decay=weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs * len(loader)))
    first = True
    for epoch in tqdm(range(epochs), desc="fine-tune", disable=not progress, leave=False):
        model.train()
        for images, targets in loader:
            images = images.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)
            feats = model_encoder(images)
            if first:
                ensure_finite(feats.detach(), source)
                first = False
            loss = F.cross_entropy(head(feats.flatten(1)), torch.as_tensor(targets, device=dev))
            if not torch.isfinite(loss):
                raise TrainingError(f"semi-supervised fine-tuning diverged (loss {float(loss)} in epoch {epoch + 1}); "
                                    "lower --lr-encoder and --lr-head")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    top1, top5 = evaluate_classifier(model, test_set, batch_size, num_workers, dev, source)
    return {
        "top1": top1,
        "top5": top5,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr_encoder": lr_encoder,
        "lr_head": lr_head,
        "weight_decay": weight_decay,
        "n_labelled": int(len(indices)),
    }
