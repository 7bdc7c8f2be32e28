"""Online kNN monitor for pretraining (registered in mmengine's ``HOOKS``; wired in by training configs).

Every ``interval`` epochs (or iterations with ``by_epoch=False``) it extracts center-crop features of a
held-out train/test pair with the current encoder (eval mode, then the previous mode is restored), runs
the weighted kNN of :mod:`mcr_eval.probes.knn` on the main process (default k = 200, T = 0.1,
InstDisc/lightly), and logs ``knn/top1`` and ``knn/top5`` to the message hub (so they appear in
mmengine's log lines) and to the visualizer backends (TensorBoard when configured). Config example::

    custom_hooks = [dict(type='KnnMonitorHook', data='scenes?n=2000&n_test=500', interval=10,
                         encoder='backbone', input_size=32)]
"""

from __future__ import annotations

from typing import Any

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import nn
from torch.utils.data import Dataset, Subset

from mcr_eval.data import IMAGENET_MEAN, IMAGENET_STD, center_crop_transform, load_split
from mcr_eval.features import extract_features
from mcr_eval.probes.knn import knn_evaluate
from mcr_train.errors import ConfigError


def resolve_encoder(model: nn.Module, path: str) -> nn.Module:
    """``model.<path>`` after unwrapping DDP-style wrappers; ``path=''`` means the model itself."""
    module = model.module if is_model_wrapper(model) else model
    for name in filter(None, path.split(".")):
        if not hasattr(module, name):
            raise ConfigError(
                f"KnnMonitorHook: model {type(module).__name__} has no attribute '{name}'; set "
                "encoder= to the attribute path of the backbone"
            )
        module = getattr(module, name)
    return module


@HOOKS.register_module()
class KnnMonitorHook(Hook):
    """Log weighted-kNN accuracy of the encoder on held-out data during pretraining."""

    priority = "LOW"

    def __init__(
        self,
        data: str | tuple[Dataset, Dataset] = "scenes",
        interval: int = 1,
        by_epoch: bool = True,
        k: int = 200,
        temperature: float = 0.1,
        encoder: str = "backbone",
        input_size: int = 32,
        mean: tuple[float, ...] | None = None,
        std: tuple[float, ...] | None = None,
        train_split: str = "train",
        test_split: str = "test",
        max_train: int | None = None,
        max_test: int | None = None,
        batch_size: int = 256,
        num_workers: int = 0,
    ):
        if interval < 1 or k < 1 or temperature <= 0:
            raise ConfigError("KnnMonitorHook needs interval >= 1, k >= 1 and temperature > 0")
        self.data, self.interval, self.by_epoch = data, interval, by_epoch
        self.k, self.temperature, self.encoder_path = k, temperature, encoder
        self.transform = center_crop_transform(input_size, mean or IMAGENET_MEAN, std or IMAGENET_STD)
        self.splits = (train_split, test_split)
        self.limits = (max_train, max_test)
        self.batch_size, self.num_workers = batch_size, num_workers
        self._datasets: tuple[Dataset, Dataset] | None = None
        self.history: list[dict[str, Any]] = []

    def _get_datasets(self) -> tuple[Dataset, Dataset]:
        if self._datasets is None:
            if isinstance(self.data, str):
                pair = tuple(load_split(self.data, split, self.transform) for split in self.splits)
            else:
                pair = tuple(self.data)
            self._datasets = tuple(
                Subset(ds, range(min(len(ds), limit))) if limit else ds for ds, limit in zip(pair, self.limits)
            )
        return self._datasets

    def evaluate(self, runner, step: int | None = None) -> dict[str, float]:
        """Run the kNN now and log it at ``step`` (default: iterations done); returns top-1 and top-5.

        The random state is restored afterwards (feature loaders draw a seed from it), so a monitored run
        trains exactly like an unmonitored one."""
        encoder = resolve_encoder(runner.model, self.encoder_path)
        device = next(encoder.parameters()).device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            return self._evaluate(runner, encoder, device, runner.iter if step is None else step)

    def _evaluate(self, runner, encoder: nn.Module, device: torch.device, step: int) -> dict[str, float]:
        train_set, test_set = self._get_datasets()
        kwargs = dict(
            batch_size=self.batch_size, num_workers=self.num_workers, device=device, progress=False, convert_model=False
        )
        train = extract_features(encoder, train_set, **kwargs)
        test = extract_features(encoder, test_set, **kwargs)
        result = knn_evaluate(
            train.features,
            train.labels,
            test.features,
            test.labels,
            ((self.k, self.temperature),),
            device=str(device),
        )[0]
        scalars = {"knn/top1": result["top1"], "knn/top5": result["top5"]}
        for name, value in scalars.items():
            runner.message_hub.update_scalar(name, value)
        runner.visualizer.add_scalars(scalars, step=step)
        runner.logger.info(
            f"kNN monitor (k={self.k}, T={self.temperature}) epoch {runner.epoch} after {step} iterations: "
            f"top1 {result['top1']:.4f} top5 {result['top5']:.4f}"
        )
        self.history.append({"epoch": runner.epoch, "iter": step, **scalars})
        return {"top1": result["top1"], "top5": result["top5"]}

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and self.every_n_epochs(runner, self.interval) and is_main_process():
            self.evaluate(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        if not self.by_epoch and self.every_n_train_iters(runner, self.interval) and is_main_process():
            with torch.no_grad():
                self.evaluate(runner, step=runner.iter + 1)  # the loop counts this iteration after its hooks
