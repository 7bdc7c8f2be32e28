"""MCR losses (Guo et al., "Self-Supervised Learning with Meta Comprehensive Regularization", AAAI 2024).

All functions are pure and take **global** (already gathered) ``m x d`` embeddings; the caller gathers
across ranks. They use the maximum-entropy-coding quantities of MEC (Liu et al., "Self-Supervised
Learning via Maximum Entropy Coding", NeurIPS 2022):

* coding length of ``m`` rows at distortion ``eps^2``: ``mu * log det(I_m + lam * Z Z^T)`` with
  ``lam = d / (m eps^2)``; MEC's reference code drops ``mu`` and scales by ``1/(lam m)``, giving the
  *entropy form* ``R(Z) = (1/lam)(1/m) Tr log(I_m + lam Z Z^T)`` on l2-normalized rows;
* ``Tr log(I + C)`` is MEC's 4th-order Taylor series ``sum_k (-1)^(k+1) Tr(C^k)/k`` (reused from
  :func:`mcr_train.methods.mec.taylor_log_det_trace`), which converges for ``||C||_2 < 1``; this is why
  ``1/lam`` is warmed up from ``8/lam`` (:func:`mcr_train.methods.mec.lamda_inv_schedule`).

``L_comp`` maximizes the coding length of the comprehensive embedding ``Z_hat`` (so it is ``-R``).
``L_mcr`` ties each view's embedding to ``Z_hat``; three variants:

* ``mec_cross`` (default): the MEC cross term ``-(1/lam)(1/m) Tr log(I + lam Zv Z_hat^T)``, averaged over
  the views: maximizing the mutual coding length of a view and ``Z_hat`` pushes the view to carry what
  ``Z_hat`` carries.
* ``cosine``: ``1 - mean_i cos(z_v,i, z_hat_i)``, averaged over the views.
* ``rate_gap``: ``|R(Zv) - R(Z_hat)|``, averaged over the views ("same amount of information").
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from mcr_train.methods.mec import taylor_log_det_trace

MCR_LOSSES = ("mec_cross", "cosine", "rate_gap")


def coding_rate(z: Tensor, lamda_inv: float, order: int = 4) -> Tensor:
    """Entropy form ``R(Z) = (1/lam)(1/m) Tr log(I_m + lam Zn Zn^T)`` of the l2-normalized rows ``Zn``.

    >>> import torch
    >>> z = torch.randn(64, 16, dtype=torch.float64)
    >>> float(coding_rate(z, lamda_inv=64.0)) > 0
    True
    """
    zn = F.normalize(z, dim=1)
    m = zn.shape[0]
    return lamda_inv * taylor_log_det_trace(zn @ zn.T / lamda_inv, order) / m


def cross_coding_rate(z_a: Tensor, z_b: Tensor, lamda_inv: float, order: int = 4) -> Tensor:
    """MEC's cross term ``(1/lam)(1/m) Tr log(I_m + lam Zan Zbn^T)`` (rows l2-normalized)."""
    a, b = F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)
    m = a.shape[0]
    return lamda_inv * taylor_log_det_trace(a @ b.T / lamda_inv, order) / m


def comp_loss(z_hat: Tensor, lamda_inv: float, order: int = 4) -> Tensor:
    """``L_comp = -R(Z_hat)``: minimizing it maximizes the coding length of the comprehensive embedding."""
    return -coding_rate(z_hat, lamda_inv, order)


def mcr_loss(zs: list[Tensor], z_hat: Tensor, kind: str = "mec_cross", lamda_inv: float = 1.0,
             order: int = 4) -> Tensor:
    """``L_mcr`` between every view embedding in ``zs`` and ``z_hat``, averaged over the views.

    The caller decides what is detached: in the bi-level step ``z_hat`` is a target for level 1.
    """
    if kind == "mec_cross":
        terms = [-cross_coding_rate(z, z_hat, lamda_inv, order) for z in zs]
    elif kind == "cosine":
        terms = [1.0 - F.cosine_similarity(z, z_hat, dim=1).mean() for z in zs]
    elif kind == "rate_gap":
        target = coding_rate(z_hat, lamda_inv, order)
        terms = [(coding_rate(z, lamda_inv, order) - target).abs() for z in zs]
    else:
        raise ValueError(f"unknown mcr_loss '{kind}'; use one of {MCR_LOSSES}")
    return sum(terms) / len(terms)
