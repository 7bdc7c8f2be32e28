"""The protocol configs build, stay offline, and initialize their backbone from a converted encoder."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from mcr_eval.transfer.config import check_offline, load_config, pretrained_inits, set_pretrained
from mcr_eval.transfer.mmdet_modules import compare_to_reference, reference_state
from mcr_eval.transfer.weights import check_fits, prepare_pretrained

from .conftest import CONFIGS

R50_CONFIGS = ["mask-rcnn_r50_fpn_syncbn_ms-1x_coco.py", "mask-rcnn_r50-c4_syncbn_ms-1x_coco.py",
               "faster-rcnn_r50-c4_syncbn-24k_voc0712.py"]
# C4: res5 (layer4) moves into the RoI head and is loaded from the encoder; these parameters are new.
C4_NEW_PREFIXES = ("rpn_head.", "roi_head.bbox_head.", "roi_head.mask_head.", "roi_head.shared_head.norm.")


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.py")))
def test_every_config_follows_the_protocol_and_never_downloads(name):
    cfg = load_config(CONFIGS / name)
    check_offline(cfg)
    backbone = cfg.model.backbone
    assert backbone.frozen_stages == -1 and backbone.norm_eval is False
    assert backbone.norm_cfg.type == "SyncBN"
    inits = pretrained_inits(cfg.model)
    assert inits and all(i.prefix == "backbone." for i in inits)
    assert any(h.type == "VerifyPretrainedHook" for h in cfg.custom_hooks)


def _build(cfg):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


@pytest.mark.parametrize("name", R50_CONFIGS)
def test_r50_config_builds_and_loads_the_encoder_without_missing_keys(name, r50_export, tmp_path):
    weights = prepare_pretrained(r50_export, tmp_path, quiet=True)
    cfg = load_config(CONFIGS / name)
    set_pretrained(cfg, str(weights.path))
    check_fits(weights, cfg.model)
    model = _build(cfg)
    export = load_file(str(r50_export))
    targets = next(h.targets for h in cfg.custom_hooks if h.type == "VerifyPretrainedHook")
    # raises on any backbone tensor not loaded, any differing tensor, and any encoder tensor left unused
    compared = compare_to_reference(model, reference_state(str(weights.path), "backbone."), targets)
    assert compared == len([k for k in export if not k.endswith("num_batches_tracked")])
    assert torch.equal(model.backbone.conv1.weight, export["conv1.weight"])
    if "c4" in name:
        assert not hasattr(model.backbone, "layer4")
        assert torch.equal(model.roi_head.shared_head.layer4[0].conv1.weight, export["layer4.0.conv1.weight"])
        loaded = {f"backbone.{k}" for k in model.backbone.state_dict()}
        loaded |= {f"roi_head.shared_head.{k}" for k in model.roi_head.shared_head.state_dict()
                   if k.startswith("layer4.")}
        new = {k for k in model.state_dict() if k not in loaded}
        assert new and all(k.startswith(C4_NEW_PREFIXES) for k in new)
        assert any(k.startswith("roi_head.shared_head.norm.") for k in new)
    else:
        assert torch.equal(model.backbone.layer4[2].bn3.running_var, export["layer4.2.bn3.running_var"])


def test_random_init_removes_pretrained_loading(tmp_path):
    cfg = load_config(CONFIGS / "mask-rcnn_r50-c4_syncbn_ms-1x_coco.py")
    set_pretrained(cfg, None)
    assert pretrained_inits(cfg.model) == []
    assert not any(h.type == "VerifyPretrainedHook" for h in cfg.custom_hooks)


def test_torchvision_supervised_state_dict_is_a_baseline(tmp_path):
    """A torchvision classifier state dict (fc included) from a local path fits the R18 config."""
    import torchvision

    path = tmp_path / "resnet18_supervised.pth"
    torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), path)
    weights = prepare_pretrained(path, tmp_path / "out", quiet=True)
    assert weights.meta["method"] == "supervised" and not any(k.startswith("fc.") for k in weights.state)
    check_fits(weights, load_config(CONFIGS / "mask-rcnn_r18_fpn_syncbn-1xb4-12e_scenes.py").model)
    saved = torch.load(weights.path, weights_only=True)["state_dict"]
    assert set(saved) == {f"backbone.{k}" for k in weights.state}


@pytest.mark.parametrize("name", R50_CONFIGS)
def test_training_is_multi_scale_like_detectron2(name):
    resize = load_config(CONFIGS / name).train_dataloader.dataset
    resize = resize.datasets[0].pipeline[2] if "datasets" in resize else resize.pipeline[2]
    shorter = sorted(min(scale) for scale in resize.scales)
    assert resize.type == "RandomChoiceResize" and resize.keep_ratio
    assert shorter[-1] == 800 and shorter[0] == (480 if "voc" in name else 640)
