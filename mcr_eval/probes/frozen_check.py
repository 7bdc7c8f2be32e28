"""Proof that a probe did not move its encoder (MoCo's ``sanity_check``, He et al. 2020).

:func:`frozen_encoder` puts the encoder in eval mode (BN uses and keeps its running statistics), turns off
its gradients, snapshots every parameter *and* buffer (BN ``running_mean``, ``running_var``,
``num_batches_tracked``), and on exit compares them bit for bit. Any difference raises
:class:`EncoderChangedError`, e.g. when a probe left the encoder in train mode and BN statistics moved.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class EncoderChangedError(RuntimeError):
    """The frozen encoder's weights or BN buffers changed during probing."""


def snapshot_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every parameter and buffer."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def changed_entries(model: nn.Module, snapshot: dict[str, torch.Tensor]) -> list[str]:
    current = model.state_dict()
    changed = [
        name
        for name, before in snapshot.items()
        if name not in current or not torch.equal(current[name].detach().to(before.device), before)
    ]
    return changed + [name for name in current if name not in snapshot]


def assert_unchanged(model: nn.Module, snapshot: dict[str, torch.Tensor]) -> None:
    changed = changed_entries(model, snapshot)
    if changed:
        raise EncoderChangedError(
            f"the frozen encoder changed during probing: {len(changed)} tensors differ "
            f"({', '.join(changed[:4])}); the probe must keep it in eval mode without "
            "gradients"
        )


@contextmanager
def frozen_encoder(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode + no gradients inside the block; weights and BN buffers verified unchanged on exit."""
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    was_training = model.training
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    snapshot = snapshot_state(model)
    try:
        yield model
        assert_unchanged(model, snapshot)
    finally:
        for name, p in model.named_parameters():
            p.requires_grad_(flags[name])
        model.train(was_training)
