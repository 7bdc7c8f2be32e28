"""Transformation counterfactuals on real images and their invariance scores.

Each transformation changes one nameable property of a real image (pixel space, [0, 1]):

* ``hue_shift``: hue rotated by 90 degrees (``adjust_hue(x, 0.25)``);
* ``grayscale``: ITU-R 601 luma copied to the three channels;
* ``crop_out``: a square of half the side, at a seeded random position, filled with the image's mean colour;
* ``rotation``: rotated by 90 degrees (exact, no interpolation);
* ``blur``: Gaussian blur with sigma = side / 16 (kernel about 4 sigma, odd).

invariance_T = 1 - mean ||z(x) - z(T x)|| / mean ||z(x_i) - z(x_j)||, with z the l2-normalized features
and (i, j) random distinct pairs: 1 means the representation ignores the change, 0 that it moves as much as
between two different images (negative: more). NaN when the features do not vary across images.

A transformation that moves no pixel of any image by half an 8-bit grey level is not scored: on grayscale data
(Fashion-MNIST) the hue shift is the identity and the grayscale transform rescales by the luma weights' sum
(0.9999), so their "invariance" would be 1 by construction and a difference in it would measure nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from mcr_eval.audit.interventions import l2_normalize, random_pair_distance

Transform = Callable[[torch.Tensor, np.random.Generator], torch.Tensor]


def hue_shift(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    return TF.adjust_hue(x, 0.25)


def grayscale(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    return TF.rgb_to_grayscale(x, num_output_channels=3)


def crop_out(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    out = x.clone()
    size = x.shape[-1]
    side = max(1, size // 2)
    for i in range(len(x)):
        top, left = (int(v) for v in rng.integers(0, size - side + 1, size=2))
        out[i, :, top:top + side, left:left + side] = x[i].mean((1, 2), keepdim=True)
    return out


def rotation(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    return torch.rot90(x, 1, dims=(2, 3))


def blur(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    sigma = max(x.shape[-1] / 16.0, 0.5)
    kernel = int(2 * round(2 * sigma) + 1)
    return TF.gaussian_blur(x, [kernel, kernel], [sigma, sigma])


TRANSFORMS: dict[str, Transform] = {
    "hue_shift": hue_shift, "grayscale": grayscale, "crop_out": crop_out, "rotation": rotation, "blur": blur,
}


# Half of one step of an 8-bit image: a smaller change is below what the stored images can show.
VISIBLE_CHANGE = 0.5 / 255


def changes_pixels(before: torch.Tensor, after: torch.Tensor) -> bool:
    """Whether a transformation moved some pixel of some image by at least half an 8-bit grey level."""
    return bool((after - before).abs().max() >= VISIBLE_CHANGE)


def invariance_scores(pixels: torch.Tensor, featurize: Callable[[torch.Tensor], np.ndarray],
                      seed: int = 0, names: tuple[str, ...] = tuple(TRANSFORMS)) -> dict[str, float]:
    """``transform -> invariance`` for the encoder behind ``featurize`` on pixel-space images (N >= 2); the
    transformations that change no pixel visibly on these images (see the module docstring) are left out."""
    rng = np.random.default_rng(seed)
    base = featurize(pixels)
    typical = random_pair_distance(base, rng)
    z = l2_normalize(base)
    out = {}
    for name in names:  # one generator, drawn in this order, so a score does not depend on which are skipped
        moved_pixels = TRANSFORMS[name](pixels, rng).clamp(0.0, 1.0)
        if not changes_pixels(pixels, moved_pixels):
            continue
        if typical < 1e-9:  # constant features: nothing to compare against
            out[name] = float("nan")
            continue
        moved = l2_normalize(featurize(moved_pixels))
        out[name] = float(1.0 - np.linalg.norm(z - moved, axis=1).mean() / typical)
    return out
