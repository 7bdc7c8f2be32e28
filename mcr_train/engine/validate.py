"""Checks on a merged training config and the device, run before any data is built or rendered.

Each bad value becomes one :class:`ConfigError` line that names the key, the value and a fix, instead of a
traceback from deep inside torch or mmengine after minutes of preparation.
"""

from __future__ import annotations

import numbers
import os

from mmengine.config import Config

from mcr_train.errors import ConfigError

DEVICES = ("auto", "cuda", "cpu")
AMP_MODES = (None, "bf16", "fp16")


def _get(cfg: Config, key: str):
    node = cfg
    for part in key.split("."):
        if not hasattr(node, "get"):
            return None
        node = node.get(part)
    return node


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def require_int(cfg: Config, key: str, minimum: int, example: int) -> None:
    value = _get(cfg, key)
    if not _is_int(value) or value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {value!r}; set e.g. "
                          f"--cfg-options {key}={example}")


def require_number(cfg: Config, key: str, low: float, high: float | None, example: float,
                   low_open: bool = False) -> None:
    value = _get(cfg, key)
    too_low = value is not None and _is_number(value) and (value <= low if low_open else value < low)
    if not _is_number(value) or too_low or (high is not None and value > high):
        span = f"{'>' if low_open else '>='} {low:g}" + (f" and <= {high:g}" if high is not None else "")
        raise ConfigError(f"{key} must be a number {span}, got {value!r}; set e.g. --cfg-options {key}={example}")


def validate_optimizer(cfg: Config) -> None:
    """Learning rate, momentum and weight decay are non-negative numbers (SGD and LARS alike)."""
    for key, example in (("optimizer.lr", 0.1), ("optimizer.momentum", 0.9), ("optimizer.weight_decay", 1e-5)):
        if key == "optimizer.lr" or _get(cfg, key) is not None:
            require_number(cfg, key, 0.0, None, example)
    if cfg.optimizer.get("type") == "LARS" and cfg.optimizer.get("eta") is not None:
        require_number(cfg, "optimizer.eta", 0.0, None, 0.02, low_open=True)


def validate_config(cfg: Config) -> None:
    """Every value the engine turns into a number, checked once, up front."""
    validate_optimizer(cfg)
    require_int(cfg, "data.batch_size", 1, 128)
    if _get(cfg, "data.num_workers") is not None:
        require_int(cfg, "data.num_workers", 0, 2)
    require_int(cfg, "data.input_size", 1, 32)
    require_int(cfg, "checkpoint_interval", 1, 1000)
    require_int(cfg, "log_interval", 1, 10)
    require_int(cfg, "seed", 0, 0)
    keep = cfg.get("max_keep_ckpts")
    if not _is_int(keep) or (keep < 1 and keep != -1):
        raise ConfigError(f"max_keep_ckpts must be -1 (keep all) or an integer >= 1, got {keep!r}; "
                          "set e.g. --cfg-options max_keep_ckpts=2")
    require_number(cfg, "schedule.epochs", 0.0, None, 30, low_open=True)
    require_number(cfg, "schedule.warmup_epochs", 0.0, None, 2)
    # mmengine's LinearLR rejects a start factor outside (0, 1].
    require_number(cfg, "schedule.warmup_start_factor", 0.0, 1.0, 0.01, low_open=True)
    require_number(cfg, "schedule.min_lr_ratio", 0.0, 1.0, 0.0)
    if cfg.get("amp") not in AMP_MODES:
        raise ConfigError(f"amp must be None, 'bf16' or 'fp16', got {cfg.get('amp')!r}; "
                          "set e.g. --cfg-options amp=None")


def select_device(device: str, amp: str | None = None) -> str:
    """Resolve ``--device`` (``auto``: CUDA when present) to ``cuda`` or ``cpu``.

    ``cpu`` hides the GPUs from this process (``CUDA_VISIBLE_DEVICES=``) so that mmengine places the model on
    the CPU; this works only before CUDA has been queried in the process.
    """
    import torch

    if device not in DEVICES:
        raise ConfigError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cpu":
        if not torch.cuda.is_initialized():
            os.environ["CUDA_VISIBLE_DEVICES"] = ""
        if torch.cuda.is_available():
            raise ConfigError("--device cpu cannot hide the GPUs once CUDA has started in this process; "
                              "start the run with CUDA_VISIBLE_DEVICES= set instead")
    available = torch.cuda.is_available()
    if device == "cuda" and not available:
        raise ConfigError("--device cuda, but torch sees no CUDA GPU on this machine; "
                          "pass --device cpu (or auto), or run on a machine with a GPU")
    resolved = "cuda" if device == "cuda" or (device == "auto" and available) else "cpu"
    if amp and resolved != "cuda":
        raise ConfigError(f"amp='{amp}' needs a GPU; set --cfg-options amp=None for CPU runs")
    return resolved
