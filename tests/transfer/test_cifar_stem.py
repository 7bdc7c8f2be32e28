"""CIFAR-stem encoders in MMDetection: ``CifarStemResNet`` reproduces our backbone, strides follow the stem."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from mcr_eval.transfer.config import load_config, set_backbone_stem, set_pretrained
from mcr_eval.transfer.mmdet_modules import compare_to_reference, reference_state
from mcr_eval.transfer.weights import check_fits, prepare_pretrained, random_init_weights
from mcr_train.errors import ConfigError
from mcr_train.models.backbone import build_backbone

from .conftest import CONFIGS, SCENES_CONFIG, write_export

SCENES32_CONFIG = CONFIGS / "mask-rcnn_r18_fpn_syncbn-1xb4-12e_scenes-32px.py"
C4_CONFIG = CONFIGS / "mask-rcnn_r50-c4_syncbn_ms-1x_coco.py"


def _build(model_cfg: dict) -> torch.nn.Module:
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.registry import DefaultScope

    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope("mmdet"):
        return MODELS.build(model_cfg)


def _plain_bn(cfg) -> None:
    """SyncBN -> BN everywhere: these tests build modules outside a (distributed) runner."""
    cfg.norm_cfg = dict(type="BN", requires_grad=True)
    for key in ("backbone", "neck"):
        if cfg.model[key].get("norm_cfg"):
            cfg.model[key].norm_cfg = dict(type="BN", requires_grad=True)
    for head in ("bbox_head", "mask_head"):
        if cfg.model.roi_head[head].get("norm_cfg"):
            cfg.model.roi_head[head].norm_cfg = dict(type="BN", requires_grad=True)


def _our_stages(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Stage outputs of ``mcr_train.models.backbone.WidthResNet`` (torchvision's forward up to avgpool)."""
    x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    outs = []
    for name in ("layer1", "layer2", "layer3", "layer4"):
        x = getattr(model, name)(x)
        outs.append(x)
    return outs


@pytest.mark.parametrize("arch,depth", [("resnet18", 18), ("resnet50", 50)])
def test_cifar_stem_resnet_reproduces_our_backbone(arch, depth, tmp_path):
    """Oracle: our converted weights in CifarStemResNet give our encoder's stage outputs exactly."""
    torch.manual_seed(0)
    ours = build_backbone(arch, "cifar", 4)
    with torch.no_grad():  # non-trivial BN statistics and affine terms, so that norm naming errors show
        for module in ours.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    folder = tmp_path / "enc"
    write_export(folder, arch, width=4, stem="cifar")  # encoder.json; its tensors are replaced by `ours`
    save_file({k: v.contiguous() for k, v in ours.state_dict().items() if not k.startswith("fc.")},
              str(folder / "encoder.safetensors"))
    weights = prepare_pretrained(folder, tmp_path / "out", quiet=True)
    assert weights.meta["stem"] == "cifar"
    backbone = dict(type="CifarStemResNet", depth=depth, base_channels=4, stem_channels=4, style="pytorch",
                    frozen_stages=-1, norm_eval=False, norm_cfg=dict(type="BN", requires_grad=True),
                    init_cfg=dict(type="Pretrained", checkpoint=str(weights.path), prefix="backbone."))
    mmdet_backbone = _build(backbone)
    mmdet_backbone.init_weights()
    assert set(mmdet_backbone.state_dict()) == set(weights.state)
    assert mmdet_backbone.norm1_name == "bn1" and isinstance(mmdet_backbone.maxpool, torch.nn.Identity)
    x = torch.randn(2, 3, 32, 32)
    ours.eval()
    mmdet_backbone.eval()
    with torch.no_grad():
        expected = _our_stages(ours, x)
        got = mmdet_backbone(x)
    assert [tuple(t.shape[-2:]) for t in got] == [(32, 32), (16, 16), (8, 8), (4, 4)]  # strides 1, 2, 4, 8
    for mine, theirs in zip(expected, got):
        torch.testing.assert_close(theirs, mine)


def test_fpn_strides_follow_the_cifar_stem_and_adapting_twice_changes_nothing():
    cfg = load_config(SCENES32_CONFIG)
    set_backbone_stem(cfg, "cifar")
    once = cfg.model.to_dict()
    set_backbone_stem(cfg, "cifar")
    assert cfg.model.to_dict() == once
    model = cfg.model
    assert model.backbone.type == "CifarStemResNet"
    assert model.rpn_head.anchor_generator.strides == [1, 2, 4, 8, 16]  # extra FPN level: max-pool of stride 8
    for extractor in (model.roi_head.bbox_roi_extractor, model.roi_head.mask_roi_extractor):
        assert extractor.featmap_strides == [1, 2, 4, 8] and extractor.finest_scale == 14
    assert "mcr_eval.transfer.mmdet_modules" in cfg.custom_imports["imports"]


def test_c4_strides_follow_the_cifar_stem():
    cfg = load_config(C4_CONFIG)
    set_backbone_stem(cfg, "cifar")
    assert cfg.model.rpn_head.anchor_generator.strides == [4]  # res4 output: 16 with the ImageNet stem
    assert cfg.model.roi_head.bbox_roi_extractor.featmap_strides == [4]


def test_imagenet_stem_leaves_the_config_alone_and_mismatches_are_named():
    cfg = load_config(SCENES_CONFIG)
    before = cfg.model.to_dict()
    set_backbone_stem(cfg, "imagenet")
    assert cfg.model.to_dict() == before
    cfg.model.backbone.type = "CifarStemResNet"
    with pytest.raises(ConfigError, match="imagenet stem"):
        set_backbone_stem(cfg, "imagenet")
    cfg = load_config(SCENES_CONFIG, {"model.backbone.type": "ResNeXt"})
    with pytest.raises(ConfigError, match="needs a ResNet backbone"):
        set_backbone_stem(cfg, "cifar")
    with pytest.raises(ConfigError, match="unknown encoder stem"):
        set_backbone_stem(load_config(SCENES_CONFIG), "patchify")


def test_random_init_of_a_cifar_stem_config_is_recorded_as_cifar():
    cfg = load_config(SCENES32_CONFIG, {"model.backbone.type": "CifarStemResNet"})
    weights = random_init_weights(cfg.model)
    assert weights.meta["stem"] == "cifar" and weights.meta["width"] == 16
    set_backbone_stem(cfg, weights.meta["stem"])
    assert cfg.model.rpn_head.anchor_generator.strides == [1, 2, 4, 8, 16]


def test_tiny_cifar_stem_mask_rcnn_trains_with_finite_losses(tmp_path):
    """Width-4 CIFAR-stem encoder -> Mask R-CNN on 32 px inputs: weights loaded, finite losses and grads."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    export = write_export(tmp_path / "enc", "resnet18", width=4, stem="cifar")
    weights = prepare_pretrained(export, tmp_path / "out", quiet=True)
    cfg = load_config(SCENES32_CONFIG, {"model.backbone.base_channels": 4, "model.backbone.stem_channels": 4,
                                        "model.neck.in_channels": [4, 8, 16, 32]})
    set_pretrained(cfg, str(weights.path))
    set_backbone_stem(cfg, weights.meta["stem"])
    check_fits(weights, cfg.model)
    _plain_bn(cfg)
    model = _build(cfg.model)
    model.init_weights()
    targets = next(h.targets for h in cfg.custom_hooks if h.type == "VerifyPretrainedHook")
    assert compare_to_reference(model, reference_state(str(weights.path), "backbone."), targets) == 100
    assert [s[0] for s in model.rpn_head.prior_generator.strides] == [1, 2, 4, 8, 16]

    torch.manual_seed(0)
    samples = []
    for i in range(2):
        masks = torch.zeros(2, 32, 32, dtype=torch.uint8)
        masks[0, 4:14, 5:13] = 1
        masks[1, 18:28, 16 + i:26 + i] = 1
        sample = DetDataSample(metainfo=dict(img_shape=(32, 32), ori_shape=(32, 32), pad_shape=(32, 32),
                                             scale_factor=(1.0, 1.0), batch_input_shape=(32, 32)))
        boxes = torch.tensor([[5.0, 4.0, 13.0, 14.0], [16.0 + i, 18.0, 26.0 + i, 28.0]])  # x1 y1 x2 y2 of masks
        sample.gt_instances = InstanceData(bboxes=boxes, labels=torch.tensor([0, 3]),
                                           masks=BitmapMasks(masks.numpy(), 32, 32))
        samples.append(sample)
    batch = model.data_preprocessor(dict(inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
                                                 for _ in range(2)], data_samples=samples), training=True)
    model.train()
    losses = model.loss(batch["inputs"], batch["data_samples"])
    total = sum(v.sum() for k, v in losses.items() if "loss" in k and isinstance(v, torch.Tensor))
    total = total + sum(sum(x) for k, x in losses.items() if "loss" in k and isinstance(x, list))
    assert {"loss_rpn_cls", "loss_cls", "loss_bbox", "loss_mask"} <= set(losses)
    assert torch.isfinite(total)
    total.backward()
    grad = model.backbone.conv1.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        results = model.predict(batch["inputs"], batch["data_samples"])
    assert len(results) == 2 and results[0].pred_instances.masks.shape[-2:] == (32, 32)


# Foreign CIFAR stems: same tensors, different padding (solo-learn pads its 3x3 stem by 2).


def _solo_learn_oracle(seed: int = 0) -> torch.nn.Module:
    """solo-learn's CIFAR ResNet-18 (``solo/methods/base.py``): torchvision's resnet18 with conv1 replaced by a
    3x3 stride-1 conv with padding 2, no max-pool and no fc."""
    import torchvision

    torch.manual_seed(seed)
    net = torchvision.models.resnet18()
    net.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=2, bias=False)
    net.maxpool = torch.nn.Identity()
    net.fc = torch.nn.Identity()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return net.eval()


def _save_solo_learn(oracle: torch.nn.Module, path) -> None:
    """A Lightning checkpoint in solo-learn's layout: backbone, projector and online classifier."""
    state = {"backbone." + k: v for k, v in oracle.state_dict().items()}
    state.update({"projector.0.weight": torch.zeros(32, 512), "projector.0.bias": torch.zeros(32),
                  "classifier.weight": torch.zeros(10, 512), "classifier.bias": torch.zeros(10)})
    torch.save({"epoch": 999, "global_step": 1000, "state_dict": state}, path)


def test_solo_learn_cifar_checkpoint_gives_the_oracle_features(tmp_path):
    from mcr_eval.checkpoints import load_encoder

    oracle = _solo_learn_oracle()
    path = tmp_path / "solo-learn-simclr.ckpt"
    _save_solo_learn(oracle, path)
    model, meta = load_encoder(path, report=lambda line: None)
    assert (meta["source_format"], meta["stem"], meta["stem_padding"], meta["width"]) == ("solo-learn", "cifar", 2, 64)
    assert model.conv1.padding == (2, 2) and isinstance(model.maxpool, torch.nn.Identity)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        expected, got = oracle(x), model(x)
    assert (got - expected).abs().max() < 1e-6
    # The same tensors behind our own stem padding compute something else: this is what the padding guards.
    ours, ours_meta = load_encoder(path, stem_padding=1, report=lambda line: None)
    with torch.no_grad():
        assert ours_meta["stem_padding"] == 1 and (ours(x) - expected).abs().max() > 1e-3


def test_stem_padding_is_recorded_and_survives_conversion_as_a_note(tmp_path, capsys):
    import argparse

    from mcr_eval.cli import main
    from mcr_eval.commands import knn
    from mcr_eval.commands._shared import EncoderSession
    from mcr_eval.features import feature_key

    path = tmp_path / "solo.ckpt"
    _save_solo_learn(_solo_learn_oracle(), path)
    parser = argparse.ArgumentParser()
    knn.add_arguments(parser)
    session = EncoderSession(parser.parse_args([str(path), "--data", "digits", "--no-cache"]))
    assert session.base_protocol()["stem_padding"] == 2
    assert feature_key(session.meta, "digits", "test", None)["stem_padding"] == 2  # no cache sharing with padding 1
    out = tmp_path / "tv.pth"
    assert main(["convert", str(path), "--to", "torchvision", "-o", str(out)]) == 0
    assert f"evaluate '{out}' with --stem-padding 2" in capsys.readouterr().err


@pytest.mark.parametrize(("fmt", "stem", "padding"), [
    ("solo-learn", "cifar", 2), ("mcr", "cifar", 1), ("lightly", "cifar", 1), ("mmpretrain", "cifar", 1),
    ("mmselfsup", "cifar", 1), ("moco", "cifar", 1), ("torchvision", "cifar", 1), ("solo-learn", "imagenet", 3),
])
def test_stem_padding_table(fmt, stem, padding):
    from mcr_eval.checkpoints.formats import stem_padding_for

    assert stem_padding_for(fmt, stem) == padding


def test_backbone_stem_padding_option():
    default, padded = build_backbone("resnet18", "cifar", 4), build_backbone("resnet18", "cifar", 4, stem_padding=2)
    assert default.conv1.padding == (1, 1) and padded.conv1.padding == (2, 2)
    assert build_backbone("resnet18", "imagenet", 4).conv1.padding == (3, 3)
    assert set(default.state_dict()) == set(padded.state_dict())
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="stem padding must be a non-negative integer"):
            build_backbone("resnet18", "cifar", 4, stem_padding=bad)
