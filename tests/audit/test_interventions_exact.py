"""Counterfactuals are exact: only the intervened factor's pixels change (a test on the renderer)."""

from __future__ import annotations

import numpy as np
import pytest

from mcr_eval.audit.interventions import factor_pixels, intervene
from mcr_train.data.scenes import FACTOR_NAMES, render, sample_factors


@pytest.mark.parametrize("name", FACTOR_NAMES)
def test_counterfactual_differs_only_in_the_factor_pixels(name):
    rng = np.random.default_rng(0)
    changed = 0
    for i in range(40):
        original = sample_factors(3, i, stream=1)
        if name in ("detail_kind", "detail_corner"):
            original = original.intervene(detail_present=True)
        counterfactual = intervene(original, name, rng)
        assert {k for k, v in original.as_dict().items() if counterfactual.as_dict()[k] != v} == {name}
        a, b = render(original, 32), render(counterfactual, 32)
        diff = (a.image != b.image).any(2)
        assert not (diff & ~factor_pixels(name, a, b)).any(), f"{name}: pixels changed outside the factor"
        changed += bool(diff.any())
    assert changed >= 35, f"{name}: the intervention changed the image in only {changed}/40 scenes"


def test_colour_and_background_changes_are_pixel_disjoint():
    f = sample_factors(0, 5, stream=1)
    base = render(f, 32)
    recolour = render(f.intervene(color="blue" if f.color != "blue" else "red"), 32)
    np.testing.assert_array_equal(base.object_mask, recolour.object_mask)
    assert ((base.image != recolour.image).any(2) == (base.object_mask & ~base.detail_mask)).all()
