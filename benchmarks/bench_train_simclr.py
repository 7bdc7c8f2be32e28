"""Time one SimCLR training step: ours (method + mmengine OptimWrapper) vs lightly's SimCLR model + loss.

Same backbone (ResNet-18, CIFAR stem, given width), same batch of two 32 px views, same SGD optimizer.
Steps alternate between the two implementations (ours, lightly, lightly, ours, ...) so that load from
other processes hits both alike; each figure is the median over ``--rounds`` timed steps, and the ratio
is also reported as the median of per-round ratios. Ratio > 1 means ours is faster.

    .venv/bin/python benchmarks/bench_train_simclr.py --width 16 --batch 64 --rounds 31
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from mmengine.optim import OptimWrapper
from torch import nn

from mcr_train.methods import build_method
from mcr_train.models.backbone import build_backbone


class LightlySimCLR(nn.Module):
    """lightly's documented SimCLR model: backbone -> flatten -> SimCLRProjectionHead."""

    def __init__(self, backbone: nn.Module, feat: int, hidden: int, out: int):
        super().__init__()
        self.backbone = backbone
        self.projection_head = SimCLRProjectionHead(feat, hidden, out)

    def forward(self, x):
        return self.projection_head(self.backbone(x).flatten(start_dim=1))


def time_steps(step, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1, help="steps per timing sample")
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hidden, out, temperature = 2048, 128, 0.2

    torch.manual_seed(0)
    ours = build_method(
        dict(
            type="simclr",
            backbone=dict(arch="resnet18", stem="cifar", width=args.width),
            projector=dict(hidden_dim=hidden, out_dim=out, num_layers=2),
            temperature=temperature,
        )
    )
    ours_optim = OptimWrapper(torch.optim.SGD(ours.parameters(), lr=0.06, momentum=0.9, weight_decay=5e-4))
    torch.manual_seed(0)
    backbone = build_backbone("resnet18", "cifar", args.width)
    theirs = LightlySimCLR(backbone, backbone.num_features, hidden, out)
    criterion = NTXentLoss(temperature=temperature)
    theirs_optim = torch.optim.SGD(theirs.parameters(), lr=0.06, momentum=0.9, weight_decay=5e-4)

    x0 = torch.randn(args.batch, 3, args.size, args.size)
    x1 = torch.randn(args.batch, 3, args.size, args.size)
    data = dict(inputs=[x0, x1])

    def ours_step():
        ours.train_step(data, ours_optim)

    def theirs_step():
        loss = criterion(theirs(x0), theirs(x1))
        loss.backward()
        theirs_optim.step()
        theirs_optim.zero_grad()

    for fn in (ours_step, theirs_step, ours_step, theirs_step):  # warm-up (oneDNN primitives, allocator)
        time_steps(fn, 1)
    ours_t, theirs_t = [], []
    for r in range(args.rounds):
        pair = [(ours_step, ours_t), (theirs_step, theirs_t)]
        for fn, sink in pair if r % 2 == 0 else pair[::-1]:
            sink.append(time_steps(fn, args.steps))
    o, t = statistics.median(ours_t), statistics.median(theirs_t)
    paired = statistics.median(b / a for a, b in zip(ours_t, theirs_t))
    print(
        f"SimCLR step, ResNet-18 cifar stem width {args.width}, batch {args.batch}x2 views, {args.size}px, "
        f"{args.threads} threads, median of {args.rounds} rounds x {args.steps} steps"
    )
    print(f"ours    {o * 1000:8.1f} ms/step")
    print(f"lightly {t * 1000:8.1f} ms/step")
    print(f"ratio (lightly / ours) = {t / o:.3f} (ratio of medians), {paired:.3f} (median of paired ratios)")


if __name__ == "__main__":
    main()
