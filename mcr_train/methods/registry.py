"""Registry of SSL methods; configs name a method by its key (``model = dict(type='simclr', ...)``)."""

from __future__ import annotations

from mmengine.registry import MODELS, Registry

from mcr_train.errors import ConfigError

METHODS = Registry("ssl method", parent=MODELS, scope="mcr_train", locations=["mcr_train.methods"])


def get_method(name: str) -> type:
    """Return the registered method class, or raise a one-line :class:`ConfigError`."""
    import mcr_train.methods  # noqa: F401  (fills the registry)

    cls = METHODS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ConfigError(f"unknown method '{name}'; set model.type to one of {sorted(METHODS.module_dict)}")
    return cls


def build_method(cfg: dict):
    """Build a method from ``dict(type=name, **kwargs)``."""
    cfg = dict(cfg)
    cls = get_method(cfg.pop("type", None))
    try:
        return cls(**cfg)
    except TypeError as exc:
        raise ConfigError(f"bad model options for '{cls.__name__}': {exc}") from None
