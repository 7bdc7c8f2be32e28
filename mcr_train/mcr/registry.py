"""Regularizers that wrap any registered SSL method without editing it (docs/mcr.md).

A config adds ``regularizer=dict(type='MCR', lambda1=1.0, ...)`` next to ``model=dict(type='simclr', ...)``;
:func:`wrap_with_regularizer` turns a built method into the regularized model, and
:func:`regularized_model_class` does the same for engine code that builds models from a class.
"""

from __future__ import annotations

from mmengine.registry import Registry
from torch import nn

from mcr_train.errors import ConfigError
from mcr_train.mcr.settings import MCRSettings
from mcr_train.mcr.wrapper import MCRModel

MCR_REGULARIZERS = Registry("mcr regularizer", scope="mcr_train")
MCR_REGULARIZERS.register_module(name="MCR", module=MCRModel)


def _is_none(regularizer_cfg: dict | None) -> bool:
    return not regularizer_cfg or str(dict(regularizer_cfg).get("type", "")).lower() == "none"


def _regularizer_class(regularizer_cfg: dict) -> type:
    kind = dict(regularizer_cfg).get("type", "MCR")
    cls = MCR_REGULARIZERS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ConfigError(f"unknown regularizer type '{kind}'; use one of {sorted(MCR_REGULARIZERS.module_dict)} "
                          "or drop the regularizer block")
    return cls


def wrap_with_regularizer(method: nn.Module, regularizer_cfg: dict | None) -> nn.Module:
    """``method`` itself when the block is absent or ``type='none'``, else the regularized model."""
    if _is_none(regularizer_cfg):
        return method
    return _regularizer_class(regularizer_cfg)(method, dict(regularizer_cfg))


def regularized_model_class(method_cls: type, regularizer_cfg: dict | None) -> type:
    """A class whose constructor takes the method's kwargs and returns the regularized model.

    This lets ``build_runner(cfg, regularized_model_class(get_method(...), cfg.regularizer), ...)`` build the
    MCR model from ``cfg.model`` exactly as it builds a plain method. Settings are validated here, so
    a bad block fails before any data is loaded.
    """
    if _is_none(regularizer_cfg):
        return method_cls
    wrapper_cls = _regularizer_class(regularizer_cfg)
    settings = MCRSettings.from_config(dict(regularizer_cfg))

    def __init__(self, **method_kwargs):
        try:
            method = method_cls(**method_kwargs)
        except TypeError as exc:
            raise ConfigError(f"bad model options for '{method_cls.__name__}': {exc}") from None
        wrapper_cls.__init__(self, method, settings)

    return type(f"{method_cls.__name__}MCR", (wrapper_cls,), {"__init__": __init__, "__module__": __name__})
