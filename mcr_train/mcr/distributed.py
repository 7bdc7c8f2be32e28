"""Multi-process support for the MCR wrapper: gradient averaging and a thin model wrapper.

The bi-level step needs several gradient evaluations per iteration (``torch.autograd.grad``), which
PyTorch's DDP reducer does not see. The wrapper therefore averages every gradient it computes with one
flattened all-reduce, exactly what DDP does to ``.grad`` (sum over ranks / world size); together with the
gradient-carrying all-gather of :mod:`mcr_train.methods.gather` this gives the global-batch gradient.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from mmengine.registry import MODEL_WRAPPERS
from torch import Tensor, nn

from mcr_train.methods.gather import world_size


def average_across_ranks(tensors: list[Tensor]) -> list[Tensor]:
    """Mean of each tensor over ranks (one flattened all-reduce); identity on a single process."""
    world = world_size()
    if world == 1 or not tensors:
        return tensors
    dtype = torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32
    flat = torch.cat([t.detach().reshape(-1).to(dtype) for t in tensors])
    dist.all_reduce(flat)
    flat /= world
    out, offset = [], 0
    for t in tensors:
        out.append(flat[offset:offset + t.numel()].view_as(t).to(t.dtype))
        offset += t.numel()
    return out


@MODEL_WRAPPERS.register_module()
class MCRDataParallel(nn.Module):
    """Model wrapper for ``--launcher pytorch`` with a regularizer: broadcasts rank 0's parameters and
    buffers once, then delegates ``train_step`` to the MCR model, which averages its own gradients.

    Use it as ``model_wrapper_cfg=dict(type='MCRDataParallel')`` in place of DDP (extra keys such as
    ``broadcast_buffers`` are accepted and ignored: buffers, like DDP with ``broadcast_buffers=False``,
    stay per rank after the initial broadcast).
    """

    def __init__(self, module: nn.Module, **_ignored):
        super().__init__()
        self.module = module
        if world_size() > 1:
            with torch.no_grad():
                for tensor in list(module.parameters()) + list(module.buffers()):
                    dist.broadcast(tensor.data, src=0)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def train_step(self, data, optim_wrapper):
        return self.module.train_step(data, optim_wrapper)

    def val_step(self, data):
        return self.module.val_step(data)

    def test_step(self, data):
        return self.module.test_step(data)
