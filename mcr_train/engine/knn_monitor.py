"""Online kNN monitor for pretraining, registered in mmengine's ``HOOKS`` as ``KnnMonitorHook``.

Every ``interval`` epochs (or iterations with ``by_epoch=False``) it extracts center-crop features of a
held-out train/test pair with the current encoder (eval mode, then the previous mode is restored), runs
the weighted kNN of :mod:`mcr_train.engine.knn` on the main process (default k = 200, T = 0.1,
InstDisc/lightly), and logs ``knn/top1`` and ``knn/top5`` to the message hub (so they appear in
mmengine's log lines) and to the visualizer backends (TensorBoard when configured). The held-out data is
loaded, and ``k`` checked against its size, before training starts. Training configs turn it on with
``knn_monitor = dict(interval=N, ...)`` (see :mod:`mcr_train.engine.monitor`), or list it directly::

    custom_imports = dict(imports=['mcr_train.engine.knn_monitor'])
    custom_hooks = [dict(type='KnnMonitorHook', data='scenes?n=2000&n_test=500', interval=10,
                         encoder='backbone', input_size=32)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import transforms as T

from mcr_train.data.spec import IMAGENET_MEAN, IMAGENET_STD
from mcr_train.engine.hooks import unwrap
from mcr_train.engine.knn import check_settings, knn_evaluate
from mcr_train.errors import ConfigError, DataError, TrainingError


def center_crop_transform(size: int, mean: Sequence[float], std: Sequence[float]) -> T.Compose:
    """The evaluation center crop (``mcr_eval.data.center_crop_transform``, the same definition):
    ``Resize(r) -> CenterCrop(size) -> ToTensor -> Normalize`` with ``r = size`` up to 64 px, else the usual
    256/224 ratio."""
    resize = size if size <= 64 else int(round(size / 0.875))
    return T.Compose([T.Resize(resize), T.CenterCrop(size), T.ToTensor(), T.Normalize(list(mean), list(std))])


def resolve_encoder(model: nn.Module, path: str) -> nn.Module:
    """``model.<path>`` after unwrapping DDP-style wrappers; ``path=''`` means the model itself."""
    module = unwrap(model)
    for name in filter(None, path.split(".")):
        if not hasattr(module, name):
            raise ConfigError(
                f"KnnMonitorHook: model {type(module).__name__} has no attribute '{name}'; set "
                "encoder= to the attribute path of the backbone"
            )
        module = getattr(module, name)
    return module


def encode(encoder: nn.Module, dataset: Dataset, batch_size: int, num_workers: int,
           device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled float32 features and int64 labels of ``dataset``, in order, with the encoder in eval mode."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=device.type == "cuda")
    was_training = encoder.training
    encoder.eval()
    chunks, labels = [], []
    try:
        with torch.inference_mode():
            for images, targets in loader:
                images = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
                chunks.append(encoder(images).flatten(1).float().cpu())
                labels.append(torch.as_tensor(targets, dtype=torch.int64))
    finally:
        encoder.train(was_training)
    return torch.cat(chunks), torch.cat(labels)


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
        if interval < 1 or k < 1 or not temperature > 0:
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
                from mcr_train.data import build_dataset

                pair = tuple(build_dataset(self.data, split=split, transform=self.transform) for split in self.splits)
            else:
                pair = tuple(self.data)
            self._datasets = tuple(
                Subset(ds, range(min(len(ds), limit))) if limit else ds for ds, limit in zip(pair, self.limits)
            )
            for split, ds in zip(self.splits, self._datasets):
                if len(ds) == 0:
                    raise DataError(f"kNN monitor: held-out split '{split}' of {self.data!r} has no images; point "
                                    "knn_monitor.data at a dataset with train and test images, or set interval=0")
            n_train = len(self._datasets[0])
            check_settings(((self.k, self.temperature),), n_train, " of the kNN monitor",
                           f"set knn_monitor.k <= {n_train}, or give the monitor more images (knn_monitor.max_train)")
        return self._datasets

    def before_train(self, runner) -> None:
        # Load the held-out pair and check k now, so a bad setting fails before any training step.
        if is_main_process():
            self._get_datasets()

    def evaluate(self, runner, step: int | None = None) -> dict[str, float]:
        """Run the kNN now and log it at ``step`` (default: iterations done); returns top-1 and top-5.

        The random state is restored afterwards (data loaders draw a seed from it), so a monitored run
        trains exactly like an unmonitored one."""
        encoder = resolve_encoder(runner.model, self.encoder_path)
        device = next(encoder.parameters()).device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            return self._evaluate(runner, encoder, device, runner.iter if step is None else step)

    def _evaluate(self, runner, encoder: nn.Module, device: torch.device, step: int) -> dict[str, float]:
        train_set, test_set = self._get_datasets()
        train_x, train_y = encode(encoder, train_set, self.batch_size, self.num_workers, device)
        test_x, test_y = encode(encoder, test_set, self.batch_size, self.num_workers, device)
        for feats in (train_x, test_x):
            bad = int((~torch.isfinite(feats)).any(dim=1).sum())
            if bad:
                raise TrainingError(f"kNN monitor: the encoder gives NaN or inf features for {bad} of {len(feats)} "
                                    f"held-out images after {step} iterations, so training has diverged; lower the "
                                    "learning rate or set clip_grad, and resume from an earlier checkpoint")
        result = knn_evaluate(train_x, train_y, test_x, test_y, ((self.k, self.temperature),), device=str(device))[0]
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
