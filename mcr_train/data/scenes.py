"""Procedural factor scenes: a pure, deterministic renderer with known generative factors.

Each single-object scene is ``render(factors, size)``; nothing is downloaded and a counterfactual is
exact: change one field of :class:`SceneFactors` and render again. Factors (see docs/contracts.md §4):

* ``shape`` (7), ``color`` (8 hues), ``texture`` (solid, stripes, dots, checker), ``scale`` (3 sizes);
* ``pos_x``, ``pos_y`` in [0, 1] (continuous object centre);
* a small detail mark in an image corner: ``detail_present``, ``detail_kind``, ``detail_corner``;
* ``background`` tone (4 grey levels).

The standard SSL views destroy some of them (colour jitter/grayscale: colour; random resized crop:
position, scale and often the corner detail; flips: left/right), which is the "non-shared" information
that MCR (Guo et al., AAAI 2024) claims to keep. Masks are hard (no anti-aliasing) so a colour change
keeps the object mask bit-identical and toggling the detail changes only pixels of the detail box.
"""

from __future__ import annotations

import colorsys
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache
from typing import Any

import numpy as np

from mcr_train.errors import DataError

SHAPES = ("circle", "square", "triangle", "diamond", "cross", "star", "hexagon")
COLORS = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "magenta")
COLOR_HUES = (0.0, 30.0, 58.0, 120.0, 180.0, 225.0, 270.0, 315.0)
TEXTURES = ("solid", "stripes", "dots", "checker")
SCALES = ("small", "medium", "large")
SCALE_RADIUS = (0.14, 0.2, 0.27)  # object radius as a fraction of the image side
DETAIL_KINDS = ("square", "plus", "ring")
CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
BACKGROUNDS = ("dark", "dim", "light", "bright")
BACKGROUND_LEVELS = (0.12, 0.32, 0.62, 0.86)

#: Categorical factors and their values; continuous factors are ``pos_x`` and ``pos_y``.
CATEGORICAL_FACTORS: dict[str, tuple] = {
    "shape": SHAPES,
    "color": COLORS,
    "texture": TEXTURES,
    "scale": SCALES,
    "detail_present": (False, True),
    "detail_kind": DETAIL_KINDS,
    "detail_corner": CORNERS,
    "background": BACKGROUNDS,
}
CONTINUOUS_FACTORS = ("pos_x", "pos_y")
FACTOR_NAMES = (
    "shape", "color", "texture", "scale", "pos_x", "pos_y",
    "detail_present", "detail_kind", "detail_corner", "background",
)
POSITION_RANGE = (0.28, 0.72)  # object centre range, as a fraction of the image side
MIN_SIZE = 16


@dataclass(frozen=True)
class ObjectSpec:
    """One object: what it is and where it is."""

    shape: str
    color: str
    texture: str
    scale: str
    pos_x: float
    pos_y: float


@dataclass(frozen=True)
class SceneFactors:
    """All factors of a single-object scene; ``render`` is a pure function of these and the size."""

    shape: str
    color: str
    texture: str
    scale: str
    pos_x: float
    pos_y: float
    detail_present: bool
    detail_kind: str
    detail_corner: str
    background: str

    def __post_init__(self) -> None:
        for name, values in CATEGORICAL_FACTORS.items():
            if getattr(self, name) not in values:
                raise DataError(f"scene factor {name}={getattr(self, name)!r} is not one of {list(values)}")
        for name in CONTINUOUS_FACTORS:
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise DataError(f"scene factor {name}={value!r} must lie in [0, 1]")

    @property
    def object(self) -> ObjectSpec:
        return ObjectSpec(self.shape, self.color, self.texture, self.scale, self.pos_x, self.pos_y)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def intervene(self, **changes: Any) -> SceneFactors:
        """The same scene with the named factors changed (a counterfactual)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise DataError(f"unknown scene factor(s) {sorted(unknown)}; factors are {list(FACTOR_NAMES)}")
        return replace(self, **changes)


@dataclass(frozen=True)
class RenderedScene:
    """Image (H, W, 3) uint8, object and detail masks (H, W) bool, and the factors that made them."""

    image: np.ndarray
    object_mask: np.ndarray
    detail_mask: np.ndarray
    factors: SceneFactors


def factor_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """Independent, reproducible random stream for sample ``index`` of ``seed`` (and a split stream)."""
    return np.random.default_rng([int(seed), int(stream), int(index)])


def sample_object(rng: np.random.Generator) -> ObjectSpec:
    return ObjectSpec(
        shape=SHAPES[rng.integers(len(SHAPES))],
        color=COLORS[rng.integers(len(COLORS))],
        texture=TEXTURES[rng.integers(len(TEXTURES))],
        scale=SCALES[rng.integers(len(SCALES))],
        pos_x=float(rng.uniform()),
        pos_y=float(rng.uniform()),
    )


def sample_factors(seed: int, index: int, stream: int = 0) -> SceneFactors:
    """Factors of sample ``index``: every factor independent and uniform over its values."""
    rng = factor_rng(seed, index, stream)
    obj = sample_object(rng)
    return SceneFactors(
        **asdict(obj),
        detail_present=bool(rng.integers(2)),
        detail_kind=DETAIL_KINDS[rng.integers(len(DETAIL_KINDS))],
        detail_corner=CORNERS[rng.integers(len(CORNERS))],
        background=BACKGROUNDS[rng.integers(len(BACKGROUNDS))],
    )


def color_rgb(color: str) -> np.ndarray:
    hue = COLOR_HUES[COLORS.index(color)]
    return np.array(colorsys.hsv_to_rgb(hue / 360.0, 0.85, 0.95), dtype=np.float32)


def background_rgb(background: str) -> np.ndarray:
    level = BACKGROUND_LEVELS[BACKGROUNDS.index(background)]
    return np.full(3, level, dtype=np.float32)


@lru_cache(maxsize=16)
def _pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [0, 1]; x varies along columns, y along rows. Cached read-only."""
    centers = (np.arange(size, dtype=np.float32) + 0.5) / size
    xs, ys = np.meshgrid(centers, centers)
    xs.flags.writeable = False
    ys.flags.writeable = False
    return xs, ys


def object_geometry(obj: ObjectSpec, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hard mask of the object and its local coordinates (u, v) in units of its radius."""
    xs, ys = _pixel_grid(size)
    lo, hi = POSITION_RANGE
    cx, cy = lo + (hi - lo) * obj.pos_x, lo + (hi - lo) * obj.pos_y
    radius = SCALE_RADIUS[SCALES.index(obj.scale)]
    u, v = (xs - cx) / radius, (ys - cy) / radius
    return _shape_mask(obj.shape, u, v), u, v


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    au, av = np.abs(u), np.abs(v)
    if shape == "circle":
        return u**2 + v**2 <= 1.0
    if shape == "square":
        return np.maximum(au, av) <= 0.82
    if shape == "triangle":  # apex up (image y grows downwards)
        return (v <= 0.75) & (au <= (v + 1.0) * 0.6)
    if shape == "diamond":
        return au + av <= 1.0
    if shape == "cross":
        return ((au <= 0.32) & (av <= 0.95)) | ((av <= 0.32) & (au <= 0.95))
    if shape == "star":
        radius, angle = np.sqrt(u**2 + v**2), np.arctan2(v, u)
        return radius <= 0.62 + 0.36 * np.cos(5.0 * angle + np.pi / 2)
    if shape == "hexagon":
        return np.maximum(au * 0.866 + av * 0.5, av) <= 0.88
    raise DataError(f"unknown shape {shape!r}; shapes are {list(SHAPES)}")


def _texture_pattern(texture: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """True where the texture uses the darker shade of the object colour."""
    period = 0.45
    if texture == "solid":
        return np.zeros_like(u, dtype=bool)
    if texture == "stripes":
        return np.floor((u + v) / period).astype(np.int64) % 2 == 1
    if texture == "checker":
        return (np.floor(u / period).astype(np.int64) + np.floor(v / period).astype(np.int64)) % 2 == 1
    if texture == "dots":
        du = u / period - np.round(u / period)
        dv = v / period - np.round(v / period)
        return du**2 + dv**2 <= 0.3**2
    raise DataError(f"unknown texture {texture!r}; textures are {list(TEXTURES)}")


def paint_object(canvas: np.ndarray, obj: ObjectSpec) -> np.ndarray:
    """Paint ``obj`` onto the float canvas in place; return its (unoccluded) mask."""
    mask, u, v = object_geometry(obj, canvas.shape[0])
    base = color_rgb(obj.color)
    dark = _texture_pattern(obj.texture, u, v) & mask
    canvas[mask] = base
    canvas[dark] = base * 0.5
    return mask


def detail_box(corner: str, size: int) -> tuple[int, int, int, int]:
    """Pixel box (top, left, bottom, right), exclusive, of the detail mark in ``corner``."""
    side = max(4, round(size * 0.16))
    margin = max(1, round(size * 0.05))
    top = margin if corner.startswith("top") else size - margin - side
    left = margin if corner.endswith("left") else size - margin - side
    return top, left, top + side, left + side


def detail_mask(kind: str, corner: str, size: int) -> np.ndarray:
    top, left, bottom, right = detail_box(corner, size)
    side = bottom - top
    c = (np.arange(side) + 0.5) / side * 2.0 - 1.0  # [-1, 1] across the box
    uu, vv = np.meshgrid(c, c)
    if kind == "square":
        local = np.ones((side, side), dtype=bool)
    elif kind == "plus":
        local = (np.abs(uu) <= 0.3) | (np.abs(vv) <= 0.3)
    elif kind == "ring":
        local = np.maximum(np.abs(uu), np.abs(vv)) >= 0.5
    else:
        raise DataError(f"unknown detail kind {kind!r}; kinds are {list(DETAIL_KINDS)}")
    mask = np.zeros((size, size), dtype=bool)
    mask[top:bottom, left:right] = local
    return mask


def detail_rgb(background: str) -> np.ndarray:
    """White on dark backgrounds, black on light ones, so the mark is always visible."""
    level = BACKGROUND_LEVELS[BACKGROUNDS.index(background)]
    return np.full(3, 1.0 if level < 0.5 else 0.0, dtype=np.float32)


def to_uint8(canvas: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(canvas * 255.0), 0, 255).astype(np.uint8)


def check_size(size: int) -> int:
    if not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
        raise DataError(f"scene size must be an integer of at least {MIN_SIZE} pixels, got {size!r}")
    return int(size)


def render(factors: SceneFactors, size: int = 32) -> RenderedScene:
    """Render a single-object scene. Pure: identical factors and size give identical bytes."""
    size = check_size(size)
    canvas = np.empty((size, size, 3), dtype=np.float32)
    canvas[:] = background_rgb(factors.background)
    object_mask = paint_object(canvas, factors.object)
    if factors.detail_present:
        mark = detail_mask(factors.detail_kind, factors.detail_corner, size)
        canvas[mark] = detail_rgb(factors.background)
    else:
        mark = np.zeros((size, size), dtype=bool)
    return RenderedScene(to_uint8(canvas), object_mask, mark, factors)


def detail_region(factors: SceneFactors, size: int) -> np.ndarray:
    """Pixels the detail factors own: the whole detail box of the factors' corner."""
    top, left, bottom, right = detail_box(factors.detail_corner, size)
    region = np.zeros((size, size), dtype=bool)
    region[top:bottom, left:right] = True
    return region
