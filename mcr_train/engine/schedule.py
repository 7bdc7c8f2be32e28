"""Iteration schedule: epochs -> iterations, the ``--max-iters`` cap, and the LR schedule.

A cap (never longer than the schedule) compresses the whole schedule (warm-up, cosine decay, EMA momentum,
MEC's 1/lambda warm-up) into the capped length, so a quick run is a complete, shorter run rather than the
first part of a long one.
"""

from __future__ import annotations

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


def lr_schedulers(schedule: IterSchedule, warmup_start_factor: float = 0.01, min_lr_ratio: float = 0.0) -> list:
    """Linear warm-up then cosine decay to ``min_lr_ratio * lr``, stepped per iteration."""
    out = []
    if schedule.warmup_iters > 0:
        out.append(
            dict(type="LinearLR", start_factor=warmup_start_factor, by_epoch=False, begin=0, end=schedule.warmup_iters)
        )
    out.append(
        dict(
            type="CosineAnnealingLR",
            by_epoch=False,
            begin=schedule.warmup_iters,
            end=schedule.max_iters,
            T_max=schedule.max_iters - schedule.warmup_iters,
            eta_min_ratio=min_lr_ratio,
        )
    )
    return out
