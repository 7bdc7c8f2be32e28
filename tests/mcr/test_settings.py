"""Bad MCR settings fail at build time with a one-line ConfigError that names the fix."""

from __future__ import annotations

import pytest
import torch

from mcr_train.errors import ConfigError
from mcr_train.mcr import MCRSettings, regularized_model_class, wrap_with_regularizer
from mcr_train.methods import SimCLR
from tests.mcr.conftest import tiny_method


@pytest.mark.parametrize("block, words", [
    (dict(fusion="pixels"), "fusion"),
    (dict(hypergrad="neumann"), "hypergrad"),
    (dict(mcr_loss="kl"), "mcr_loss"),
    (dict(optimization="alternating"), "optimization"),
    (dict(lambda1=-1.0), "lambda1"),
    (dict(lambda2=-0.5), "lambda2"),
    (dict(lambda1=float("nan")), "lambda1"),
    (dict(compmod=dict(depth=0)), "depth"),
    (dict(compmod=dict(width=3)), "compmod"),
    (dict(lambda_1=1.0), "unknown regularizer option"),
    (dict(type="L2"), "unknown regularizer type"),
    (dict(level2_interval=0), "level2_interval"),
])
def test_bad_settings_raise_one_line_config_errors(block, words):
    with pytest.raises(ConfigError) as info:
        wrap_with_regularizer(tiny_method("simclr", dtype=torch.float32), {"type": "MCR", **block})
    message = str(info.value)
    assert words in message and "\n" not in message


def test_a_fusion_dim_that_does_not_fit_the_backbone():
    # ResNet-18 at width 2 has 16 features: concat(h1, h2) has 32, concat(z1, z2) 8.
    with pytest.raises(ConfigError, match="in_dim=64 does not fit the backbone.*set in_dim=32"):
        wrap_with_regularizer(tiny_method("simclr"), dict(type="MCR", compmod=dict(in_dim=64)))
    model = wrap_with_regularizer(tiny_method("simclr"), dict(type="MCR", fusion="embedding", compmod=dict(in_dim=8)))
    assert model.compmod.in_dim == 8
    with pytest.raises(ConfigError, match="out_dim"):
        wrap_with_regularizer(tiny_method("simclr"), dict(type="MCR", compmod=dict(out_dim=5)))


def test_defaults_follow_the_design_and_none_means_no_wrapper():
    s = MCRSettings.from_config(dict(type="MCR"))
    assert (s.lambda1, s.lambda2, s.fusion) == (1.0, 1.0, "representation")
    assert (s.mcr_loss, s.hypergrad) == ("mec_cross", "exact")
    assert (s.eps_sq, s.order, s.optimization) == (64.0, 4, "bilevel")
    method = tiny_method("simclr")
    assert wrap_with_regularizer(method, None) is method
    assert wrap_with_regularizer(method, dict(type="none")) is method
    assert regularized_model_class(SimCLR, None) is SimCLR


def test_regularized_model_class_builds_from_method_kwargs_and_validates_early():
    with pytest.raises(ConfigError, match="hypergrad"):
        regularized_model_class(SimCLR, dict(type="MCR", hypergrad="magic"))
    cls = regularized_model_class(SimCLR, dict(type="MCR", compmod=dict(hidden=4)))
    model = cls(backbone=dict(arch="resnet18", stem="cifar", width=2), projector=dict(hidden_dim=8, out_dim=4))
    assert model.method.embed_dim == 4 and model.compmod.in_dim == 32
    with pytest.raises(ConfigError, match="bad model options"):
        cls(backbone=dict(arch="resnet18", stem="cifar", width=2), colour=3)
