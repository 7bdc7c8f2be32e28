"""The online kNN monitor inside a real (tiny) mmengine Runner."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.registry import HOOKS
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mcr_eval.features import extract_features
from mcr_eval.probes.knn import knn_evaluate
from mcr_train.engine.knn_monitor import KnnMonitorHook
from mcr_train.models.backbone import build_backbone


class TinySupervised(BaseModel):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.backbone = build_backbone("resnet18", "cifar", 8)
        self.head = nn.Linear(self.backbone.num_features, 10)

    def forward(self, inputs, labels=None, mode="loss"):
        feats = self.backbone(inputs)
        if mode == "loss":
            return {"loss": F.cross_entropy(self.head(feats), labels)}
        return feats


def test_knn_hook_logs_every_epoch_to_message_hub_and_tensorboard(tmp_path, digits_images):
    assert HOOKS.get("KnnMonitorHook") is KnnMonitorHook
    train_x, train_y, test_x, test_y = digits_images
    held_out = (TensorDataset(train_x[:300], train_y[:300]), TensorDataset(test_x[:100], test_y[:100]))
    runner = Runner(
        model=TinySupervised(),
        work_dir=str(tmp_path),
        train_dataloader=DataLoader(TensorDataset(train_x[:128], train_y[:128]), batch_size=32, shuffle=True),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.05)),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        custom_hooks=[dict(type="KnnMonitorHook", data=held_out, interval=1, k=20, temperature=0.07)],
        default_hooks=dict(checkpoint=None),
        visualizer=dict(type="Visualizer", vis_backends=[dict(type="TensorboardVisBackend")]),
        default_scope=None,
    )
    runner.train()
    hook = next(h for h in runner.hooks if isinstance(h, KnnMonitorHook))
    assert [h["epoch"] for h in hook.history] == [0, 1]
    assert runner.model.training  # the monitor restores train mode
    top1 = runner.message_hub.get_scalar("knn/top1")
    assert len(top1.data[0]) == 2 and top1.current() == hook.history[-1]["knn/top1"]
    # The logged number is the kNN of the final encoder, computed independently here.
    feats = [extract_features(runner.model.backbone, ds, progress=False, device="cpu") for ds in held_out]
    expected = knn_evaluate(feats[0].features, feats[0].labels, feats[1].features, feats[1].labels, ((20, 0.07),))
    assert top1.current() == expected[0]["top1"] > 0.2
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    event_dirs = [p.parent for p in tmp_path.rglob("events.out.tfevents.*")]
    tags = set()
    for folder in event_dirs:
        acc = EventAccumulator(str(folder))
        acc.Reload()
        tags |= set(acc.Tags().get("scalars", []))
    assert "knn/top1" in tags and "knn/top5" in tags


def test_knn_hook_builds_held_out_data_from_a_spec():
    hook = KnnMonitorHook(data="digits", input_size=8, max_train=100, max_test=40, k=20)
    train_set, test_set = hook._get_datasets()
    assert (len(train_set), len(test_set)) == (100, 40)
    image, label = test_set[0]
    assert tuple(image.shape) == (3, 8, 8) and isinstance(label, int)
