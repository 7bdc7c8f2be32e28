"""Memory bounds for attribution: how many images one forward(+backward) pass may carry, and helpers.

Captum's methods expand every example many times (IntegratedGradients by its integration steps,
NoiseTunnel by its noise samples, GradientShap by its baseline draws, Occlusion by its windows, and
``infidelity`` / ``sensitivity_max`` by their perturbations). Run all at once, the activations that the
backward pass keeps grow with ``examples x expansion``; a torchvision ResNet-18 at 224 px keeps tens of
MB per image, so 16 examples x 32 steps x 4 sensitivity perturbations cannot fit in a workstation's RAM.

The bound is measured, not guessed: :func:`saved_bytes_per_image` counts the bytes autograd saves for
one image of this encoder at this size, and :func:`grad_batch_size` divides an activation budget by it.
Passes without gradients keep only a few activations alive, so they may carry
:data:`NO_GRAD_FACTOR` times more images. Batching never changes a number beyond float rounding: BN is
in eval mode, so every image's output is independent of its batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

#: Bytes of saved activations one gradient pass may hold (the rest of the process comes on top).
ACTIVATION_BUDGET_BYTES = 256 * 2**20
#: A no-gradient pass may carry this many times the images of a gradient pass.
NO_GRAD_FACTOR = 2
#: Upper bound on images per pass, whatever the budget allows (larger batches gain no speed on CPU).
MAX_BATCH = 1024


def _saved_bytes(target: nn.Module, pixels: torch.Tensor, aux: torch.Tensor) -> int:
    """Bytes of the distinct storages autograd saves for ``target(pixels, aux).sum()``."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        except (RuntimeError, NotImplementedError):  # opaque tensors (e.g. mkldnn) have no plain storage
            seen[id(t)] = t.numel() * t.element_size()
        return t

    x = pixels.detach().clone().requires_grad_(True)
    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        target(x, aux).sum()
    return sum(seen.values())


def saved_bytes_per_image(target: nn.Module, pixels: torch.Tensor, aux: torch.Tensor) -> int:
    """Activation bytes one more image adds to a gradient pass: saved bytes at 2 images minus at 1, so
    that weights and other per-batch constants do not count."""
    one = _saved_bytes(target, pixels[:1], aux[:1])
    two_pixels = pixels[:1].expand(2, *pixels.shape[1:])
    two_aux = aux[:1].expand(2, *aux.shape[1:])
    two = _saved_bytes(target, two_pixels, two_aux)
    return max(two - one, pixels[0].numel() * pixels.element_size())


def grad_batch_size(target: nn.Module, pixels: torch.Tensor, aux: torch.Tensor,
                    budget_bytes: int = ACTIVATION_BUDGET_BYTES) -> int:
    """Images per forward+backward pass that keep the saved activations within ``budget_bytes``."""
    per_image = saved_bytes_per_image(target, pixels, aux)
    return int(min(MAX_BATCH, max(1, budget_bytes // per_image)))


class _EncoderOnly(nn.Module):
    """``(pixels, aux) -> encoder(pixels)``: an encoder in the calling convention of a scalar target."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, pixels: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        return self.encoder(pixels)


def encoder_batch_size(encoder: nn.Module, pixels: torch.Tensor,
                       budget_bytes: int = ACTIVATION_BUDGET_BYTES) -> int:
    """:func:`grad_batch_size` of the bare encoder (before a scalar target exists; a target's head is tiny)."""
    return grad_batch_size(_EncoderOnly(encoder), pixels[:1], torch.zeros(1), budget_bytes)


def no_grad_batch_size(grad_batch: int) -> int:
    return int(min(MAX_BATCH, max(1, grad_batch * NO_GRAD_FACTOR)))


def spans(n: int, size: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks of at most ``size`` of ``range(n)``."""
    size = max(1, int(size))
    for start in range(0, n, size):
        yield start, min(n, start + size)


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Parameters stop requiring gradients inside (attribution differentiates the input only, so no weight
    gradient is built or kept across examples); restored on exit."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def example_seed(seed: int, index: int) -> int:
    """A 32-bit seed for example ``index``: its random draws then depend on neither the batch nor ``n``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's CPU generator and numpy's global one (Captum's GradientShap draws from both) inside,
    and restore both afterwards so the caller's random stream is untouched."""
    state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(state)
