"""Attribute one encoder's scalar target on a data set and score the maps (records task 'attribution')."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import torch

from mcr_eval.audit.attr_data import AttributionData
from mcr_eval.audit.attr_scores import (
    deletion_insertion,
    infidelity_score,
    mass_in_mask,
    pointing_game,
    sensitivity_score,
    summarize,
)
from mcr_eval.audit.attribution import Attribution, AttributionConfig, attribute, make_baseline
from mcr_eval.audit.probes import RidgeBasis
from mcr_eval.audit.scene_inputs import PixelSpaceEncoder, encode
from mcr_eval.audit.targets import ScalarTarget, principal_direction, probe_head, view_references
from mcr_eval.records import make_record, run_fields
from mcr_train.errors import ConfigError


def build_target(encoder: PixelSpaceEncoder, kind: str, data: AttributionData) -> tuple[ScalarTarget, torch.Tensor]:
    """The scalar target and its per-example ``aux`` (reference embedding, class index or direction)."""
    if kind == "view-similarity":
        return ScalarTarget(encoder, kind), view_references(encoder, data.pixels)
    if kind == "probe-logit":
        if data.labels is None or data.fit_pixels is None or data.num_classes is None:
            raise ConfigError(f"--target probe-logit needs labelled images, and '{data.name}' has none; use "
                              "--data scenes (with --factor) or a labelled data set, or --target view-similarity")
        probe = RidgeBasis(encode(encoder, data.fit_pixels)).fit(data.fit_labels, data.num_classes)
        aux = torch.as_tensor(data.labels, dtype=torch.int64)
        return ScalarTarget(encoder, kind, probe_head(probe)), aux
    if kind == "direction":
        source = data.fit_pixels if data.fit_pixels is not None else data.pixels
        direction = principal_direction(encode(encoder, source))
        return ScalarTarget(encoder, kind), direction.expand(len(data.pixels), -1).contiguous()
    return ScalarTarget(encoder, kind), torch.empty(0)  # raises in ScalarTarget for unknown kinds


def explain_function(target: ScalarTarget, config: AttributionConfig):
    """``explain(inputs, baselines, additional_forward_args)`` for ``sensitivity_max``."""

    def explain(inputs, baselines, additional_forward_args: tuple) -> tuple[torch.Tensor]:
        inputs = inputs[0] if isinstance(inputs, tuple) else inputs  # Captum passes and expects tuples
        baselines = baselines[0] if isinstance(baselines, tuple) else baselines
        return (attribute(target, inputs, additional_forward_args[0], baselines, config).values,)

    return explain


def score_attribution(target: ScalarTarget, data: AttributionData, aux: torch.Tensor, baselines: torch.Tensor,
                      result: Attribution, config: AttributionConfig, robustness: bool = True,
                      steps: int = 16) -> dict[str, float]:
    """Mean scores over the examples (see :mod:`.attr_scores`)."""
    pixel_map = result.pixel_map
    per_example: dict[str, torch.Tensor] = {}
    for name, mask in data.masks.items():
        valid = data.mask_valid.get(name, torch.ones(len(mask), dtype=torch.bool))
        nan = torch.full((len(mask),), float("nan"))
        per_example[f"mass_in.{name}"] = torch.where(valid, mass_in_mask(pixel_map, mask), nan)
        per_example[f"pointing.{name}"] = torch.where(valid, pointing_game(pixel_map, mask), nan)
        per_example[f"area.{name}"] = torch.where(valid, mask.flatten(1).double().mean(1), nan)
    per_example.update(deletion_insertion(target, data.pixels, aux, baselines, pixel_map, steps=steps))
    if result.delta is not None:
        per_example["ig_abs_delta"] = result.delta.abs()
    if robustness:
        per_example["infidelity"] = infidelity_score(target, data.pixels, aux, result.values)
        per_example["sensitivity_max"] = sensitivity_score(explain_function(target, config), data.pixels, aux,
                                                           baselines)
    return summarize(per_example)


def run_attribution(encoder: PixelSpaceEncoder, data: AttributionData, target_kind: str,
                    config: AttributionConfig, mean_rgb: list[float] | None = None,
                    robustness: bool = True) -> tuple[Attribution, dict[str, float]]:
    target, aux = build_target(encoder, target_kind, data)
    baselines = make_baseline(data.pixels, config.baseline, mean_rgb)
    result = attribute(target, data.pixels, aux, baselines, config)
    return result, score_attribution(target, data, aux, baselines, result, config, robustness)


def attribution_records(meta: Mapping[str, Any], scores: Mapping[str, float], data: AttributionData,
                        target_kind: str, config: AttributionConfig) -> list[dict[str, Any]]:
    run = run_fields(meta)
    protocol = {"target": target_kind, **asdict(config), "input": "pixel space [0, 1], encoder normalization",
                "label": data.label_name, "bn": "eval"}
    return [make_record(run, "attribution", data.name, "test", protocol, metric, value, len(data.pixels))
            for metric, value in scores.items()]
