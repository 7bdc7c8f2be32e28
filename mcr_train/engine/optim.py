"""Optimizer wiring: the method's own parameter groups, LARS, and a DDP wrapper that also runs on CPU."""

from __future__ import annotations

import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmengine.registry import MODEL_WRAPPERS, OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS

from mcr_train.engine.hooks import unwrap
from mcr_train.engine.lars import LARS

OPTIMIZERS.register_module(name="LARS", module=LARS, force=True)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MethodParamGroupsConstructor:
    """Builds the optimizer over ``model.parameter_groups()`` (see :mod:`mcr_train.methods.base`).

    Groups carry their own ``weight_decay=0`` / ``lars_exclude`` flags for biases and norm parameters;
    everything else takes the optimizer's defaults.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None):
        self.optim_wrapper_cfg = dict(optim_wrapper_cfg)
        self.optimizer_cfg = dict(self.optim_wrapper_cfg.pop("optimizer"))

    def __call__(self, model) -> OptimWrapper:
        groups = unwrap(model).parameter_groups()
        optimizer_cfg = dict(self.optimizer_cfg)
        if optimizer_cfg.get("type") != "LARS":
            groups = [{k: v for k, v in g.items() if k != "lars_exclude"} for g in groups]
        optimizer_cfg["params"] = groups
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        wrapper_cfg = dict(self.optim_wrapper_cfg)
        wrapper_cfg.setdefault("type", "OptimWrapper")
        return OPTIM_WRAPPERS.build(wrapper_cfg, default_args=dict(optimizer=optimizer))


@MODEL_WRAPPERS.register_module()
class DeviceAwareDDP(MMDistributedDataParallel):
    """mmengine's DDP wrapper; on CPU (gloo) it drops ``device_ids``, which DDP rejects there."""

    def __init__(self, module, device_ids=None, **kwargs):
        if not torch.cuda.is_available():
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)
