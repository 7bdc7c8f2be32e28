"""Hooks that connect the mmengine loop to the method contract (schedules and target updates)."""

from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


def unwrap(model):
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class SSLScheduleHook(Hook):
    """Before each iteration: give the method its progress (EMA momentum, MEC's 1/lambda warm-up).
    After each optimizer step: let it update EMA targets and queues.

    Args:
        iters_per_epoch: iterations that count as one epoch of the (possibly capped) schedule.
    """

    priority = "ABOVE_NORMAL"

    def __init__(self, iters_per_epoch: float = 1.0):
        self.iters_per_epoch = float(iters_per_epoch)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        unwrap(runner.model).set_progress(runner.iter, runner.max_iters, self.iters_per_epoch)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        unwrap(runner.model).after_train_step()
