"""A dataset of two-view samples whose augmentation is a pure function of (seed, stream position).

Each draw from the sampler is ``(index, position)``; the views are rendered under a private RNG seeded
from ``(seed, position)``. The augmentations therefore do not depend on the global RNG, on the number of
loader workers, or on where a run was interrupted: a resumed run sees exactly the views of an
uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from mmengine.dist import get_dist_info
from torch.utils.data import Dataset, Sampler
from torchvision.transforms import v2

from mcr_train.views.pipeline import TwoViewTransform


def _position_seed(seed: int, position: int) -> int:
    # SplitMix64-style mixing so neighbouring positions get unrelated streams.
    z = (seed * 0x9E3779B97F4A7C15 + position + 1) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFF


class TwoViewDataset(Dataset):
    """Wraps a ``(PIL image, label)`` dataset; yields ``dict(inputs=[view1, view2], data_samples=label)``."""

    def __init__(self, base: Dataset, views: TwoViewTransform, seed: int = 0):
        self.base, self.views, self.seed = base, views, int(seed)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, item: int | tuple[int, int]) -> dict:
        index, position = item if isinstance(item, tuple) else (item, item)
        image, label = self.base[index]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_position_seed(self.seed, position))
            views = self.views(image)
        return dict(inputs=views, data_samples=torch.as_tensor(label))


class PositionedInfiniteSampler(Sampler):
    """Endless shuffled stream, sharded by rank, yielding ``(index, global stream position)``.

    Like mmengine's ``InfiniteSampler`` (no dataloader restarts in iteration-based loops), but each item
    carries its position so the dataset can seed its augmentation per draw.
    """

    def __init__(self, dataset: Dataset, seed: int = 0, shuffle: bool = True):
        self.size = len(dataset)
        self.seed, self.shuffle = int(seed), shuffle
        self.rank, self.world_size = get_dist_info()

    def _indices(self) -> Iterator[tuple[int, int]]:
        generator = torch.Generator().manual_seed(self.seed)
        epoch = 0
        while True:
            order = torch.randperm(self.size, generator=generator) if self.shuffle else torch.arange(self.size)
            for offset, index in enumerate(order.tolist()):
                yield index, epoch * self.size + offset
            epoch += 1

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for count, item in enumerate(self._indices()):
            if count % self.world_size == self.rank:
                yield item

    def __len__(self) -> int:
        return self.size // self.world_size

    def set_epoch(self, epoch: int) -> None:
        """Unused: the stream is already endless (kept for mmengine's sampler hook)."""


class RawImageDataset(Dataset):
    """Yields ``dict(inputs=uint8 CHW tensor, data_samples=label)`` for device-side views."""

    def __init__(self, base: Dataset):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, item: int | tuple[int, int]) -> dict:
        index = item[0] if isinstance(item, tuple) else item
        image, label = self.base[index]
        tensor = v2.functional.pil_to_tensor(image) if not isinstance(image, torch.Tensor) else image
        return dict(inputs=tensor, data_samples=torch.as_tensor(label))
