"""Iteration schedule: epochs -> iterations, the ``--max-iters`` cap, and the LR schedule.

A cap (never longer than the schedule) compresses the whole schedule (warm-up, cosine decay, EMA momentum,
MEC's 1/lambda warm-up) into the capped length, so a quick run is a complete, shorter run rather than the
first part of a long one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mcr_train.errors import ConfigError, DataError


@dataclass(frozen=True)
class IterSchedule:
    iters_per_epoch: int
    planned_iters: int
    max_iters: int
    epochs: float
    warmup_iters: int

    @property
    def effective_iters_per_epoch(self) -> float:
        """Iterations that play the role of one epoch after a cap."""
        return self.iters_per_epoch * self.max_iters / self.planned_iters


def plan_schedule(
    num_samples: int, global_batch: int, epochs: float, warmup_epochs: float, max_iters_cap: int | None = None
) -> IterSchedule:
    if global_batch < 1:
        raise ConfigError(f"batch size must be positive, got a global batch of {global_batch}")
    iters_per_epoch = num_samples // global_batch
    if iters_per_epoch < 1:
        raise DataError(
            f"the dataset has {num_samples} samples, fewer than one global batch of {global_batch}; "
            "use a larger dataset or a smaller data.batch_size"
        )
    if epochs <= 0:
        raise ConfigError(f"schedule.epochs must be positive, got {epochs}")
    planned = max(1, int(round(epochs * iters_per_epoch)))
    if max_iters_cap is not None and max_iters_cap < 1:
        raise ConfigError(f"--max-iters must be a positive integer, got {max_iters_cap}")
    if max_iters_cap is not None and max_iters_cap > planned:
        # A cap only shortens; silently training the shorter schedule would mislabel the run.
        raise ConfigError(
            f"--max-iters {max_iters_cap} exceeds the schedule's {planned} iterations ({epochs:g} epochs of "
            f"{iters_per_epoch}); raise schedule.epochs to train longer"
        )
    max_iters = max_iters_cap or planned
    warmup = int(round(warmup_epochs * iters_per_epoch * max_iters / planned))
    return IterSchedule(iters_per_epoch, planned, max_iters, epochs, min(warmup, max_iters - 1))


def lr_at(iteration: int, schedule: IterSchedule, base_lr: float, warmup_start_factor: float = 0.01,
          min_lr_ratio: float = 0.0) -> float:
    """The closed form that :func:`lr_schedulers` follows (the official MEC/DINO ``cosine_scheduler`` shape).

    Warm-up: ``W = warmup_iters`` values evenly spaced from ``warmup_start_factor * lr`` to ``lr``
    (``np.linspace``; a one-iteration warm-up is its start value). Then a half cosine from ``lr`` at
    iteration ``W`` down to ``min_lr_ratio * lr`` (reached one step after the last iteration).
    """
    w, t = schedule.warmup_iters, schedule.max_iters
    if iteration < w:
        frac = iteration / (w - 1) if w > 1 else 0.0
        return base_lr * (warmup_start_factor + (1.0 - warmup_start_factor) * frac)
    eta_min = base_lr * min_lr_ratio
    return eta_min + (base_lr - eta_min) * 0.5 * (1.0 + math.cos(math.pi * (iteration - w) / (t - w)))


def lr_schedulers(schedule: IterSchedule, warmup_start_factor: float = 0.01, min_lr_ratio: float = 0.0) -> list:
    """Linear warm-up then cosine decay to ``min_lr_ratio * lr``, stepped per iteration (see :func:`lr_at`).

    mmengine's schedulers are chainable: the cosine starts from whatever rate the optimizer holds at its
    first iteration. A ``LinearLR`` over ``W >= 2`` iterations ends exactly at ``lr`` (iteration ``W - 1``);
    over one iteration it would never leave its start factor, so there it spans two iterations and restores
    ``lr`` at iteration 1, where the cosine (listed after it) takes over at the full rate.
    """
    out = []
    warmup = schedule.warmup_iters
    if warmup > 0:
        out.append(
            dict(type="LinearLR", start_factor=warmup_start_factor, by_epoch=False, begin=0, end=max(warmup, 2))
        )
    out.append(
        dict(
            type="CosineAnnealingLR",
            by_epoch=False,
            begin=warmup,
            end=schedule.max_iters,
            T_max=schedule.max_iters - warmup,
            eta_min_ratio=min_lr_ratio,
        )
    )
    return out
