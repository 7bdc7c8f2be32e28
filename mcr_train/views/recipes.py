"""Published two-view augmentation recipes, one :class:`ViewSpec` per view.

Sources (ImageNet settings; the ``_cifar`` variants drop Gaussian blur, as in solo-learn's CIFAR
recipes, because blur destroys most of a 32 px image):

* SimCLR (Chen et al., 2020, appendix A): crop scale (0.08, 1), flip, jitter (0.8, 0.8, 0.8, 0.2) with
  p=0.8, grayscale p=0.2, blur p=0.5.
* MoCo v2 (Chen et al., 2020b): crop scale (0.2, 1), jitter (0.4, 0.4, 0.4, 0.1) p=0.8, grayscale 0.2,
  blur p=0.5, flip.
* SimSiam (Chen & He, 2021): the MoCo v2 recipe.
* BYOL (Grill et al., 2020, table 6): asymmetric; jitter (0.4, 0.4, 0.2, 0.1) p=0.8, grayscale 0.2,
  blur p=1.0 / 0.1, solarize p=0.0 / 0.2.
* Barlow Twins (Zbontar et al., 2021) and VICReg (Bardes et al., 2022): the BYOL recipe.
* MEC (Liu et al., 2022, official code): the BYOL recipe with crop scale (0.2, 1) (MoCo v3 style).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ViewSpec:
    """Parameters of one augmented view (probabilities are per image)."""

    min_scale: float = 0.08
    max_scale: float = 1.0
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.2, 0.1)
    jitter_p: float = 0.8
    gray_p: float = 0.2
    blur_p: float = 0.0
    solarize_p: float = 0.0
    flip_p: float = 0.5


_SIMCLR = ViewSpec(min_scale=0.08, jitter=(0.8, 0.8, 0.8, 0.2), blur_p=0.5)
_MOCOV2 = ViewSpec(min_scale=0.2, jitter=(0.4, 0.4, 0.4, 0.1), blur_p=0.5)
_BYOL_1 = ViewSpec(min_scale=0.08, jitter=(0.4, 0.4, 0.2, 0.1), blur_p=1.0, solarize_p=0.0)
_BYOL_2 = replace(_BYOL_1, blur_p=0.1, solarize_p=0.2)
_MEC_1, _MEC_2 = replace(_BYOL_1, min_scale=0.2), replace(_BYOL_2, min_scale=0.2)

_IMAGENET_RECIPES: dict[str, tuple[ViewSpec, ViewSpec]] = {
    "simclr": (_SIMCLR, _SIMCLR),
    "mocov2": (_MOCOV2, _MOCOV2),
    "simsiam": (_MOCOV2, _MOCOV2),
    "byol": (_BYOL_1, _BYOL_2),
    "barlowtwins": (_BYOL_1, _BYOL_2),
    "vicreg": (_BYOL_1, _BYOL_2),
    "mec": (_MEC_1, _MEC_2),
}


def _no_blur(pair: tuple[ViewSpec, ViewSpec]) -> tuple[ViewSpec, ViewSpec]:
    return replace(pair[0], blur_p=0.0), replace(pair[1], blur_p=0.0)


# Augmentation ablations (the analog of the paper's Table 4): each drops part of a recipe, keeping the rest.
_ABLATIONS = {
    "no_jitter": dict(jitter_p=0.0),
    "no_color": dict(jitter_p=0.0, gray_p=0.0, solarize_p=0.0),
    "crop_only": dict(jitter_p=0.0, gray_p=0.0, solarize_p=0.0, blur_p=0.0),
    "no_crop": dict(min_scale=1.0),
}

_BASE_RECIPES: dict[str, tuple[ViewSpec, ViewSpec]] = {
    **_IMAGENET_RECIPES,
    **{f"{name}_cifar": _no_blur(pair) for name, pair in _IMAGENET_RECIPES.items()},
}

VIEW_RECIPES: dict[str, tuple[ViewSpec, ViewSpec]] = {
    **_BASE_RECIPES,
    **{f"{name}-{cut}": (replace(pair[0], **change), replace(pair[1], **change))
       for name, pair in _BASE_RECIPES.items() for cut, change in _ABLATIONS.items()},
}
