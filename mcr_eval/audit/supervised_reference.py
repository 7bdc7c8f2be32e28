"""A small supervised network trained on the scene factors: the audit's learned reference.

No generic probe reads a scene's ``shape`` (or, barely, its ``texture``) from the pixels themselves: at 32 px
the kernel probe on the input is within 0.03 of chance on shape, at 64 px and with 3,000 scenes too. The
input ceiling (:mod:`.retention`) therefore leaves them undefined. A network trained with labels on every
factor shows how readable each factor can be made from these images; the audit reports every encoder's probe
against it too (``vs_supervised``), so shape and texture get a number, read as "how close the encoder comes to
a supervised network", not as kept information.

The network (five 3x3 conv layers with BN and ReLU, 32-128 channels, global average pool, one linear head per
factor) trains with Adam on ``n`` scenes of the training stream (never the audit's test stream), cross-entropy
per categorical factor (detail kind and corner only where a detail is drawn) and squared error on position.
It is cached per image size and training setting under ``$MCR_CACHE/audit/`` (``~/.cache/mcr/audit/``) as
safetensors, written atomically; training takes
about 40 s at 32 px on 2 CPU cores.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from mcr_eval.audit.factors import CONTROL_FACTOR, DETAIL_DEPENDENT, factor_labels
from mcr_eval.audit.scene_inputs import render_scenes
from mcr_eval.checkpoints.safe_io import atomic_write
from mcr_eval.features import default_cache_dir
from mcr_train.data.scenes import sample_factors

VERSION = 1
TRAIN_STREAM = 0  # the audit probes the test stream (1)
POSITION_WEIGHT = 10.0  # squared error on [0, 1] positions is small next to cross-entropy


def factor_heads(labels) -> dict[str, int]:
    """``factor -> output width`` (1 for a continuous factor) for every factor but ``control``."""
    return {f: (1 if labels.is_continuous(f) else labels.num_classes(f)) for f in labels.names if f != CONTROL_FACTOR}


def _block(cin: int, cout: int, pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    return layers + ([nn.MaxPool2d(2)] if pool else [])


class SupervisedReference(nn.Module):
    """Convolutional trunk (features, 128-d) and a linear head for all factors."""

    def __init__(self, outputs: int):
        super().__init__()
        self.trunk = nn.Sequential(*_block(3, 32, False), *_block(32, 32, True), *_block(32, 64, True),
                                   *_block(64, 128, True), *_block(128, 128, False), nn.AdaptiveAvgPool2d(1),
                                   nn.Flatten())
        self.head = nn.Linear(128, outputs)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.trunk(pixels)


def _loss(logits: torch.Tensor, targets: dict[str, torch.Tensor], heads: dict[str, int]) -> torch.Tensor:
    total, start = logits.new_zeros(()), 0
    visible = targets["detail_present"] == 1
    for name, width in heads.items():
        out = logits[:, start:start + width]
        start += width
        if width == 1:
            total = total + POSITION_WEIGHT * F.mse_loss(out[:, 0], targets[name].float())
            continue
        weight = visible.float() if name in DETAIL_DEPENDENT else torch.ones_like(out[:, 0])
        per_sample = F.cross_entropy(out, targets[name], reduction="none")
        total = total + (per_sample * weight).sum() / weight.sum().clamp(min=1.0)
    return total


def train_reference(size: int, n: int = 4000, epochs: int = 8, seed: int = 0, batch: int = 64,
                    quiet: bool = False) -> SupervisedReference:
    """Train the reference on ``n`` training-stream scenes at ``size`` px (deterministic for a seed)."""
    factors = [sample_factors(seed, i, stream=TRAIN_STREAM) for i in range(n)]
    pixels, labels = render_scenes(factors, size), factor_labels(factors)
    heads = factor_heads(labels)
    targets = {name: torch.from_numpy(labels.values[name]) for name in [*heads, "detail_present"]}
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = SupervisedReference(sum(heads.values()))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        order = torch.Generator().manual_seed(seed)
        model.train()
        for epoch in range(epochs):
            perm, total = torch.randperm(n, generator=order), 0.0
            for start in range(0, n, batch):
                index = perm[start:start + batch]
                loss = _loss(model.head(model(pixels[index])), {k: v[index] for k, v in targets.items()}, heads)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(index)
            if not quiet:
                print(f"  supervised reference {size} px: epoch {epoch + 1}/{epochs}, loss {total / n:.3f}",
                      file=sys.stderr, flush=True)
    finally:
        torch.random.set_rng_state(state)
    return model.eval()


def cache_path(size: int, cache_dir: Path | None = None) -> Path:
    folder = Path(cache_dir) if cache_dir else default_cache_dir().parent / "audit"
    return folder / f"supervised-scenes-{size}px-v{VERSION}.safetensors"


def supervised_reference(size: int, cache_dir: Path | None = None, quiet: bool = False,
                         **train_kwargs) -> SupervisedReference:
    """The cached reference for ``size`` px scenes, trained (once, about 40 s at 32 px) when missing."""
    path = cache_path(size, cache_dir)
    heads = factor_heads(factor_labels([sample_factors(0, 0, stream=TRAIN_STREAM)]))
    settings = {"size": size, "version": VERSION, **train_kwargs}
    if path.exists():
        meta = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").exists() else {}
        if meta == settings:
            model = SupervisedReference(sum(heads.values()))
            model.load_state_dict(load_file(str(path)))
            return model.eval()
    if not quiet:
        print(f"training the audit's supervised reference for {size} px scenes (once; cached at {path})",
              file=sys.stderr, flush=True)
    model = train_reference(size, quiet=quiet, **train_kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, str(tmp)))
    atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(settings)))
    return model


def reference_features(model: SupervisedReference, pixels: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """128-d trunk features (float64) of pixel-space scenes."""
    with torch.inference_mode():
        return torch.cat([model(pixels[i:i + batch_size]) for i in range(0, len(pixels), batch_size)]).double().numpy()
