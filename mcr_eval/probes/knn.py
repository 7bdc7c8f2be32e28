"""Weighted k-nearest-neighbour classification on frozen features for ``mcr-eval knn``.

The implementation is :mod:`mcr_train.engine.knn`, shared with the online monitor of pretraining so that
the number a training log shows and the number ``mcr-eval knn`` records are computed the same way:
cosine similarity on l2-normalized features, ``exp(s/T)``-weighted votes of the ``k`` nearest training
samples (InstDisc, Wu et al. 2018; DINO, Caron et al. 2021), every class ranked by its summed vote (ties
to the lower class index), top-5 over the first ``min(5, k)`` ranks as in solo-learn, and accuracy as an
exact ``hits / n``.

Settings reported (:data:`KNN_SETTINGS`): the MCR paper's 5-NN, here with the same ``exp(s/T)`` weighting
at T = 0.07; DINO's k = 20 at T = 0.07; InstDisc/lightly's k = 200 at T = 0.1.
"""

from __future__ import annotations

from mcr_train.engine.knn import (
    KNN_SETTINGS,
    _chunk_rows,
    check_settings,
    knn_evaluate,
    knn_scores,
    knn_scores_multi,
    ranked_classes,
    topk_accuracy,
)

__all__ = [
    "KNN_SETTINGS",
    "_chunk_rows",
    "check_settings",
    "knn_evaluate",
    "knn_scores",
    "knn_scores_multi",
    "ranked_classes",
    "topk_accuracy",
]
