"""Shared / non-shared labelling from the training views."""

from __future__ import annotations

import pytest

from mcr_eval.audit.factors import destroyed_from_views, expand_destroyed, factor_roles
from mcr_train.errors import ConfigError


def test_simclr_views_destroy_colour_position_scale_and_detail():
    roles = factor_roles(destroyed_from_views("simclr_cifar"))
    non_shared = {f for f, r in roles.items() if r == "non-shared"}
    assert non_shared == {"color", "scale", "pos_x", "pos_y", "detail_present", "detail_kind", "detail_corner"}
    assert {f for f, r in roles.items() if r == "shared"} == {"shape", "texture", "background"}


def test_transform_lists_and_aliases():
    assert factor_roles(destroyed_from_views("jitter,grayscale"))["color"] == "non-shared"
    assert factor_roles(destroyed_from_views("jitter"))["pos_x"] == "shared"
    assert expand_destroyed(["handedness"]) == ["pos_x", "detail_corner"]
    assert factor_roles(destroyed_from_views("none")) == {f: "shared" for f in factor_roles([])}


def test_unknown_views_name_the_choices():
    with pytest.raises(ConfigError, match="simclr_cifar"):
        destroyed_from_views("no-such-views")
