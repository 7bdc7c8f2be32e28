"""Shared fixtures: one small factor-scene audit set (32 px) with its reference probes."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from mcr_eval.audit.planted import PLANTED
from mcr_eval.audit.runner import AuditedEncoder, SceneAudit
from mcr_eval.audit.scene_inputs import PixelSpaceEncoder
from mcr_train.models.backbone import build_backbone

torch.set_num_threads(2)

AUDIT_N = 400


@pytest.fixture(scope="session")
def scene_audit() -> SceneAudit:
    return SceneAudit(n=AUDIT_N, size=32, seed=0, folds=5, counterfactuals=80, batch_size=200)


def planted_encoder(name: str, views: str = "simclr_cifar") -> AuditedEncoder:
    from mcr_eval.audit.factors import destroyed_from_views
    from mcr_eval.audit.planted import planted_meta

    meta = planted_meta(name, views)
    return AuditedEncoder(f"planted-{name}", PixelSpaceEncoder(PLANTED[name](), meta["mean"], meta["std"]), meta,
                          destroyed_from_views(views), views)


@pytest.fixture(scope="session")
def planted_audits(scene_audit):
    """Retention audits (with interventions) of the three planted encoders."""
    return {name: scene_audit.run(planted_encoder(name)) for name in PLANTED}


def export_encoder(folder, seed: int = 0, width: int = 4, views: str | None = "simclr_cifar", **extra) -> str:
    """A random-init ResNet-18 written as our export (encoder.safetensors + encoder.json)."""
    torch.manual_seed(seed)
    model = build_backbone("resnet18", "cifar", width)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "encoder.safetensors"))
    meta = {"format": "mcr-encoder/1", "method": "simclr", "regularizer": {"type": "none"}, "arch": "resnet18",
            "stem": "cifar", "width": width, "feature_dim": model.num_features, "input_size": 32,
            "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "pretrain_data": "scenes", "epochs": 0,
            "iters": 0, "seed": seed, **extra}
    if views is not None:
        from mcr_eval.audit.factors import destroyed_from_views

        meta.update(views=views, destroyed_factors=destroyed_from_views(views))
    (folder / "encoder.json").write_text(json.dumps(meta))
    return str(folder)
