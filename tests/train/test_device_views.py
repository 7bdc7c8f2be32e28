"""Device-side (kornia) views draw the same augmentation statistics as the CPU torchvision path."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import ks_2samp
from torchvision.transforms import v2

from mcr_train.views import build_views
from mcr_train.views.device import DeviceTwoViewPreprocessor, build_device_view
from mcr_train.views.recipes import VIEW_RECIPES

N, H = 2000, 64
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def cpu_ops(name: str):
    view = build_views(name, 32, MEAN, STD).views[0]
    crop = next(t for t in view.transforms if isinstance(t, v2.RandomResizedCrop))
    jitter_apply = next(t for t in view.transforms if isinstance(t, v2.RandomApply))
    return crop, jitter_apply


def test_crop_scale_distribution_matches_cpu():
    torch.manual_seed(0)
    crop, _ = cpu_ops("simclr_cifar")
    img = torch.zeros(3, H, H)
    cpu = np.array([(p["height"] * p["width"]) / H**2 for p in (crop.make_params([img]) for _ in range(N))])
    device_crop = build_device_view(VIEW_RECIPES["simclr_cifar"][0], 32, MEAN, STD)[0]
    src = device_crop.forward_parameters(torch.Size([N, 3, H, H]))["src"]
    w = src[:, 1, 0] - src[:, 0, 0] + 1
    h = src[:, 2, 1] - src[:, 1, 1] + 1
    dev = (w * h / H**2).numpy()
    assert ks_2samp(cpu, dev).pvalue > 0.01
    assert abs(cpu.mean() - dev.mean()) < 0.03


def test_jitter_factors_and_probability_match_cpu():
    torch.manual_seed(0)
    _, apply = cpu_ops("byol_cifar")
    jitter = apply.transforms[0]
    img = torch.zeros(3, 8, 8)
    cpu_brightness = np.array([jitter.make_params([img])["brightness_factor"] for _ in range(N)])
    cpu_hue = np.array([jitter.make_params([img])["hue_factor"] for _ in range(N)])
    cpu_applied = np.mean([float(torch.rand(1) < apply.p) for _ in range(N)])
    device_jitter = build_device_view(VIEW_RECIPES["byol_cifar"][0], 32, MEAN, STD)[1]
    params = device_jitter.forward_parameters(torch.Size([N, 3, 8, 8]))
    applied = params["batch_prob"].numpy() > 0.5
    assert abs(applied.mean() - cpu_applied) < 0.04 and abs(applied.mean() - 0.8) < 0.04
    assert ks_2samp(cpu_brightness, params["brightness_factor"].numpy()[applied]).pvalue > 0.01
    assert ks_2samp(cpu_hue, params["hue_factor"].numpy()[applied]).pvalue > 0.01


def test_preprocessor_builds_two_normalized_views():
    torch.manual_seed(0)
    pre = DeviceTwoViewPreprocessor("simclr_cifar", 16, MEAN, STD)
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    out = pre(dict(inputs=images, data_samples=torch.arange(8)), training=True)
    v1, v2_ = out["inputs"]
    assert v1.shape == v2_.shape == (8, 3, 16, 16) and not torch.equal(v1, v2_)
    assert float(v1.min()) >= -2.5 and float(v1.max()) <= 2.5  # (x - 0.5) / 0.25 for x in [0, 1]


def test_training_with_device_views(tmp_path):
    from mcr_train.cli import prepare_training, run_training
    from tests.train.conftest import logged_scalars, scenes_config, tiny_options

    opts = tiny_options("simclr", n=16, batch=8) + ["data.device_views=True"]
    job = prepare_training(
        [scenes_config("simclr"), "--work-dir", str(tmp_path), "--max-iters", "3", "--cfg-options", *opts]
    )
    run_training(job)
    assert len([r for r in logged_scalars(tmp_path) if "loss" in r]) == 3
    assert (tmp_path / "encoder.safetensors").is_file()
