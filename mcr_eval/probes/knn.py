"""Weighted k-nearest-neighbour classification on frozen features.

Protocol (Wu et al. 2018, InstDisc; Caron et al. 2021, DINO): features are l2-normalized, similarity is
cosine ``s = <f_test, f_train>``, each of the ``k`` nearest training samples votes for its class with
weight ``exp(s / T)``, and classes are ranked by summed weight (ties go to the lower class index).
Top-5 counts a hit when the true class is among the 5 best-ranked classes *that received a vote*.

Settings reported (:data:`KNN_SETTINGS`): the MCR paper's 5-NN, here with the same ``exp(s/T)`` weighting
at T = 0.07; DINO's k = 20 at T = 0.07; InstDisc/lightly's k = 200 at T = 0.1.

The similarity matrix is computed in chunks of test rows so that it fits in memory, on the GPU when one
is present.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KNN_SETTINGS: tuple[tuple[int, float], ...] = ((5, 0.07), (20, 0.07), (200, 0.1))


def _chunk_rows(n_train: int, budget_bytes: int, dtype_bytes: int = 4) -> int:
    return max(1, budget_bytes // max(1, n_train * dtype_bytes * 3))


def knn_scores(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    k: int,
    temperature: float,
    num_classes: int | None = None,
    device: str | None = None,
    memory_budget_bytes: int = 1 << 30,
) -> torch.Tensor:
    """Summed ``exp(s/T)`` votes, shape (n_test, num_classes), on CPU (float32)."""
    return knn_scores_multi(
        train_features,
        train_labels,
        test_features,
        ((k, temperature),),
        num_classes,
        device,
        memory_budget_bytes,
    )[0]


def knn_scores_multi(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    settings: tuple[tuple[int, float], ...] = KNN_SETTINGS,
    num_classes: int | None = None,
    device: str | None = None,
    memory_budget_bytes: int = 1 << 30,
) -> list[torch.Tensor]:
    """Vote scores for several ``(k, T)`` settings from one similarity pass (one top-k at the largest k)."""
    if train_features.shape[0] == 0 or test_features.shape[0] == 0:
        raise ValueError("kNN needs at least one training and one test feature")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.float64 if train_features.dtype == torch.float64 else torch.float32
    train = F.normalize(train_features.to(dev, dtype), dim=1)
    labels = train_labels.to(dev, torch.int64)
    n_classes = int(num_classes or int(labels.max()) + 1)
    k_max = min(max(k for k, _ in settings), train.shape[0])
    rows = _chunk_rows(train.shape[0], memory_budget_bytes, train.element_size())
    outputs: list[list[torch.Tensor]] = [[] for _ in settings]
    for start in range(0, test_features.shape[0], rows):
        query = F.normalize(test_features[start : start + rows].to(dev, dtype), dim=1)
        sims, index = (query @ train.T).topk(k_max, dim=1)  # sorted, most similar first
        neighbour_labels = labels[index]
        for slot, (k, temperature) in enumerate(settings):
            kk = min(k, k_max)
            weights = (sims[:, :kk] / temperature).exp()
            scores = torch.zeros(query.shape[0], n_classes, device=dev, dtype=dtype)
            scores.scatter_add_(1, neighbour_labels[:, :kk], weights)
            outputs[slot].append(scores.float().cpu())
    return [torch.cat(chunks) for chunks in outputs]


def ranked_classes(scores: torch.Tensor, top: int = 5) -> torch.Tensor:
    """Best classes per row, ties to the lower class index; classes without votes are -1."""
    n_classes = scores.shape[1]
    # Stable descending sort keeps the lower index first among equal scores.
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, : min(top, n_classes)]
    voted = scores.gather(1, order) > 0
    return torch.where(voted, order, torch.full_like(order, -1))


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, top: int) -> float:
    ranked = ranked_classes(scores, top)
    return float((ranked == labels.view(-1, 1)).any(dim=1).float().mean())


def knn_evaluate(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    settings: tuple[tuple[int, float], ...] = KNN_SETTINGS,
    num_classes: int | None = None,
    device: str | None = None,
) -> list[dict[str, float]]:
    """Top-1 and top-5 accuracy for each ``(k, T)`` setting."""
    n_classes = num_classes or int(max(int(train_labels.max()), int(test_labels.max())) + 1)
    all_scores = knn_scores_multi(train_features, train_labels, test_features, settings, n_classes, device)
    results = []
    for (k, temperature), scores in zip(settings, all_scores):
        results.append(
            {
                "k": k,
                "T": temperature,
                "top1": topk_accuracy(scores, test_labels, 1),
                "top5": topk_accuracy(scores, test_labels, 5),
            }
        )
    return results
