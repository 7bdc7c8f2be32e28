"""Ground-truth factor datasets read by path (dSprites, 3D Shapes): factor tables, roles, splits, stats.

Each factor has a kind (``discrete``: categories; ``continuous``: an ordered grid of values), its official
grid of values, and the view-level names that destroy it. Its **role** under a view pipeline follows the
rule of the embedded scenes (``mcr_eval.audit.factors``): a factor is ``non-shared`` when a transform of
the training views removes or randomizes it (so the two views of an image need not agree on it) and
``shared`` otherwise. The destroyed names are those that :func:`mcr_train.views.pipeline.destroyed_factors_of`
reports (``scale``, ``pos_x``, ``pos_y`` for random resized crop, ``color`` for colour jitter, grayscale
and solarize, ``handedness`` for horizontal flips), plus ``rotation`` for rotating views.

Splits: the files have no official split. A seeded permutation of all images gives ``n_test`` test images
and the next ``n`` training images (spec options ``n``, ``n_test``, ``seed``); both index lists are sorted
so that the file is read front to back. ``label`` names the factor used as class label (``shape``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcr_train.data.base import LabeledImageDataset, Transform
from mcr_train.errors import DataError

#: The view recipe whose destroyed factors define the roles printed in factor tables.
STANDARD_VIEWS = "simclr"
#: What ``destroyed_factors_of`` reports for the standard recipes (crop, colour, flip), if views are absent.
_STANDARD_DESTROYED_FALLBACK = ("scale", "pos_x", "pos_y", "detail_present", "color", "handedness")
FACTOR_OPTIONS = ("n", "n_test", "seed", "label")
DEFAULT_TEST_FRACTION = 0.1
STATS_IMAGES = 2048


@dataclass(frozen=True)
class FactorInfo:
    """One ground-truth factor: its kind, official value grid and the destroyed names that remove it."""

    name: str
    kind: str  # "discrete" or "continuous"
    values: tuple[float, ...]
    destroyed_by: tuple[str, ...]
    labels: tuple[str, ...] = ()  # names of the values of a categorical factor
    note: str = ""

    @property
    def num_values(self) -> int:
        return len(self.values)

    def value_names(self) -> list[str]:
        return list(self.labels) if self.labels else [f"{self.name}={v:.4g}" for v in self.values]

    def role(self, destroyed: Iterable[str]) -> str:
        return "non-shared" if set(destroyed) & set(self.destroyed_by) else "shared"


def resolve_file(name: str, root: Path | None, filename: str, layout: str) -> Path:
    """The dataset file named by a spec root: the file itself or a folder that holds ``filename``."""
    if root is None:
        raise DataError(f"{name} needs a path: --data {name}:PATH with {layout}")
    path = Path(root)
    if path.is_dir():
        path = path / filename
    if not path.is_file():
        raise DataError(f"{name}: file {path} not found; expected {layout}")
    return path


def standard_destroyed() -> list[str]:
    """Destroyed names of the standard two-view recipe (:data:`STANDARD_VIEWS`)."""
    try:
        from mcr_train.views.pipeline import destroyed_factors_of
        from mcr_train.views.recipes import VIEW_RECIPES
    except ImportError:  # views need torchvision; the names are the same
        return list(_STANDARD_DESTROYED_FALLBACK)
    return list(destroyed_factors_of(VIEW_RECIPES[STANDARD_VIEWS]))


def factor_roles(table: Sequence[FactorInfo], destroyed: Iterable[str] | None = None) -> dict[str, str]:
    """``factor -> 'shared' | 'non-shared'`` under ``destroyed`` names (default: the standard views)."""
    lost = list(standard_destroyed() if destroyed is None else destroyed)
    return {f.name: f.role(lost) for f in table}


def table_rows(table: Sequence[FactorInfo], destroyed: Iterable[str] | None = None) -> list[dict]:
    """The factor table as records: name, kind, number of values, role (standard views) and note."""
    roles = factor_roles(table, destroyed)
    return [{"name": f.name, "kind": f.kind, "num_values": f.num_values, "role": roles[f.name], "note": f.note}
            for f in table]


@dataclass(frozen=True)
class SplitOptions:
    n: int
    n_test: int
    seed: int
    label: str


def split_options(name: str, options: Mapping[str, str], total: int, table: Sequence[FactorInfo]) -> SplitOptions:
    """Parse ``n``, ``n_test``, ``seed`` and ``label`` of a spec against a file of ``total`` images."""
    values: dict[str, int] = {}
    for key in ("n", "n_test", "seed"):
        if key in options:
            text = options[key]
            if not text.isdigit():
                raise DataError(f"{name}: option {key}={text!r} must be a whole number")
            values[key] = int(text)
    n_test = values.get("n_test", max(1, int(round(total * DEFAULT_TEST_FRACTION))))
    n = values.get("n", total - n_test)
    if n < 1 or n + n_test > total:
        raise DataError(f"{name}: n={n} training plus n_test={n_test} test images exceed the {total} images of "
                        f"the file; lower n or n_test")
    label = options.get("label", "shape")
    usable = [f.name for f in table if f.num_values > 1]
    if label not in usable:
        raise DataError(f"{name}: label={label!r} is not a factor with more than one value; use one of {usable}")
    return SplitOptions(n, n_test, values.get("seed", 0), label)


def split_indices(total: int, opts: SplitOptions) -> dict[str, np.ndarray]:
    """Sorted image indices of the ``train`` and ``test`` splits (disjoint, seeded)."""
    order = np.random.default_rng(opts.seed).permutation(total)
    return {"test": np.sort(order[: opts.n_test]), "train": np.sort(order[opts.n_test: opts.n_test + opts.n])}


def check_split(name: str, split: str) -> str:
    if split not in ("train", "test"):
        raise DataError(f"{name} has splits ['test', 'train'], not {split!r}")
    return split


class FactorImageDataset(LabeledImageDataset):
    """Images of a factor dataset with their factors.

    ``factor_classes`` (n, k) holds the index of each factor's value in its official grid,
    ``factor_values`` (n, k) the value itself; ``targets`` are the classes of the ``label`` factor.
    Subclasses implement :meth:`load_image` over their own storage.
    """

    def __init__(self, name: str, table: Sequence[FactorInfo], factor_classes: np.ndarray, factor_values: np.ndarray,
                 label: str, file_summary: str, transform: Transform = None):
        super().__init__(transform)
        self.name = name
        self.factor_table = tuple(table)
        self.factor_names = [f.name for f in table]
        self.factor_classes = np.asarray(factor_classes, dtype=np.int64)
        self.factor_values = np.asarray(factor_values, dtype=np.float64)
        self.label_factor = label
        column = self.factor_names.index(label)
        self.targets = self.factor_classes[:, column]
        self.classes = self.factor_table[column].value_names()
        self.file_summary = file_summary

    def factor_roles(self, destroyed: Iterable[str] | None = None) -> dict[str, str]:
        return factor_roles(self.factor_table, destroyed)

    def factor_kinds(self) -> list[str]:
        return [f.kind for f in self.factor_table]

    def describe_factors(self) -> list[str]:
        """Lines for ``mcr-data check``: the file's arrays and the factor table with roles."""
        lines = [f"file: {self.file_summary}",
                 f"factors (role under the standard '{STANDARD_VIEWS}' views: crop, flip, colour jitter, "
                 "grayscale):"]
        for row in table_rows(self.factor_table):
            count = f"{row['num_values']} value{'s' if row['num_values'] != 1 else ''}"
            label = " (class label)" if row["name"] == self.label_factor else ""
            note = f"; {row['note']}" if row["note"] else ""
            lines.append(f"  {row['name']}: {row['kind']}, {count}, {row['role']}{label}{note}")
        return lines


def sample_pixel_stats(dataset: LabeledImageDataset,
                       limit: int = STATS_IMAGES) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean/std (0..1 scale) over up to ``limit`` evenly spaced images of ``dataset``."""
    index = np.unique(np.linspace(0, len(dataset) - 1, min(limit, len(dataset))).round().astype(np.int64))
    pixels = np.stack([np.asarray(dataset.load_image(int(i))) for i in index]).reshape(-1, 3) / 255.0
    return tuple(pixels.mean(0).round(4).tolist()), tuple(pixels.std(0).round(4).tolist())


def grid_classes(name: str, factor: FactorInfo, values: np.ndarray, source: str) -> np.ndarray:
    """Index of each value in the factor's official grid (its sorted values).

    Values within 1e-3 of a grid step of a grid value map to it. Should a file's values sit off the grid
    we assume, the file's own sorted distinct values serve as the grid, provided there are no more of them
    than the official count (a full official file holds exactly that many); more is a DataError.
    """
    grid = np.asarray(factor.values, dtype=np.float64)
    index = np.abs(values[:, None] - grid[None, :]).argmin(axis=1)
    spacing = np.min(np.diff(grid)) if len(grid) > 1 else 1.0
    if np.all(np.abs(values - grid[index]) <= 1e-3 * spacing):
        return index.astype(np.int64)
    distinct, inverse = np.unique(values.round(6), return_inverse=True)
    if len(distinct) > len(grid):
        raise DataError(f"{name}: {source} column '{factor.name}' holds {len(distinct)} distinct values, more than "
                        f"the {len(grid)} of the official file; the file is not the official one")
    return inverse.ravel().astype(np.int64)
