"""Attribute one encoder's scalar target on a data set and score the maps (records task 'attribution')."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

import torch

from mcr_eval.audit.attr_batching import encoder_batch_size, frozen, no_grad_batch_size
from mcr_eval.audit.attr_data import AttributionData
from mcr_eval.audit.attr_scores import (
    deletion_insertion,
    infidelity_score,
    mass_in_mask,
    pointing_game,
    sensitivity_score,
    summarize,
)
from mcr_eval.audit.attribution import Attribution, AttributionConfig, attribute, batch_size_for, make_baseline
from mcr_eval.audit.probes import RidgeBasis
from mcr_eval.audit.scene_inputs import PixelSpaceEncoder, encode
from mcr_eval.audit.targets import ScalarTarget, flip_view, principal_direction, probe_head
from mcr_eval.records import make_record, run_fields
from mcr_train.errors import ConfigError


def build_target(encoder: PixelSpaceEncoder, kind: str, data: AttributionData,
                 batch_size: int = 256) -> tuple[ScalarTarget, torch.Tensor]:
    """The scalar target and its per-example ``aux`` (reference embedding, class index or direction);
    ``batch_size`` bounds the no-gradient encoding passes."""
    if kind == "view-similarity":
        references = encode(encoder, flip_view(data.pixels), batch_size=batch_size)
        return ScalarTarget(encoder, kind), torch.from_numpy(references).float()
    if kind == "probe-logit":
        if data.labels is None or data.fit_pixels is None or data.num_classes is None:
            raise ConfigError(f"--target probe-logit needs labelled images, and '{data.name}' has none; use "
                              "--data scenes (with --factor) or a labelled data set, or --target view-similarity")
        probe = RidgeBasis(encode(encoder, data.fit_pixels, batch_size=batch_size)).fit(data.fit_labels,
                                                                                       data.num_classes)
        aux = torch.as_tensor(data.labels, dtype=torch.int64)
        return ScalarTarget(encoder, kind, probe_head(probe)), aux
    if kind == "direction":
        source = data.fit_pixels if data.fit_pixels is not None else data.pixels
        direction = principal_direction(encode(encoder, source, batch_size=batch_size))
        return ScalarTarget(encoder, kind), direction.expand(len(data.pixels), -1).contiguous()
    return ScalarTarget(encoder, kind), torch.empty(0)  # raises in ScalarTarget for unknown kinds


def explain_function(target: ScalarTarget, config: AttributionConfig, pixels: torch.Tensor | None = None,
                     result: Attribution | None = None, references: torch.Tensor | None = None):
    """``explain(inputs, baselines, additional_forward_args, chunk=None)`` for ``sensitivity_max``.

    ``chunk=(start, stop)`` says which examples of ``pixels`` the call covers. ``sensitivity_max`` first
    explains the unperturbed chunk: that map is the one already computed (``result``), so it is returned
    instead of computed again. Perturbed copy ``k`` of the chunk belongs to example
    ``start + k // copies``; random methods draw with that example's seed, so a perturbed map differs from
    its original by the perturbation only (common random numbers), not by fresh Monte Carlo noise.
    GradientShap keeps drawing its baselines from all of ``references``, as the original map did."""

    def explain(inputs, baselines, additional_forward_args: tuple,
                chunk: tuple[int, int] | None = None) -> tuple[torch.Tensor]:
        inputs = inputs[0] if isinstance(inputs, tuple) else inputs  # Captum passes and expects tuples
        baselines = baselines[0] if isinstance(baselines, tuple) else baselines
        start, stop = chunk or (0, len(inputs))
        if pixels is not None and result is not None and stop <= len(pixels) and len(inputs) == stop - start \
                and torch.equal(inputs, pixels[start:stop]):
            return (result.values[start:stop],)
        copies = max(1, len(inputs) // max(1, stop - start))
        ids = [start + k // copies for k in range(len(inputs))]
        if config.method == "gradshap" and references is not None:
            baselines = references
        return (attribute(target, inputs, additional_forward_args[0], baselines, config, with_delta=False,
                          example_ids=ids).values,)

    return explain


def score_attribution(target: ScalarTarget, data: AttributionData, aux: torch.Tensor, baselines: torch.Tensor,
                      result: Attribution, config: AttributionConfig, robustness: bool = True,
                      steps: int = 16) -> dict[str, float]:
    """Mean scores over the examples (see :mod:`.attr_scores`); passes carry at most the images that
    ``config.internal_batch_size`` (measured when None) allows."""
    batch = batch_size_for(target, data.pixels, aux, config)
    config = replace(config, internal_batch_size=batch)
    no_grad_batch = no_grad_batch_size(batch)
    pixel_map = result.pixel_map
    per_example: dict[str, torch.Tensor] = {}
    for name, mask in data.masks.items():
        valid = data.mask_valid.get(name, torch.ones(len(mask), dtype=torch.bool))
        nan = torch.full((len(mask),), float("nan"))
        per_example[f"mass_in.{name}"] = torch.where(valid, mass_in_mask(pixel_map, mask), nan)
        per_example[f"pointing.{name}"] = torch.where(valid, pointing_game(pixel_map, mask), nan)
        per_example[f"area.{name}"] = torch.where(valid, mask.flatten(1).double().mean(1), nan)
    with frozen(target):
        per_example.update(deletion_insertion(target, data.pixels, aux, baselines, pixel_map, steps=steps,
                                              batch_size=no_grad_batch))
        if result.delta is not None:
            per_example["ig_abs_delta"] = result.delta.abs()
        if robustness:
            per_example["infidelity"] = infidelity_score(target, data.pixels, aux, result.values,
                                                         batch_size=no_grad_batch)
            per_example["sensitivity_max"] = sensitivity_score(
                explain_function(target, config, data.pixels, result, baselines), data.pixels, aux, baselines,
                batch_size=no_grad_batch)
    return summarize(per_example)


def run_attribution(encoder: PixelSpaceEncoder, data: AttributionData, target_kind: str,
                    config: AttributionConfig, mean_rgb: list[float] | None = None,
                    robustness: bool = True) -> tuple[Attribution, dict[str, float]]:
    """Maps and scores; ``config`` goes unchanged into the records (its batch size never changes a value)."""
    batch = config.internal_batch_size or encoder_batch_size(encoder, data.pixels)
    target, aux = build_target(encoder, target_kind, data, batch_size=no_grad_batch_size(batch))
    baselines = make_baseline(data.pixels, config.baseline, mean_rgb)
    working = replace(config, internal_batch_size=batch)
    result = attribute(target, data.pixels, aux, baselines, working)
    return result, score_attribution(target, data, aux, baselines, result, working, robustness)


def attribution_records(meta: Mapping[str, Any], scores: Mapping[str, float], data: AttributionData,
                        target_kind: str, config: AttributionConfig) -> list[dict[str, Any]]:
    run = run_fields(meta)
    # The batch size bounds memory and never changes a value: records of any batch size share one protocol
    protocol = {"target": target_kind, **asdict(config), "internal_batch_size": None,
                "input": "pixel space [0, 1], encoder normalization", "label": data.label_name, "bn": "eval"}
    return [make_record(run, "attribution", data.name, "test", protocol, metric, value, len(data.pixels))
            for metric, value in scores.items()]
