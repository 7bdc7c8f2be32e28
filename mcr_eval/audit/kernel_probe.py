"""Nonlinear factor probes: kernel ridge with an RBF kernel on Nystroem features.

The audit scores every factor with a linear and a nonlinear probe, as von Kuegelgen et al. (NeurIPS 2021,
"Self-Supervised Learning with Data Augmentations Provably Isolates Content from Style") score each latent
by linear and nonlinear R^2. The nonlinear probe here is kernel ridge regression with the RBF kernel
``k(x, y) = exp(-gamma ||x - y||^2)``, approximated by Nystroem features (Williams & Seeger, 2001) on
``m`` landmark samples of the training fold: ``phi(x) = k(x, L) U diag(lambda)^(-1/2)`` with
``k(L, L) = U diag(lambda) U^T``. Ridge on ``phi`` is then kernel ridge on the Nystroem kernel.

Features are centred and divided by one global scale (their root mean squared norm), never per dimension,
so the probe reads the same from features and from any orthogonal rotation of them: distances, and with
them the kernel, are unchanged. ``gamma`` is a multiple of the inverse median squared distance between
landmarks (the median heuristic); the multiple and the ridge penalty are chosen per factor by exact
leave-one-out error on the training fold (inner cross-validation, :mod:`.ridge`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from mcr_eval.audit.ridge import ALPHAS, RidgeBasis, RidgeProbe

#: Multiples of the median-heuristic ``gamma`` tried per factor.
GAMMA_FACTORS: tuple[float, ...] = (0.25, 1.0, 4.0)
#: Landmarks of the Nystroem approximation (all training samples when there are fewer).
LANDMARKS = 500


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


@dataclass
class KernelProbe:
    """A fitted nonlinear probe: input centring/scale, landmarks, Nystroem map and a ridge probe on it."""

    mean: np.ndarray
    scale: float
    landmarks: np.ndarray
    gamma: float
    projection: np.ndarray
    ridge: RidgeProbe

    def features(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        with threadpool_limits(1, user_api="blas"):
            return np.exp(-self.gamma * _squared_distances(z, self.landmarks)) @ self.projection

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.ridge.predict(self.features(x))


class KernelBasis:
    """Nystroem features of one training fold for every ``gamma``, reused for every factor."""

    def __init__(self, features: np.ndarray, landmarks: int = LANDMARKS, seed: int = 0,
                 gamma_factors: tuple[float, ...] = GAMMA_FACTORS):
        x = np.asarray(features, dtype=np.float64)
        self.mean = x.mean(0)
        centred = x - self.mean
        self.scale = float(np.sqrt(np.mean((centred * centred).sum(1)))) or 1.0
        z = centred / self.scale
        pick = np.sort(np.random.default_rng(seed).choice(len(z), min(landmarks, len(z)), replace=False))
        self.landmarks = z[pick]
        with threadpool_limits(1, user_api="blas"):
            d_nm = _squared_distances(z, self.landmarks)
            d_mm = d_nm[pick]
            off_diagonal = d_mm[~np.eye(len(pick), dtype=bool)]
            median = float(np.median(off_diagonal)) if off_diagonal.size else 1.0
            self.bases: list[tuple[float, np.ndarray, RidgeBasis]] = []
            for factor in gamma_factors:
                gamma = factor / max(median, 1e-12)
                eig, vec = np.linalg.eigh(np.exp(-gamma * d_mm))
                keep = eig > eig.max() * 1e-10
                projection = vec[:, keep] / np.sqrt(eig[keep])
                phi = np.exp(-gamma * d_nm) @ projection
                self.bases.append((gamma, projection, RidgeBasis(phi, standardize=False)))

    def fit(self, labels: np.ndarray, num_classes: int | None, alphas: tuple[float, ...] = ALPHAS) -> KernelProbe:
        """The ``(gamma, penalty)`` pair with the lowest leave-one-out loss for this target."""
        best: tuple[float, float, np.ndarray, RidgeProbe] | None = None
        for gamma, projection, basis in self.bases:
            probe = basis.fit(labels, num_classes, alphas)
            if best is None or probe.loo_loss < best[0] - 1e-12:
                best = (probe.loo_loss, gamma, projection, probe)
        assert best is not None
        _, gamma, projection, probe = best
        return KernelProbe(self.mean, self.scale, self.landmarks, gamma, projection, probe)
