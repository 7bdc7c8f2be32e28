"""Backbones keep torchvision's key names, so exports load into a plain torchvision ResNet."""

import pytest
import torch
import torchvision

from mcr_train.errors import ConfigError
from mcr_train.models.backbone import build_backbone, feature_dim


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_width_64_imagenet_stem_matches_torchvision_exactly(arch):
    ours = build_backbone(arch, "imagenet", 64)
    ref = getattr(torchvision.models, arch)()
    result = ref.load_state_dict(ours.state_dict(), strict=False)
    assert set(result.missing_keys) == {"fc.weight", "fc.bias"} and not result.unexpected_keys
    ref.fc = torch.nn.Identity()
    ours.eval(), ref.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), ref(x))


def test_cifar_stem_keeps_resolution_and_small_width():
    m = build_backbone("resnet18", "cifar", 8)
    assert m.conv1.kernel_size == (3, 3) and m.conv1.stride == (1, 1) and isinstance(m.maxpool, torch.nn.Identity)
    out = m(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, m.num_features) == (2, feature_dim("resnet18", 8)) == (2, 64)
    assert feature_dim("resnet50", 64) == 2048


@pytest.mark.parametrize("kwargs, message", [
    (dict(arch="vgg"), "unknown backbone"), (dict(stem="tiny"), "unknown stem"), (dict(width=0), "positive"),
])
def test_bad_backbone_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        build_backbone(**kwargs)
