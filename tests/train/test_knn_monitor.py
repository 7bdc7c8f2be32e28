"""The online kNN monitor wired in by a training config: it logs at the right iterations, its number is the
kNN of the encoder at that point, and it does not change training (same weights as an unmonitored run)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from mcr_eval.checkpoints import load_encoder
from mcr_eval.features import extract_features
from mcr_eval.probes.knn import knn_evaluate
from mcr_train.cli import main, prepare_training, run_training
from mcr_train.engine.knn_monitor import KnnMonitorHook
from mcr_train.errors import ConfigError
from tests.train.conftest import scenes_config, tiny_options

ITERS = 4


def args(work_dir, *extra: str) -> list[str]:
    opts = tiny_options("simclr", n=48, batch=16) + ["deterministic=True", *extra]
    return [scenes_config("simclr"), "--work-dir", str(work_dir), "--max-iters", str(ITERS), "--cfg-options", *opts]


# Device views draw their augmentations from the global random state, which the monitor must not advance.
@pytest.mark.parametrize("device_views", [False, True])
def test_monitor_logs_the_encoders_knn_and_leaves_training_unchanged(tmp_path, device_views):
    views = f"data.device_views={device_views}"
    run_training(prepare_training(args(tmp_path / "plain", views)))
    job = prepare_training(args(tmp_path / "monitored", views, "knn_monitor.interval=2", "knn_monitor.max_train=40",
                                "knn_monitor.max_test=20", "knn_monitor.k=5"))
    run_training(job)
    (hook,) = [h for h in job.runner.hooks if isinstance(h, KnnMonitorHook)]
    assert [h["iter"] for h in hook.history] == [2, 4]

    plain = load_file(str(tmp_path / "plain" / "encoder.safetensors"))
    monitored = load_file(str(tmp_path / "monitored" / "encoder.safetensors"))
    assert all(torch.equal(plain[k], monitored[k]) for k in plain)

    # The last logged kNN is that of the exported encoder on the held-out pair, recomputed independently.
    encoder, _ = load_encoder(tmp_path / "monitored", report=lambda line: None)
    train_set, test_set = hook._get_datasets()
    feats = [extract_features(encoder, ds, progress=False, device="cpu", convert_model=False)
             for ds in (train_set, test_set)]
    (expected,) = knn_evaluate(feats[0].features, feats[0].labels, feats[1].features, feats[1].labels, ((5, 0.1),))
    assert len(train_set) == 40 and len(test_set) == 20
    assert hook.history[-1]["knn/top1"] == pytest.approx(expected["top1"], abs=1e-12)


def test_bad_monitor_interval_is_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args(tmp_path, "knn_monitor.interval=-1"))
    err = capsys.readouterr().err.strip()
    assert exc.value.code != 0 and len(err.splitlines()) == 1 and "knn_monitor.interval" in err


def test_custom_hooks_need_a_type(tmp_path):
    from mmengine.config import Config

    from mcr_train.engine.monitor import config_hooks

    with pytest.raises(ConfigError, match="custom_hooks needs a 'type'"):
        config_hooks(Config(dict(custom_hooks=[dict(interval=1)], knn_monitor=dict(interval=0))), [0.5] * 3, [0.2] * 3)
