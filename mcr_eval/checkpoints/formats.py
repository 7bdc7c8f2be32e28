"""Foreign checkpoint layouts and their exact prefix rules to torchvision key names.

Every rule removes an exact leading prefix (``key[len(prefix):]`` after ``key.startswith(prefix)``),
never ``str.lstrip`` (which strips characters, not a prefix). Keys outside the prefix (projectors,
predictors, momentum encoders, classifier heads, queues) are ignored and reported.

* ``mcr`` / ``torchvision``: torchvision ResNet names, e.g. ``layer1.0.bn1.running_mean``.
* ``solo-learn``: ``backbone.`` + torchvision names inside Lightning's ``state_dict``,
  e.g. ``backbone.conv1.weight``.
* ``mmpretrain`` / ``mmselfsup``: ``backbone.`` + torchvision names inside ``state_dict``,
  e.g. ``backbone.layer4.1.bn2.bias`` (OpenMMLab's ResNet uses torchvision's module names).
* ``lightly``: ``backbone.`` + the child index of ``nn.Sequential(*list(resnet.children())[:-1])``
  over a torchvision ResNet (lightly's examples and benchmarks): 0 conv1, 1 bn1, 4-7 layer1-4,
  e.g. ``backbone.4.0.conv1.weight`` -> ``layer1.0.conv1.weight``.
* ``moco``: ``module.encoder_q.`` + torchvision names; its ``fc`` (MLP head) is dropped,
  e.g. ``module.encoder_q.layer1.0.conv1.weight``.

The CIFAR stem (3x3 stride-1 conv, no max-pool) holds the same tensors in every layout, but not the same
zero padding, which the weights cannot tell: solo-learn pads by 2 (``solo/methods/base.py`` and
``main_linear.py``), while our export, MMPretrain/MMSelfSup's ``ResNet_CIFAR``, lightly's ``ResNetGenerator``
and MoCo's CIFAR-10 demo pad by 1. torchvision has no CIFAR stem; the common replacement pads by 1. The
ImageNet stem pads by 3 everywhere (torchvision's 7x7 conv). :func:`stem_padding_for` holds this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from mcr_train.errors import CheckpointError

StateDict = dict[str, torch.Tensor]

BACKBONE_PREFIX = "backbone."
MOCO_PREFIX = "module.encoder_q."
# torchvision ResNet children order: conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc.
LIGHTLY_CHILD_NAMES = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}
HEAD_PREFIX = "fc."
FORMATS = ("mcr", "torchvision", "solo-learn", "mmpretrain", "mmselfsup", "lightly", "moco")
CIFAR_STEM_PADDING = {
    "mcr": 1,
    "torchvision": 1,
    "solo-learn": 2,
    "mmpretrain": 1,
    "mmselfsup": 1,
    "lightly": 1,
    "moco": 1,
}
IMAGENET_STEM_PADDING = 3
ARCH_LAYOUTS = {
    ("basic", (2, 2, 2, 2)): "resnet18",
    ("basic", (3, 4, 6, 3)): "resnet34",
    ("bottleneck", (3, 4, 6, 3)): "resnet50",
}


@dataclass
class Mapped:
    """Backbone weights in torchvision names plus what was left out."""

    state: StateDict
    ignored: list[str] = field(default_factory=list)  # keys outside the format's backbone prefix
    head: list[str] = field(default_factory=list)  # classifier-head keys dropped (fc.*)


def strip_prefix(key: str, prefix: str) -> str | None:
    """``key`` without the exact leading ``prefix``, or None when it does not start with it."""
    return key[len(prefix) :] if key.startswith(prefix) else None


def _lightly_name(rest: str) -> str | None:
    index, _, tail = rest.partition(".")
    child = LIGHTLY_CHILD_NAMES.get(index)
    return f"{child}.{tail}" if child and tail else None


def detect_format(keys: list[str]) -> str:
    """Name the layout of a state dict from its keys (see the module table)."""
    keyset = set(keys)
    if any(k.startswith(MOCO_PREFIX) for k in keys):
        return "moco"
    if f"{BACKBONE_PREFIX}0.weight" in keyset and any(k.startswith(f"{BACKBONE_PREFIX}4.") for k in keys):
        return "lightly"
    if f"{BACKBONE_PREFIX}conv1.weight" in keyset:
        mm_parts = ("neck.", "head.", "data_preprocessor.")
        return "mmpretrain" if any(k.startswith(mm_parts) for k in keys) else "solo-learn"
    if "conv1.weight" in keyset:
        return "torchvision"
    shown = ", ".join(sorted(keys)[:3])
    raise CheckpointError(
        f"cannot tell the checkpoint layout from its keys ({shown}, ...); pass --format "
        f"with one of {', '.join(FORMATS)}"
    )


def to_torchvision(state: StateDict, fmt: str) -> Mapped:
    """Map a state dict in layout ``fmt`` to torchvision ResNet names by the exact prefix rules."""
    if fmt not in FORMATS:
        raise CheckpointError(f"unknown checkpoint format '{fmt}'; choose one of {', '.join(FORMATS)}")
    out = Mapped(state={})
    for key, value in state.items():
        if fmt in ("mcr", "torchvision"):
            name = key
        elif fmt == "moco":
            name = strip_prefix(key, MOCO_PREFIX)
        elif fmt == "lightly":
            rest = strip_prefix(key, BACKBONE_PREFIX)
            name = _lightly_name(rest) if rest is not None else None
        else:  # solo-learn, mmpretrain, mmselfsup
            name = strip_prefix(key, BACKBONE_PREFIX)
        if name is None:
            out.ignored.append(key)
        elif name.startswith(HEAD_PREFIX):
            out.head.append(key)
        else:
            out.state[name] = value
    if not out.state:
        raise CheckpointError(
            f"no backbone weights found for format '{fmt}' (0 keys matched its prefix rule); "
            "pass the right --format or a checkpoint that contains the encoder"
        )
    return out


def stem_padding_for(fmt: str, stem: str) -> int:
    """The stem conv's padding that checkpoints of layout ``fmt`` were trained with (see the module notes)."""
    return CIFAR_STEM_PADDING.get(fmt, 1) if stem == "cifar" else IMAGENET_STEM_PADDING


def infer_arch(state: StateDict) -> tuple[str, str, int]:
    """(arch, stem, width) of a torchvision-named ResNet state dict, read from its shapes."""
    conv1 = state.get("conv1.weight")
    if conv1 is None or conv1.ndim != 4:
        raise CheckpointError(
            "checkpoint has no 'conv1.weight' after mapping; it is not a ResNet encoder, or "
            "pass --format to name its layout"
        )
    width = int(conv1.shape[0])
    stem = "cifar" if conv1.shape[-1] == 3 else "imagenet"
    block = "bottleneck" if "layer1.0.conv3.weight" in state else "basic"
    depths = []
    for stage in range(1, 5):
        prefix = f"layer{stage}."
        depths.append(len({k[len(prefix) :].split(".")[0] for k in state if k.startswith(prefix)}))
    # The smallest known layout that holds every block present; absent blocks are then reported as missing.
    fits = [
        name
        for (kind, layout), name in ARCH_LAYOUTS.items()
        if kind == block and all(d <= n for d, n in zip(depths, layout))
    ]
    if not fits or 0 in depths:
        raise CheckpointError(
            f"checkpoint is a ResNet with {block} blocks {depths}, which is not resnet18/34/50; "
            "pass --arch with a supported architecture"
        )
    arch = fits[0]
    return arch, stem, width
