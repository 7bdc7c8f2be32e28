"""MEC (Liu et al., "Self-Supervised Learning via Maximum Entropy Coding", NeurIPS 2022).

The coding length of ``m`` embeddings of dimension ``d`` at distortion ``eps^2`` is
``mu * log det(I_m + lambda * Z1 Z2^T)`` with ``lambda = d / (m eps^2)`` and ``mu = (m + d) / 2``. As in
the official code, ``log det`` is the trace of a 4th-order Taylor series of the matrix logarithm, the
loss is ``-(1/lambda) * (1/m) * Tr log(I + lambda C)`` symmetrized over the views with
``C = normalize(student) @ normalize(teacher)^T``, ``1/lambda`` is warmed up linearly from
``8/lambda`` to ``1/lambda`` over the first 10 epochs (so the series converges; the official
``np.linspace`` points), and the teacher is an EMA of the student's backbone and projector (momentum
0.996 -> 1, cosine).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from mcr_train.methods.base import SSLMethod
from mcr_train.methods.ema import ema_update, make_target
from mcr_train.methods.gather import gather_with_grad
from mcr_train.methods.registry import METHODS
from mcr_train.models.heads import build_head


def taylor_log_det_trace(c: Tensor, order: int = 4) -> Tensor:
    """``Tr sum_{k=1}^{order} (-1)^(k+1) c^k / k``, the Taylor series of ``Tr log(I + c)``."""
    power = c
    total = c.new_zeros(())
    for k in range(1, order + 1):
        if k > 1:
            power = power @ c
        sign = 1.0 if k % 2 == 1 else -1.0
        total = total + sign * torch.trace(power) / k
    return total


def mec_lambda(dim: int, batch: int, eps_sq: float = 64.0) -> float:
    """``lambda = d / (m * eps^2)`` (MEC eq. 2)."""
    return dim / (batch * eps_sq)


def mec_loss(
    p1: Tensor, p2: Tensor, t1: Tensor, t2: Tensor, lamda_inv: float, order: int = 4, gather: bool = True
) -> Tensor:
    """Symmetrized MEC loss ``-lamda_inv * (T(p1, t2) + T(p2, t1)) / (2m)``, rows l2-normalized."""
    if gather:
        p1, p2, t1, t2 = (gather_with_grad(x) for x in (p1, p2, t1, t2))
    m = p1.shape[0]

    def trace(p: Tensor, t: Tensor) -> Tensor:
        c = F.normalize(p, dim=1) @ F.normalize(t, dim=1).T / lamda_inv
        return taylor_log_det_trace(c, order)

    return -lamda_inv * 0.5 * (trace(p1, t2) + trace(p2, t1)) / m


def lamda_inv_schedule(iteration: int, lam: float, warmup_iters: float) -> float:
    """``1/lambda`` warmed up from ``8/lambda`` to ``1/lambda``, as the official ``lamda_scheduler``:
    ``np.linspace(8/lambda, 1/lambda, W)`` over the first ``W = round(warmup_iters)`` iterations (so
    iteration ``W - 1`` already uses ``1/lambda``; a one-iteration warm-up is just ``8/lambda``), then
    ``1/lambda``."""
    w = int(round(warmup_iters))
    if w <= 0 or iteration >= w:
        return 1.0 / lam
    frac = iteration / (w - 1) if w > 1 else 0.0
    return 8.0 / lam + (1.0 / lam - 8.0 / lam) * frac


@METHODS.register_module(name="mec")
class MEC(SSLMethod):
    """Student (backbone, projector, predictor) against an EMA teacher (backbone, projector).

    Args:
        eps_sq: squared distortion ``eps^2`` (64 in the paper).
        order: Taylor order (4 in the paper).
        warmup_epochs: epochs of the ``1/lambda`` warm-up (10 in the paper).
        global_batch: ``m``; if ``None`` it is the gathered batch size seen at each step.
    """

    def __init__(
        self,
        backbone: dict,
        projector: dict | None = None,
        predictor: dict | None = None,
        eps_sq: float = 64.0,
        order: int = 4,
        warmup_epochs: float = 10.0,
        momentum: tuple[float, float] = (0.996, 1.0),
        **kwargs,
    ):
        projector = projector or dict(hidden_dim=2048, out_dim=2048, num_layers=3, last_bn=True, last_bn_affine=False)
        predictor = predictor or dict(hidden_dim=512, out_dim=2048, num_layers=2)
        self.momentum_schedule = tuple(momentum)
        super().__init__(backbone, projector, **kwargs)
        self.predictor = build_head(self.embed_dim, dict(predictor))
        self.teacher_backbone = make_target(self.backbone)
        self.teacher_projector = make_target(self.projector)
        self.eps_sq, self.order, self.warmup_epochs = eps_sq, order, warmup_epochs

    def trainable_modules(self):
        return {**super().trainable_modules(), "predictor": self.predictor}

    def lamda_inv(self, batch: int) -> float:
        lam = mec_lambda(self.embed_dim, batch, self.eps_sq)
        return lamda_inv_schedule(self.iteration, lam, self.warmup_epochs * self.iters_per_epoch)

    @torch.no_grad()
    def teacher(self, views: list[Tensor]) -> list[Tensor]:
        return [self.teacher_projector(self.teacher_backbone(v)) for v in views]

    def ssl_loss(self, hs: list[Tensor], zs: list[Tensor], views: list[Tensor]) -> Tensor:
        from mcr_train.methods.gather import world_size

        p1, p2 = (self.predictor(z) for z in zs)
        t1, t2 = self.momentum_branch(self.teacher, views)
        lamda_inv = self.lamda_inv(p1.shape[0] * world_size())
        self._log["lamda_inv"] = lamda_inv
        return mec_loss(p1, p2, t1, t2, lamda_inv, self.order)

    def after_train_step(self) -> None:
        ema_update(self.teacher_backbone, self.backbone, self.momentum)
        ema_update(self.teacher_projector, self.projector, self.momentum)
