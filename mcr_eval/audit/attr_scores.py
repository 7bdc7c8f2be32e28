"""Quantitative scores of attribution maps, where ground truth exists and where it does not.

* ``mass_in.<mask>``: fraction of the positive per-pixel attribution inside the mask (NaN without
  positive mass);
* ``pointing.<mask>``: pointing game (Zhang et al., 2018): 1 if the pixel of maximal attribution lies in the
  mask dilated by ``tolerance`` pixels;
* ``deletion_auc`` / ``insertion_auc`` (Petsiuk et al., 2018, RISE): pixels are removed from the image
  (replaced by the baseline) or inserted into the baseline in order of decreasing attribution, in
  ``steps`` equal chunks; the AUC is the mean of the target scalar over the curve (trapezoid rule on
  [0, 1]). Lower deletion and higher insertion AUC are better; ``*_random`` is the same with a random
  pixel order (seeded), the reference a map must beat;
* ``infidelity`` (Yeh et al., 2019; ``captum.metrics.infidelity``) under Gaussian input noise
  (std ``noise``), and ``sensitivity_max`` (``captum.metrics.sensitivity_max``, radius ``radius``).

Every score takes ``batch_size``, the most images one forward pass may carry (curve steps and
perturbations are batched across examples up to it), so memory does not grow with the number of
examples; ``None`` runs everything in one pass.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from inspect import signature

import numpy as np
import torch
import torch.nn.functional as F
from captum.metrics import infidelity, sensitivity_max

from mcr_eval.audit.attr_batching import spans
from mcr_eval.audit.targets import ScalarTarget


def mass_in_mask(pixel_map: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N,) fraction of positive attribution inside ``mask`` (N, H, W); NaN where nothing is positive."""
    positive = pixel_map.clamp_min(0.0).flatten(1)
    total = positive.sum(1)
    inside = (positive * mask.flatten(1).to(positive.dtype)).sum(1)
    return torch.where(total > 0, inside / total.clamp_min(1e-30), torch.full_like(total, float("nan")))


def pointing_game(pixel_map: torch.Tensor, mask: torch.Tensor, tolerance: int = 0) -> torch.Tensor:
    """(N,) 1.0 where the maximal-attribution pixel hits ``mask`` dilated by ``tolerance`` pixels."""
    region = mask.to(torch.float32)[:, None]
    if tolerance > 0:
        region = F.max_pool2d(region, 2 * tolerance + 1, stride=1, padding=tolerance)
    best = pixel_map.flatten(1).argmax(1)
    return region.flatten(1).gather(1, best[:, None]).squeeze(1).clamp(0, 1)


@torch.no_grad()
def _curve(target: ScalarTarget, pixels: torch.Tensor, aux: torch.Tensor, baselines: torch.Tensor,
           order: torch.Tensor, steps: int, insert: bool, batch_size: int | None = None) -> torch.Tensor:
    """AUC of one deletion or insertion curve per example; the ``(steps + 1) x N`` images of the curves go
    through the model in passes of at most ``batch_size`` (all at once when None)."""
    n, c, h, w = pixels.shape
    baselines = baselines.expand_as(pixels)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(h * w).expand(n, -1).contiguous())
    kept = torch.tensor([round(k * h * w / steps) for k in range(steps + 1)])
    values = torch.empty((steps + 1) * n)
    for start, stop in spans(len(values), batch_size or len(values)):
        flat = torch.arange(start, stop)
        step, example = flat // n, flat % n  # step-major: image (k, j) is curve j at step k
        chosen = (ranks[example] < kept[step, None]).view(-1, 1, h, w)
        shown, hidden = (pixels[example], baselines[example]) if insert else (baselines[example], pixels[example])
        values[start:stop] = target(torch.where(chosen, shown, hidden), aux[example]).float()
    curve = values.view(steps + 1, n).T  # (N, steps + 1)
    return ((curve[:, 1:] + curve[:, :-1]) / 2).mean(1)


def deletion_insertion(target: ScalarTarget, pixels: torch.Tensor, aux: torch.Tensor, baselines: torch.Tensor,
                       pixel_map: torch.Tensor, steps: int = 16, seed: int = 0,
                       batch_size: int | None = None) -> dict[str, torch.Tensor]:
    """Per-example deletion/insertion AUCs for the map's order and for a random order."""
    order = pixel_map.flatten(1).argsort(1, descending=True)
    generator = torch.Generator().manual_seed(seed)
    random_order = torch.stack([torch.randperm(order.shape[1], generator=generator) for _ in range(len(order))])
    out = {}
    for name, ordering in (("", order), ("_random", random_order)):
        out[f"deletion_auc{name}"] = _curve(target, pixels, aux, baselines, ordering, steps, False, batch_size)
        out[f"insertion_auc{name}"] = _curve(target, pixels, aux, baselines, ordering, steps, True, batch_size)
    return out


def gaussian_perturbation(noise: float) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Captum infidelity perturbation: returns (perturbation I, perturbed input x - I)."""

    def perturb(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        delta = torch.randn_like(inputs) * noise
        return delta, inputs - delta

    return perturb


def _per_example(tensor: torch.Tensor, n: int, start: int, stop: int) -> torch.Tensor:
    return tensor[start:stop] if tensor.shape[0] == n and n > 1 else tensor


def infidelity_score(target: ScalarTarget, pixels: torch.Tensor, aux: torch.Tensor, values: torch.Tensor,
                     noise: float = 0.05, samples: int = 8, seed: int = 0,
                     batch_size: int | None = None) -> torch.Tensor:
    """Captum ``infidelity`` per example, over chunks of examples whose ``samples`` perturbed copies number at
    most ``batch_size`` (``max_examples_per_batch``). Chunks draw their noise one after the other from the
    one seeded stream, example-major as a single call does, so chunking does not change the draws."""
    torch.manual_seed(seed)
    n = len(pixels)
    per_chunk = n if batch_size is None else max(1, batch_size // samples)
    scores = []
    for start, stop in spans(n, per_chunk):
        scores.append(infidelity(target, gaussian_perturbation(noise), pixels[start:stop], values[start:stop],
                                 additional_forward_args=(aux[start:stop],), n_perturb_samples=samples,
                                 max_examples_per_batch=(stop - start) * samples).detach())
    return torch.cat(scores)


def sensitivity_score(explain: Callable[..., torch.Tensor], pixels: torch.Tensor, aux: torch.Tensor,
                      baselines: torch.Tensor, radius: float = 0.02, samples: int = 4, seed: int = 0,
                      batch_size: int | None = None) -> torch.Tensor:
    """``sensitivity_max`` of ``explain(inputs, baselines=..., additional_forward_args=...)``, over chunks of
    examples as :func:`infidelity_score` (same draws as one call). ``explain`` may take a keyword ``chunk``,
    the ``(start, stop)`` of the examples it is called for (for per-example seeds and cached maps)."""
    torch.manual_seed(seed)
    n = len(pixels)
    per_chunk = n if batch_size is None else max(1, batch_size // samples)
    takes_chunk = "chunk" in signature(explain).parameters
    scores = []
    for start, stop in spans(n, per_chunk):
        func = partial(explain, chunk=(start, stop)) if takes_chunk else explain
        scores.append(sensitivity_max(func, pixels[start:stop], perturb_radius=radius, n_perturb_samples=samples,
                                      max_examples_per_batch=(stop - start) * samples,
                                      baselines=_per_example(baselines, n, start, stop),
                                      additional_forward_args=(aux[start:stop],)).detach())
    return torch.cat(scores)


def summarize(values: dict[str, torch.Tensor]) -> dict[str, float]:
    """Mean over examples (NaNs ignored) of every per-example score."""
    out = {}
    for name, v in values.items():
        arr = v.detach().double().cpu().numpy()
        finite = arr[np.isfinite(arr)]
        out[name] = float(finite.mean()) if finite.size else float("nan")
    return out
