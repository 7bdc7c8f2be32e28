"""ResNet backbones with torchvision key names.

Built from torchvision's own ``ResNet`` so that the state dict keys are exactly torchvision's
(``conv1.weight``, ``layer1.0.bn1.running_mean``, ...). Two stems:

* ``imagenet``: 7x7 stride-2 conv followed by 3x3 max-pool (He et al., 2016).
* ``cifar``: 3x3 stride-1 conv and no max-pool, the usual choice for images of 64 px or less
  (SimCLR appendix B.9; solo-learn and lightly CIFAR recipes).

``stem_padding`` is the stem conv's zero padding. Ours is 1 for the CIFAR stem and 3 for the ImageNet stem
(torchvision's). solo-learn's CIFAR stem pads by 2 (``solo/methods/base.py``), so its checkpoints carry the
same tensors but compute different features unless the padding is rebuilt as well.

``width`` scales every stage (64 is torchvision's ResNet); small widths keep CPU runs fast.
With ``width=64`` the weights load into a plain ``torchvision.models.resnet18/50``.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from mcr_train.errors import ConfigError

ARCHS: dict[str, tuple[type[nn.Module], list[int]]] = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
}
STEMS = ("cifar", "imagenet")
DEFAULT_STEM_PADDING = {"cifar": 1, "imagenet": 3}


class WidthResNet(ResNet):
    """torchvision ResNet whose stage widths are ``width * (1, 2, 4, 8)``; ``fc`` is an Identity."""

    def __init__(self, block: type[nn.Module], layers: list[int], width: int = 64, stem: str = "imagenet",
                 zero_init_residual: bool = False, stem_padding: int | None = None):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.dilation = 1
        self.groups = 1
        self.base_width = 64  # Bottleneck's inner width rule; stage widths come from `width`.
        self.inplanes = width
        padding = DEFAULT_STEM_PADDING[stem] if stem_padding is None else stem_padding
        if stem == "cifar":
            self.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=padding, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=padding, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Identity()
        self.num_features = width * 8 * block.expansion
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)


def build_backbone(arch: str = "resnet18", stem: str = "cifar", width: int = 64,
                   zero_init_residual: bool = False, stem_padding: int | None = None) -> WidthResNet:
    """Build a ResNet encoder that returns pooled features of size ``model.num_features``.

    ``stem_padding`` None means the stem's default (:data:`DEFAULT_STEM_PADDING`).
    """
    if arch not in ARCHS:
        raise ConfigError(f"unknown backbone arch '{arch}'; choose one of {sorted(ARCHS)}")
    if stem not in STEMS:
        raise ConfigError(f"unknown stem '{stem}'; choose 'cifar' (3x3, no max-pool) or 'imagenet'")
    if not isinstance(width, int) or width < 1:
        raise ConfigError(f"backbone width must be a positive integer, got {width!r}")
    if stem_padding is not None and (isinstance(stem_padding, bool) or not isinstance(stem_padding, int)
                                     or stem_padding < 0):
        raise ConfigError(f"stem padding must be a non-negative integer, got {stem_padding!r}; pass e.g. "
                          "--stem-padding 1 (our CIFAR stem) or 2 (solo-learn's)")
    block, layers = ARCHS[arch]
    return WidthResNet(block, layers, width=width, stem=stem, zero_init_residual=zero_init_residual,
                       stem_padding=stem_padding)


def feature_dim(arch: str, width: int = 64) -> int:
    """Pooled feature size of ``build_backbone(arch, width=width)`` without building it."""
    if arch not in ARCHS:
        raise ConfigError(f"unknown backbone arch '{arch}'; choose one of {sorted(ARCHS)}")
    block, _ = ARCHS[arch]
    return width * 8 * block.expansion


