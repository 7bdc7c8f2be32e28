"""Base contract of every SSL method (the hooks that CompMod/MCR wraps without editing a method).

A method is an ``mmengine`` ``BaseModel`` with an online ``backbone`` and ``projector`` and these hooks:

``encode(views) -> [h1, h2]``
    Encoder (backbone) outputs per view, pooled features of size ``feature_dim``.
``project(hs) -> [z1, z2]``
    Projector outputs per view, of size ``embed_dim``.
``ssl_loss(hs, zs, views) -> scalar``
    The method's own loss as a function of those outputs. Target/EMA branches, predictors and queues
    are evaluated inside, from ``views``; the call has no side effects, so a wrapper may call it more
    than once per step (e.g. on a lookahead model). Side effects belong to ``after_train_step``.
``parameter_groups() -> list[dict]``
    Optimizer groups over the trainable parameters, each with a ``name``; biases and norm parameters
    get ``weight_decay=0`` and ``lars_exclude=True`` (LARS, You et al., 2017; as in BYOL and solo-learn).
``set_progress(iteration, max_iters, iters_per_epoch)``
    Called before every iteration; methods derive their schedules (EMA momentum, MEC's 1/lambda).
``after_train_step()``
    Called after every optimizer step: EMA target updates and queue writes.
``reusing_momentum_branch()``
    A context in which a momentum branch (BYOL's target, MoCo's keys, MEC's teacher) computed for a set
    of views is returned again when the same views come back, e.g. in MCR's lookahead. Inside one step
    that branch's weights do not change and it runs without gradients, so the reused values are the ones
    a second pass would compute.

``forward(inputs, mode='loss')`` runs ``encode -> project -> ssl_loss`` and returns ``dict(loss=...)``
plus detached scalars to log, so mmengine's single-process and DDP train steps run the same code.
``parse_losses`` stops training on a non-finite loss and names the iteration.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from torch import Tensor, nn

from mcr_train.errors import TrainingError
from mcr_train.models.backbone import build_backbone
from mcr_train.models.heads import build_head


def split_decay(named: list[tuple[str, nn.Parameter]]) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Split parameters into (decayed weights, biases and norm parameters) by dimensionality."""
    decay = [p for _, p in named if p.ndim > 1]
    no_decay = [p for _, p in named if p.ndim <= 1]
    return decay, no_decay


class SSLMethod(BaseModel):
    """Backbone + projector; subclasses add predictors/targets and implement :meth:`ssl_loss`.

    Args:
        backbone: kwargs of :func:`mcr_train.models.backbone.build_backbone`.
        projector: kwargs of :class:`mcr_train.models.heads.MLPHead` without ``in_dim``.
    """

    #: EMA schedule ``(base, final)`` for methods with momentum targets, else ``None``.
    momentum_schedule: tuple[float, float] | None = None

    def __init__(self, backbone: dict, projector: dict, data_preprocessor: dict | None = None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.backbone_cfg = dict(backbone)
        self.backbone = build_backbone(**backbone)
        self.feature_dim = self.backbone.num_features
        self.projector = build_head(self.feature_dim, dict(projector))
        self.embed_dim = self.projector.out_dim
        self.progress, self.iteration, self.iters_per_epoch = 0.0, 0, 1.0
        self.momentum = self.momentum_schedule[0] if self.momentum_schedule else 1.0
        self._log: dict[str, float] = {}

    # ---- the contract -------------------------------------------------------------------------------
    def encode(self, views: list[Tensor]) -> list[Tensor]:
        return [self.backbone(v) for v in views]

    def project(self, hs: list[Tensor]) -> list[Tensor]:
        return [self.projector(h) for h in hs]

    def ssl_loss(self, hs: list[Tensor], zs: list[Tensor], views: list[Tensor]) -> Tensor:
        raise NotImplementedError

    def trainable_modules(self) -> dict[str, nn.Module]:
        """Named modules trained by the optimizer (targets and queues are excluded)."""
        return {"backbone": self.backbone, "projector": self.projector}

    def parameter_groups(self) -> list[dict]:
        groups = []
        for name, module in self.trainable_modules().items():
            named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
            decay, no_decay = split_decay(named)
            if decay:
                groups.append({"name": name, "params": decay})
            if no_decay:
                groups.append(
                    {"name": f"{name}.bias_norm", "params": no_decay, "weight_decay": 0.0, "lars_exclude": True}
                )
        return groups

    def set_progress(self, iteration: int, max_iters: int, iters_per_epoch: float) -> None:
        from mcr_train.methods.ema import cosine_momentum

        self.progress = iteration / max(max_iters, 1)
        self.iters_per_epoch = iters_per_epoch
        self.iteration = iteration
        if self.momentum_schedule is not None:
            self.momentum = cosine_momentum(*self.momentum_schedule, self.progress)
            self._log["momentum"] = self.momentum

    def after_train_step(self) -> None:
        """EMA updates and queue writes; no-op for methods without targets."""

    @contextmanager
    def reusing_momentum_branch(self) -> Iterator[None]:
        """Within the block, :meth:`momentum_branch` computes each set of views once (see the module doc)."""
        self._momentum_cache = {}
        try:
            yield
        finally:
            self._momentum_cache = None

    def momentum_branch(self, branch: Callable[[list[Tensor]], list[Tensor]], views: list[Tensor]) -> list[Tensor]:
        """``branch(views)``, reused inside :meth:`reusing_momentum_branch` for the very same view tensors
        under the same autocast state (an fp32 lookahead never gets a bf16 level-1 result)."""
        cache = getattr(self, "_momentum_cache", None)
        if cache is None:
            return branch(views)
        autocast = torch.is_autocast_enabled(views[0].device.type)
        key = (autocast, *((id(v), v.data_ptr(), v._version, v.dtype, tuple(v.shape)) for v in views))
        if key not in cache:
            cache[key] = (branch(views), views)  # keeping the views alive keeps their ids unique
        return cache[key][0]

    # ---- mmengine glue ------------------------------------------------------------------------------
    def forward(self, inputs, data_samples=None, mode: str = "loss"):
        if mode == "loss":
            views = list(inputs)
            hs = self.encode(views)
            zs = self.project(hs)
            loss = self.ssl_loss(hs, zs, views)
            out = {"loss": loss}
            out.update({k: torch.as_tensor(v, dtype=torch.float32) for k, v in self._log.items()})
            return out
        if mode == "tensor":
            x = inputs[0] if isinstance(inputs, list | tuple) else inputs
            return self.backbone(x)
        raise ValueError(f"unsupported mode '{mode}'; use 'loss' or 'tensor'")

    def parse_losses(self, losses: dict) -> tuple[Tensor, dict]:
        loss, log_vars = super().parse_losses(losses)
        if not torch.isfinite(loss.detach()).all():
            iteration = MessageHub.get_current_instance().get_info("iter", -1) + 1
            raise TrainingError(
                f"loss became {loss.item()} at iteration {iteration}; training stopped and the last good "
                "checkpoint is kept in the work dir; lower the learning rate or warm-up, or use fp32 "
                "instead of AMP, then rerun with --resume"
            )
        return loss, OrderedDict(log_vars)
