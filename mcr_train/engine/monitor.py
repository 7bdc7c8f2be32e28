"""Hooks a training config asks for: its ``custom_hooks`` and the online kNN monitor (``knn_monitor``).

``knn_monitor = dict(interval=N, ...)`` with N > 0 adds :class:`mcr_train.engine.knn_monitor.KnnMonitorHook`
every N iterations (the training loop is iteration-based), on held-out data that defaults to the training
spec's own train/test splits, normalized like the training views. The other keys go to the hook unchanged
(``data``, ``k``, ``temperature``, ``max_train``, ``max_test``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

from mmengine.config import Config

# Registers KnnMonitorHook in mmengine's HOOKS, so configs name it by type without importing anything.
from mcr_train.engine import knn_monitor  # noqa: F401
from mcr_train.errors import ConfigError

# data=None: the training spec's own train/test splits. Every key is listed so --cfg-options can set it.
MONITOR_DEFAULTS = dict(interval=0, data=None, k=200, temperature=0.1, max_train=2000, max_test=1000)


def config_hooks(cfg: Config, mean: Sequence[float], std: Sequence[float]) -> list[dict]:
    """The config's ``custom_hooks`` plus the kNN monitor when ``knn_monitor.interval`` > 0."""
    hooks = [dict(h) for h in cfg.get("custom_hooks") or []]
    if any("type" not in h for h in hooks):
        raise ConfigError("every entry of custom_hooks needs a 'type' (a hook registered in mmengine's HOOKS)")
    monitor = {**MONITOR_DEFAULTS, **dict(cfg.get("knn_monitor") or {})}
    interval = monitor.pop("interval")
    if not isinstance(interval, int) or interval < 0:
        raise ConfigError(f"knn_monitor.interval must be an integer >= 0 (0 = off), got {interval!r}")
    if interval == 0:
        return hooks
    if monitor["data"] is None:
        monitor["data"] = str(cfg.data.spec)
    monitor.setdefault("input_size", int(cfg.data.input_size))
    hooks.append(dict(type="KnnMonitorHook", interval=interval, by_epoch=False, mean=tuple(mean), std=tuple(std),
                      **monitor))
    return hooks
