"""Closed-form ridge probes with the penalty chosen by exact leave-one-out error.

A linear probe here is ridge regression on standardized features: one-hot targets for a categorical
factor (prediction = argmax, as scikit-learn's ``RidgeClassifier``) and the value itself for a
continuous one. With the thin SVD ``Xc = U S V^T`` of the centred training features, the fit for every
penalty ``a`` costs a diagonal rescaling, and the leave-one-out residual is ``(y - H y) / (1 - h_ii)``
with hat matrix ``H = 1/n + U diag(s^2 / (s^2 + a)) U^T`` (Hastie, Tibshirani & Friedman, ESL §7.10).
The penalty with the best leave-one-out accuracy (or squared error) on the training samples is kept.
One SVD (:class:`RidgeBasis`) serves every factor fitted on the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

ALPHAS: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4, 1e5)  # exact, as the linear probe's grid


@dataclass
class RidgeProbe:
    """A fitted probe: standardization, weights ``(D, K)``, intercept ``(K,)`` and chosen penalty."""

    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    alpha: float
    classification: bool
    loo_loss: float = float("nan")  # the leave-one-out loss that chose ``alpha`` (error rate or squared error)

    def decision(self, features: np.ndarray) -> np.ndarray:
        return ((np.asarray(features, dtype=np.float64) - self.mean) / self.scale) @ self.weight + self.bias

    def predict(self, features: np.ndarray) -> np.ndarray:
        scores = self.decision(features)
        return scores.argmax(1) if self.classification else scores[:, 0]


def _targets(labels: np.ndarray, num_classes: int | None) -> np.ndarray:
    if num_classes is None:
        return labels.astype(np.float64)[:, None]
    onehot = np.zeros((len(labels), num_classes))
    onehot[np.arange(len(labels)), labels.astype(np.int64)] = 1.0
    return onehot


def thin_svd(x: np.ndarray, rtol: float = 1e-9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``U, s, V^T`` of ``x`` from the eigendecomposition of its smaller Gram matrix (tiny values dropped)."""
    n, d = x.shape
    if n <= d:
        eig, u = np.linalg.eigh(x @ x.T)
        keep = eig > max(eig.max(initial=0.0), 0.0) * rtol
        s = np.sqrt(eig[keep])
        u = u[:, keep]
        return u, s, (x.T @ u / s).T
    eig, v = np.linalg.eigh(x.T @ x)
    keep = eig > max(eig.max(initial=0.0), 0.0) * rtol
    s = np.sqrt(eig[keep])
    v = v[:, keep]
    return x @ v / s, s, v.T


class RidgeBasis:
    """Standardization and thin SVD of one training feature matrix, reused for every target.

    ``standardize=False`` only centres the features (for features whose scale is meaningful, such as the
    Nystroem features of :mod:`.kernel_probe`).
    """

    def __init__(self, features: np.ndarray, standardize: bool = True):
        x = np.asarray(features, dtype=np.float64)
        self.mean = x.mean(0)
        self.scale = x.std(0) if standardize else np.ones(x.shape[1])
        self.scale[self.scale < 1e-8] = 1.0
        xs = (x - self.mean) / self.scale
        with threadpool_limits(1, user_api="blas"):  # small matrices: threads only add contention
            self.u, self.s, self.vt = thin_svd(xs - xs.mean(0))
        self.n = len(x)

    def fit(self, labels: np.ndarray, num_classes: int | None, alphas: tuple[float, ...] = ALPHAS) -> RidgeProbe:
        """Fit one target; ``num_classes=None`` means regression on a continuous target."""
        y = _targets(labels, num_classes)
        y_mean = y.mean(0)
        uty = self.u.T @ (y - y_mean)
        best: tuple[float, float] | None = None
        for alpha in alphas:
            shrink = self.s**2 / (self.s**2 + alpha)
            fitted = self.u @ (shrink[:, None] * uty) + y_mean
            leverage = 1.0 / self.n + (self.u**2) @ shrink
            loo = y - (y - fitted) / np.clip(1.0 - leverage, 1e-8, None)[:, None]
            if num_classes is None:
                loss = float(np.mean((loo[:, 0] - y[:, 0]) ** 2))
            else:
                loss = float(np.mean(loo.argmax(1) != labels))
            if best is None or loss < best[0] - 1e-12:
                best = (loss, alpha)
        loss, alpha = best if best is not None else (float("nan"), alphas[0])
        coef = self.vt.T @ ((self.s / (self.s**2 + alpha))[:, None] * uty)
        return RidgeProbe(self.mean, self.scale, coef, y_mean, alpha, num_classes is not None, loss)


def fit_ridge(features: np.ndarray, labels: np.ndarray, num_classes: int | None,
              alphas: tuple[float, ...] = ALPHAS) -> RidgeProbe:
    """Fit a single ridge probe (see :class:`RidgeBasis` to fit many targets on the same features)."""
    return RidgeBasis(features).fit(labels, num_classes, alphas)
