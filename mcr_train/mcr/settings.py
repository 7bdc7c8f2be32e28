"""Validated MCR settings from a config's ``regularizer=dict(type='MCR', ...)`` block.

Every option and its default is documented in docs/mcr.md (what the paper specifies and what we chose).
Bad values raise a one-line :class:`~mcr_train.errors.ConfigError` naming the fix.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from mcr_train.errors import ConfigError
from mcr_train.mcr.compmod import FUSIONS
from mcr_train.mcr.lookahead import LOOKAHEADS
from mcr_train.mcr.losses import MCR_LOSSES

ESTIMATORS = ("exact", "finite_difference", "first_order")
OPTIMIZATIONS = ("bilevel", "joint")
COMPMOD_KEYS = ("hidden", "depth", "norm", "in_dim", "out_dim")


@dataclass(frozen=True)
class MCRSettings:
    """MCR options (Guo et al., AAAI 2024) with our defaults where the paper is silent.

    Attributes:
        lambda1: weight of ``L_mcr`` in level 1.
        lambda2: weight of ``L_comp`` in level 2.
        fusion: CompMod input, ``'representation'`` (h1, h2) or ``'embedding'`` (z1, z2).
        mcr_loss: ``'mec_cross'``, ``'cosine'`` or ``'rate_gap'`` (see :mod:`mcr_train.mcr.losses`).
        hypergrad: level-2 estimator, ``'exact'``, ``'finite_difference'`` (DARTS) or ``'first_order'``.
        optimization: ``'bilevel'`` or the ``'joint'`` ablation (one level, all parameters on the sum).
        compmod: ``hidden`` (512), ``depth`` (2), ``norm`` ('bn'), optional ``in_dim``/``out_dim`` checks.
        eps_sq, order, lamda_warmup_epochs: MEC's ``eps^2`` (64), Taylor order (4), ``1/lambda`` warm-up.
        fd_epsilon: DARTS step ``eps = fd_epsilon / ||v||``.
        lookahead: the lookahead's step rule, ``'sgd'`` (DESIGN's plain step with the first group's rate for
            all) or ``'optimizer'`` (each group's rate, times the LARS factor under LARS); see
            :mod:`mcr_train.mcr.lookahead`.
        lookahead_lr: replaces the optimizer's current learning rate in the lookahead; ``None`` keeps it.
        level2_interval: run level 2 every this many iterations (1 = every step, as in the paper).
    """

    lambda1: float = 1.0
    lambda2: float = 1.0
    fusion: str = "representation"
    mcr_loss: str = "mec_cross"
    hypergrad: str = "exact"
    optimization: str = "bilevel"
    compmod: dict = field(default_factory=lambda: dict(hidden=512, depth=2, norm="bn"))
    eps_sq: float = 64.0
    order: int = 4
    lamda_warmup_epochs: float = 10.0
    fd_epsilon: float = 0.01
    lookahead: str = "sgd"
    lookahead_lr: float | None = None
    level2_interval: int = 1

    @classmethod
    def from_config(cls, cfg: dict | None) -> MCRSettings:
        cfg = dict(cfg or {})
        kind = cfg.pop("type", "MCR")
        if str(kind).lower() != "mcr":
            raise ConfigError(f"unknown regularizer type '{kind}'; use type='MCR' or drop the regularizer block")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ConfigError(f"unknown regularizer option(s) {unknown}; allowed: {sorted(known)}")
        compmod = dict(hidden=512, depth=2, norm="bn")
        bad = sorted(set(cfg.get("compmod") or {}) - set(COMPMOD_KEYS))
        if bad:
            raise ConfigError(f"unknown regularizer.compmod option(s) {bad}; allowed: {list(COMPMOD_KEYS)}")
        compmod.update(cfg.get("compmod") or {})
        cfg["compmod"] = compmod
        settings = cls(**cfg)
        settings.validate()
        return settings

    def validate(self) -> None:
        for name in ("lambda1", "lambda2"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"regularizer.{name} must be a finite number >= 0, got {value!r}")
        choices = dict(fusion=FUSIONS, mcr_loss=MCR_LOSSES, hypergrad=ESTIMATORS, optimization=OPTIMIZATIONS,
                       lookahead=LOOKAHEADS)
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"unknown regularizer.{name} '{getattr(self, name)}'; use one of {list(allowed)}")
        positive = dict(eps_sq=self.eps_sq, fd_epsilon=self.fd_epsilon)
        for name, value in positive.items():
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"regularizer.{name} must be a positive number, got {value!r}")
        if not isinstance(self.order, int) or self.order < 1:
            raise ConfigError(f"regularizer.order must be an integer >= 1 (MEC uses 4), got {self.order!r}")
        if self.lamda_warmup_epochs < 0:
            raise ConfigError(f"regularizer.lamda_warmup_epochs must be >= 0, got {self.lamda_warmup_epochs}")
        if self.lookahead_lr is not None and (not isinstance(self.lookahead_lr, int | float) or self.lookahead_lr < 0):
            raise ConfigError(f"regularizer.lookahead_lr must be None or >= 0, got {self.lookahead_lr!r}")
        if not isinstance(self.level2_interval, int) or self.level2_interval < 1:
            raise ConfigError(f"regularizer.level2_interval must be an integer >= 1, got {self.level2_interval!r}")

    def as_dict(self) -> dict:
        """All settings, for ``encoder.json`` (``{"type": "mcr", ...}``)."""
        return {"type": "mcr", **asdict(self)}
