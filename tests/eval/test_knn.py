"""Weighted kNN equals scikit-learn on real features (random-init ResNet on sklearn digits)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from mcr_eval.probes.knn import KNN_SETTINGS, knn_evaluate, knn_scores, ranked_classes


def sklearn_knn(train_x, train_y, test_x, k, temperature):
    """Reference: sklearn's brute-force cosine neighbours with exp(s/T) weights, s = 1 - cosine distance."""
    clf = KNeighborsClassifier(
        n_neighbors=k,
        metric="cosine",
        algorithm="brute",
        weights=lambda dist: np.exp((1.0 - dist) / temperature),
    )
    clf.fit(train_x, train_y)
    return clf


@pytest.mark.parametrize(("k", "temperature"), KNN_SETTINGS)
def test_predictions_equal_sklearn(digits_features, k, temperature):
    train_x, train_y, test_x, test_y = digits_features
    clf = sklearn_knn(train_x.double().numpy(), train_y.numpy(), test_x.double().numpy(), k, temperature)
    expected = clf.predict(test_x.double().numpy())
    scores = knn_scores(train_x, train_y, test_x, k, temperature, num_classes=10)
    ours = ranked_classes(scores, 1)[:, 0].numpy()
    assert (ours == expected).all(), f"{(ours != expected).sum()} predictions differ"
    # In float64 the neighbour sets and weights match exactly: vote shares equal sklearn's probabilities.
    # (In float32, near-ties at rank k may swap a neighbour; the predictions above still agree.)
    scores64 = knn_scores(train_x.double(), train_y, test_x.double(), k, temperature, num_classes=10)
    proba = clf.predict_proba(test_x.double().numpy())
    np.testing.assert_allclose((scores64 / scores64.sum(1, keepdim=True)).numpy(), proba, atol=1e-6)
    accuracy = float((ours == test_y.numpy()).mean())
    assert accuracy > 0.5  # real features: far above the 0.1 chance level


def test_top5_from_independent_vote(digits_features):
    """Top-5 from a hand-written vote over sklearn's kneighbors output, every class ranked (solo-learn)."""
    train_x, train_y, test_x, test_y = digits_features
    k, temperature = 20, 0.07
    clf = sklearn_knn(train_x.double().numpy(), train_y.numpy(), test_x.double().numpy(), k, temperature)
    dist, index = clf.kneighbors(test_x.double().numpy())
    hits = 0
    for row in range(len(test_y)):
        votes = np.zeros(10)
        np.add.at(votes, train_y.numpy()[index[row]], np.exp((1 - dist[row]) / temperature))
        order = sorted(range(10), key=lambda c: (-votes[c], c))[:5]
        hits += int(test_y[row]) in order
    result = knn_evaluate(train_x, train_y, test_x, test_y, ((k, temperature),))[0]
    assert result["top5"] == pytest.approx(hits / len(test_y), abs=1e-12)
    assert result["top5"] >= result["top1"]


def test_chunking_does_not_change_scores(digits_features):
    train_x, train_y, test_x, _ = digits_features
    whole = knn_scores(train_x, train_y, test_x, 20, 0.07)
    chunked = knn_scores(train_x, train_y, test_x, 20, 0.07, memory_budget_bytes=train_x.shape[0] * 4 * 3 * 7)
    assert torch.allclose(whole, chunked)


def test_ties_go_to_lower_class_and_unvoted_classes_are_ranked():
    scores = torch.tensor([[0.0, 2.0, 2.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    assert ranked_classes(scores, 3).tolist() == [[1, 2, 0], [0, 1, 2]]
