"""Weighted k-nearest-neighbour classification on frozen features: the one implementation behind the
training-time monitor (:mod:`mcr_train.engine.knn_monitor`) and ``mcr-eval knn`` (:mod:`mcr_eval.probes.knn`).

Protocol (Wu et al. 2018, InstDisc; Caron et al. 2021, DINO; solo-learn's ``WeightedKNNClassifier``):
features are l2-normalized, similarity is cosine ``s = <f_test, f_train>``, each of the ``k`` nearest
training samples votes for its class with weight ``exp(s / T)``, and *every* class is ranked by its summed
weight (a class without a vote scores 0 and still takes a rank; ties go to the lower class index).
Top-1 is the first rank; top-5 counts a hit when the true class is among the first ``min(5, k)`` ranks, as
solo-learn does (with fewer than 5 neighbours at most ``k`` classes can be voted for). Accuracy is an exact
count of hits divided by the number of test samples.

The similarity matrix is computed in chunks of test rows so that it fits in memory, on the GPU when one
is present.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mcr_train.errors import ConfigError

#: Settings reported: the MCR paper's 5-NN (with exp(s/T) weighting at T = 0.07), DINO's k = 20 at T = 0.07
#: and InstDisc/lightly's k = 200 at T = 0.1.
KNN_SETTINGS: tuple[tuple[int, float], ...] = ((5, 0.07), (20, 0.07), (200, 0.1))


def _chunk_rows(n_train: int, budget_bytes: int, dtype_bytes: int = 4) -> int:
    return max(1, budget_bytes // max(1, n_train * dtype_bytes * 3))


def check_settings(settings: tuple[tuple[int, float], ...], n_train: int, where: str = "", fix: str = "") -> None:
    """Refuse a ``k`` above the training-set size: it would silently use fewer neighbours than recorded.

    ``where`` describes the training set (`` of split 'train' of 'digits'``), ``fix`` says what to change."""
    for k, temperature in settings:
        if k < 1 or not temperature > 0:
            raise ConfigError(f"kNN needs k >= 1 and T > 0, got k={k}, T={temperature}; {fix or 'fix the setting'}")
        if k > n_train:
            raise ConfigError(f"kNN k={k} is larger than the training set{where} ({n_train} images); "
                              f"{fix or 'use k <= ' + str(n_train)}")


def knn_scores_multi(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    settings: tuple[tuple[int, float], ...] = KNN_SETTINGS,
    num_classes: int | None = None,
    device: str | None = None,
    memory_budget_bytes: int = 1 << 30,
) -> list[torch.Tensor]:
    """Vote scores (n_test, num_classes), float32 on CPU, for several ``(k, T)`` from one similarity pass."""
    if train_features.shape[0] == 0 or test_features.shape[0] == 0:
        raise ValueError("kNN needs at least one training and one test feature")
    check_settings(settings, train_features.shape[0])
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.float64 if train_features.dtype == torch.float64 else torch.float32
    train = F.normalize(train_features.to(dev, dtype), dim=1)
    labels = train_labels.to(dev, torch.int64)
    n_classes = int(num_classes or int(labels.max()) + 1)
    k_max = max(k for k, _ in settings)
    rows = _chunk_rows(train.shape[0], memory_budget_bytes, train.element_size())
    outputs: list[list[torch.Tensor]] = [[] for _ in settings]
    for start in range(0, test_features.shape[0], rows):
        query = F.normalize(test_features[start : start + rows].to(dev, dtype), dim=1)
        sims, index = (query @ train.T).topk(k_max, dim=1)  # sorted, most similar first
        neighbour_labels = labels[index]
        for slot, (k, temperature) in enumerate(settings):
            weights = (sims[:, :k] / temperature).exp()
            scores = torch.zeros(query.shape[0], n_classes, device=dev, dtype=dtype)
            scores.scatter_add_(1, neighbour_labels[:, :k], weights)
            outputs[slot].append(scores.float().cpu())
    return [torch.cat(chunks) for chunks in outputs]


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
        train_features, train_labels, test_features, ((k, temperature),), num_classes, device, memory_budget_bytes
    )[0]


def ranked_classes(scores: torch.Tensor, top: int = 5) -> torch.Tensor:
    """The ``top`` best-ranked classes per row over all classes (voted or not), ties to the lower index."""
    # A stable descending sort keeps the lower class index first among equal scores.
    return torch.sort(scores, dim=1, descending=True, stable=True).indices[:, : min(top, scores.shape[1])]


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, top: int, k: int | None = None) -> float:
    """Share of rows whose label is among the first ``min(top, k)`` ranks: exact ``hits / n``."""
    ranks = min(top, k) if k is not None else top
    hits = (ranked_classes(scores, ranks) == labels.view(-1, 1).to(torch.int64)).any(dim=1)
    return int(hits.sum()) / int(labels.numel())


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
    return [
        {
            "k": k,
            "T": temperature,
            "top1": topk_accuracy(scores, test_labels, 1, k),
            "top5": topk_accuracy(scores, test_labels, 5, k),
        }
        for (k, temperature), scores in zip(settings, all_scores)
    ]
