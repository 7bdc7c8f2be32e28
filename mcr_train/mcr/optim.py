"""Optional separate optimizer for CompMod: an ``OptimWrapperDict`` with keys ``model`` and ``compmod``.

Without it the engine's single optimizer over :meth:`MCRModel.parameter_groups` is used, so CompMod takes
the method's optimizer and learning-rate schedule. With it (DARTS, Liu et al. 2019, trains its outer
variables with their own optimizer), the config's ``optim_wrapper`` becomes::

    dict(constructor='MCROptimWrapperConstructor', optimizer=<method optimizer>,
         compmod_optimizer=dict(type='SGD', lr=..., momentum=0.9))   # None: same as ``optimizer``
"""

from __future__ import annotations

from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS


def _build(optimizer_cfg: dict, groups: list[dict], wrapper_cfg: dict):
    optimizer_cfg = dict(optimizer_cfg)
    if optimizer_cfg.get("type") != "LARS":
        groups = [{k: v for k, v in g.items() if k != "lars_exclude"} for g in groups]
    optimizer_cfg["params"] = [g for g in groups if g["params"]]
    optimizer = OPTIMIZERS.build(optimizer_cfg)
    wrapper_cfg = dict(wrapper_cfg)
    wrapper_cfg.setdefault("type", "OptimWrapper")
    return OPTIM_WRAPPERS.build(wrapper_cfg, default_args=dict(optimizer=optimizer))


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MCROptimWrapperConstructor:
    """Builds ``OptimWrapperDict(model=..., compmod=...)`` for an :class:`~mcr_train.mcr.wrapper.MCRModel`."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None):
        cfg = dict(optim_wrapper_cfg)
        self.optimizer_cfg = dict(cfg.pop("optimizer"))
        compmod = cfg.pop("compmod_optimizer", None)
        self.compmod_optimizer_cfg = dict(compmod) if compmod else dict(self.optimizer_cfg)
        self.wrapper_cfg = cfg

    def __call__(self, model) -> OptimWrapperDict:
        model = model.module if is_model_wrapper(model) else model
        return OptimWrapperDict(
            model=_build(self.optimizer_cfg, model.method.parameter_groups(), self.wrapper_cfg),
            compmod=_build(self.compmod_optimizer_cfg, model.compmod_parameter_groups(), self.wrapper_cfg))
