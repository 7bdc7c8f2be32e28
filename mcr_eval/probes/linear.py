"""Linear probes on a frozen encoder.

``fast`` (cached center-crop features): features are standardized with the training mean/std, then a
multinomial logistic regression minimizes ``mean cross-entropy + (l2 / 2) * ||W||^2`` (bias not
penalized) by full-batch L-BFGS (strong Wolfe line search in logit space, stop when the largest gradient
entry is below 1e-4, as scikit-learn's default ``tol``; see :mod:`.logistic`). This is scikit-learn's
``LogisticRegression(C=1 / (l2 * n))`` objective. ``l2`` is chosen on a stratified held-out 20% of the
training split (grid from strong to weak, each fit warm-started from the previous), then the model is refit
on the full training split.

``standard``: SGD (momentum 0.9, no weight decay, lr 0.1 x batch/256, cosine schedule per step) on a
linear layer over the frozen encoder (BN in eval mode) with RandomResizedCrop + horizontal flip,
100 epochs by default; the last epoch's test accuracy is reported, never the best over epochs. After
probing the encoder's weights and BN statistics are checked unchanged (:mod:`.frozen_check`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from mcr_eval.features import ensure_finite
from mcr_eval.probes.frozen_check import frozen_encoder
from mcr_eval.probes.logistic import fit_multinomial

# Written out, not np.logspace: its last bits vary across numpy versions (1e-05 vs 9.999999999999999e-06), and
# the grid is part of every linear record's protocol, so records from two installs would not pool.
L2_GRID: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7)


def standardize(train: torch.Tensor, *others: torch.Tensor, eps: float = 1e-6) -> list[torch.Tensor]:
    """Z-score every matrix with the training matrix's per-feature mean and std."""
    mean = train.mean(0, keepdim=True)
    std = train.std(0, keepdim=True).clamp_min(eps)
    return [(m - mean) / std for m in (train, *others)]


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit indices, held-out indices): ``fraction`` of each class held out, at least one if it has two."""
    rng = np.random.default_rng(seed)
    held = []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        n_held = int(round(fraction * len(members)))
        held.append(members[: min(max(n_held, 1 if len(members) > 1 else 0), len(members) - 1)])
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    fit_idx = np.setdiff1d(np.arange(len(labels)), held_idx)
    return fit_idx, held_idx


def accuracy_topk(logits: torch.Tensor, labels: torch.Tensor, top: int) -> float:
    """Share of rows whose label is among the ``top`` largest logits, as an exact ``hits / n``."""
    top = min(top, logits.shape[1])
    hits = (logits.topk(top, dim=1).indices == labels.view(-1, 1)).any(dim=1)
    return int(hits.sum()) / int(labels.numel())


def fast_linear_probe(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    num_classes: int | None = None,
    l2_grid: Sequence[float] = L2_GRID,
    val_fraction: float = 0.2,
    seed: int = 0,
    device: str | None = None,
    max_iter: int = 500,
    tol: float = 1e-4,
) -> dict[str, Any]:
    """Fast-mode probe; returns top-1/top-5 on the test features, the chosen ``l2`` and the grid scores."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    n_classes = int(num_classes or int(max(int(train_y.max()), int(test_y.max()))) + 1)
    train_z, test_z = standardize(train_x.float(), test_x.float())
    train_z, test_z = train_z.to(dev), test_z.to(dev)
    y, yt = train_y.to(dev, torch.int64), test_y.to(dev, torch.int64)
    fit_idx, val_idx = stratified_split(train_y.cpu().numpy(), val_fraction, seed)
    fit_i, val_i = torch.as_tensor(fit_idx, device=dev), torch.as_tensor(val_idx, device=dev)
    fit_z, fit_y, val_z, val_y = train_z[fit_i], y[fit_i], train_z[val_i], y[val_i]
    grid = sorted(l2_grid, reverse=True)  # strong -> weak regularization, each fit starts from the last
    val_scores: dict[float, float] = {}
    fit = best = None
    best_acc = -1.0
    for l2 in grid:
        fit = fit_multinomial(fit_z, fit_y, n_classes, l2, max_iter=max_iter, tol=tol, previous=fit)
        acc = accuracy_topk(F.linear(val_z, fit.weight, fit.bias), val_y, 1) if len(val_idx) else 0.0
        val_scores[l2] = acc
        if acc > best_acc:
            best, best_acc = fit, acc
    final = fit_multinomial(train_z, y, n_classes, best.l2, max_iter=max_iter, tol=tol, previous=best)
    best_l2 = best.l2
    logits = F.linear(test_z, final.weight, final.bias)
    return {
        "top1": accuracy_topk(logits, yt, 1),
        "top5": accuracy_topk(logits, yt, 5),
        "l2": best_l2,
        "sklearn_C": 1.0 / (best_l2 * len(train_y)),
        "val_top1": val_scores,
        "converged": final.converged,  # False: the refit stopped at max_iter (largest gradient entry in max_grad)
        "max_grad": final.max_grad,
        "iterations": final.iterations,
        "n_train": len(train_y),
        "n_test": len(test_y),
    }


def evaluate_classifier(
    model: nn.Module, dataset: Dataset, batch_size: int, num_workers: int, device: torch.device,
    source: str = "this checkpoint",
) -> tuple[float, float]:
    """(top-1, top-5) of ``model`` (encoder + head) on ``dataset``; non-finite logits are refused."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    logits, labels = [], []
    model.eval()
    with torch.inference_mode():
        for images, targets in loader:
            images = images.to(device).contiguous(memory_format=torch.channels_last)
            logits.append(model(images).float().cpu())
            labels.append(torch.as_tensor(targets))
    all_logits, all_labels = torch.cat(logits), torch.cat(labels)
    ensure_finite(all_logits, source)
    return accuracy_topk(all_logits, all_labels, 1), accuracy_topk(all_logits, all_labels, 5)


def standard_linear_probe(
    encoder: nn.Module,
    train_set: Dataset,
    test_set: Dataset,
    num_classes: int,
    epochs: int = 100,
    batch_size: int = 256,
    lr: float | None = None,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    num_workers: int = 0,
    device: str | None = None,
    seed: int = 0,
    progress: bool = True,
    source: str = "this checkpoint",
) -> dict[str, Any]:
    """Standard-mode probe; ``train_set`` carries the augmentation, ``test_set`` the center crop.

    The frozen encoder's features are checked finite through the first epoch (``source`` names the
    checkpoint in that error): later epochs see the same encoder."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    lr = lr if lr is not None else 0.1 * batch_size / 256
    encoder.to(dev, memory_format=torch.channels_last)
    head = nn.Linear(int(encoder.num_features), num_classes).to(dev)
    nn.init.normal_(head.weight, std=0.01)
    nn.init.zeros_(head.bias)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        train_set,
        batch_size=batch_size,
        shuffle=True,
        drop_last=False,
        num_workers=num_workers,
        generator=generator,
        pin_memory=dev.type == "cuda",
    )
    optimizer = torch.optim.SGD(head.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs * len(loader)))
    with frozen_encoder(encoder):
        for epoch in tqdm(range(epochs), desc="linear probe", disable=not progress, leave=False):
            head.train()
            for images, targets in loader:
                images = images.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)
                with torch.no_grad():
                    feats = encoder(images).flatten(1)
                if epoch == 0:
                    ensure_finite(feats, source)
                loss = F.cross_entropy(head(feats), torch.as_tensor(targets, device=dev))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
        top1, top5 = evaluate_classifier(nn.Sequential(encoder, head), test_set, batch_size, num_workers, dev,
                                         source)
    return {
        "top1": top1,
        "top5": top5,
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "momentum": momentum,
        "weight_decay": weight_decay,
    }
