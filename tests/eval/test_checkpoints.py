"""Encoder loading (our export + foreign layouts), safety refusals and conversion."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn

from mcr_eval.checkpoints import detect_format, load_encoder, strip_prefix
from mcr_eval.checkpoints.convert import detectron2_name
from mcr_eval.cli import main
from mcr_train.errors import CheckpointError


def export_encoder(model, folder, **meta):
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "encoder.safetensors"))
    info = {
        "format": "mcr-encoder/1",
        "method": "simclr",
        "regularizer": {"type": "mcr", "lambda1": 1.0},
        "arch": "resnet18",
        "stem": "cifar",
        "width": 8,
        "feature_dim": model.num_features,
        "input_size": 32,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
        "pretrain_data": "scenes",
        "epochs": 3,
        "seed": 0,
    }
    info.update(meta)
    (folder / "encoder.json").write_text(json.dumps(info))
    return folder / "encoder.safetensors"


def assert_same_weights(model, reference_state):
    got = model.state_dict()
    for key, value in reference_state.items():
        if key.startswith("fc."):
            continue
        assert torch.equal(got[key], value), key


def test_our_export_round_trip(tmp_path, make_encoder):
    source = make_encoder(seed=3)
    path = export_encoder(source, tmp_path / "run1")
    for target in (path, tmp_path / "run1"):
        model, meta = load_encoder(target)
        assert_same_weights(model, source.state_dict())
        assert (meta["method"], meta["source_format"], meta["arch"], meta["stem"], meta["width"]) == (
            "simclr",
            "mcr",
            "resnet18",
            "cifar",
            8,
        )
        assert meta["regularizer"]["type"] == "mcr" and len(meta["checkpoint_sha256"]) == 64
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), source(x), atol=1e-6)


def test_torchvision_resnet_saved_by_torchvision(tmp_path):
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(num_classes=10).eval()
    path = tmp_path / "tv.pth"
    torch.save(tv.state_dict(), path)
    lines = []
    model, meta = load_encoder(path, report=lines.append)
    assert meta["source_format"] == "torchvision" and (meta["arch"], meta["stem"], meta["width"]) == (
        "resnet18",
        "imagenet",
        64,
    )
    assert any("fc.weight" in line and "head" in line for line in lines)
    tv.fc = nn.Identity()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), tv(x), atol=1e-5)


def _lightly_style_model(resnet: nn.Module) -> nn.Module:
    class LightlySimCLR(nn.Module):  # the layout of lightly's examples and benchmarks
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(*list(resnet.children())[:-1])
            self.projection_head = nn.Sequential(nn.Linear(512, 32), nn.ReLU(), nn.Linear(32, 16))

    return LightlySimCLR()


@pytest.mark.parametrize("layout", ["solo-learn", "mmpretrain", "lightly", "moco"])
def test_foreign_layouts(tmp_path, layout, make_encoder):
    source = make_encoder(seed=5)
    tv_state = source.state_dict()
    if layout == "solo-learn":
        state = {"backbone." + k: v for k, v in tv_state.items()}
        state.update(
            {
                "momentum_backbone.conv1.weight": torch.zeros(8, 3, 3, 3),
                "projector.0.weight": torch.zeros(4, 64),
                "classifier.weight": torch.zeros(10, 64),
            }
        )
        payload = {"state_dict": state, "epoch": 3}
    elif layout == "mmpretrain":
        state = {"backbone." + k: v for k, v in tv_state.items()}
        state.update({"neck.mlp.0.weight": torch.zeros(4, 64), "head.loss.weight": torch.zeros(1)})
        payload = {"state_dict": state, "meta": {"epoch": 3, "mmengine_version": "0.10.7"}}
    elif layout == "lightly":
        torch.manual_seed(5)
        resnet = torchvision.models.resnet18()  # lightly's CIFAR recipe: 3x3 stem, no max-pool
        resnet.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        resnet.maxpool = nn.Identity()
        tv_state = {k: v for k, v in resnet.state_dict().items() if not k.startswith("fc.")}
        payload = {"state_dict": _lightly_style_model(resnet).state_dict()}
    else:
        state = {"module.encoder_q." + k: v for k, v in tv_state.items()}
        state.update(
            {
                "module.encoder_q.fc.0.weight": torch.zeros(64, 64),
                "module.encoder_q.fc.2.weight": torch.zeros(16, 64),
                "module.encoder_k.conv1.weight": torch.zeros(8, 3, 3, 3),
                "module.queue": torch.zeros(16, 8),
            }
        )
        payload = {"arch": "resnet18", "epoch": 200, "state_dict": state}
    path = tmp_path / f"{layout}.pth"
    torch.save(payload, path)
    lines = []
    model, meta = load_encoder(path, report=lines.append)
    assert meta["source_format"] == layout
    assert_same_weights(model, tv_state)
    if layout == "moco":
        assert any("module.encoder_q.fc.0.weight" in line for line in lines)
    if layout == "lightly":
        assert any("projection_head" in line for line in lines)


def test_prefix_rules_are_exact():
    assert strip_prefix("backbone.bn1.weight", "backbone.") == "bn1.weight"
    assert "backbone.bn1.weight".lstrip("backbone.") != "bn1.weight"  # noqa: B005 - why lstrip is never used
    assert strip_prefix("momentum_backbone.conv1.weight", "backbone.") is None
    assert detect_format(["momentum_backbone.conv1.weight", "conv1.weight"]) == "torchvision"


class Payload:
    """Pickles to ``open(path, 'w')``: unpickling it creates a file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_payload_is_refused_and_never_runs(tmp_path, capsys, make_encoder):
    state = make_encoder().state_dict()
    armed = tmp_path / "armed.pth"
    marker = tmp_path / "PAYLOAD_RAN"
    torch.save({"state_dict": state, "extra": Payload(marker)}, armed)
    # The payload is real: unrestricted unpickling of an identical file creates its file.
    proof_marker = tmp_path / "proof"
    proof = tmp_path / "proof.pth"
    torch.save({"extra": Payload(proof_marker)}, proof)
    torch.load(proof, weights_only=False)
    assert proof_marker.exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", str(armed), "--to", "torchvision", "-o", str(tmp_path / "out.pth")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: refusing checkpoint") and err.count("\n") == 1
    assert not marker.exists()
    with pytest.raises(CheckpointError):
        load_encoder(armed)
    assert not marker.exists()


def _expect_exit(argv, capsys, *words):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err


def test_bad_checkpoints_fail_with_one_line(tmp_path, capsys, make_encoder):
    source = make_encoder()
    good = export_encoder(source, tmp_path / "run")
    out = str(tmp_path / "o.pth")
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"this is not a checkpoint" * 10)
    _expect_exit(["convert", str(corrupt), "--to", "torchvision", "-o", out], capsys, "corrupt")
    truncated = tmp_path / "trunc" / "encoder.safetensors"
    truncated.parent.mkdir()
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _expect_exit(["convert", str(truncated), "--to", "torchvision", "-o", out], capsys, "truncated")
    full = tmp_path / "full.pth"
    torch.save(source.state_dict(), full)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(full.read_bytes()[:-4000])
    _expect_exit(["convert", str(cut), "--to", "torchvision", "-o", out], capsys, "cut.pth")
    _expect_exit(["convert", str(tmp_path / "nope.pth"), "--to", "torchvision", "-o", out], capsys, "does not exist")
    _expect_exit(
        ["convert", str(good), "--arch", "resnet50", "--to", "torchvision", "-o", out],
        capsys,
        "resnet50",
        "resnet18-cifar-w8",
    )
    partial = {k: v for k, v in source.state_dict().items() if not k.startswith("layer4.1.")}
    missing = tmp_path / "missing.pth"
    torch.save(partial, missing)
    _expect_exit(["convert", str(missing), "--to", "torchvision", "-o", out], capsys, "missing keys", "layer4.1.")


def test_convert_to_torchvision_and_mmdet(tmp_path, make_encoder):
    from mmdet.models.backbones import ResNet as MMDetResNet

    source = make_encoder(seed=2, width=16, stem="imagenet")
    path = export_encoder(source, tmp_path / "run", stem="imagenet", width=16)
    tv_out, mm_out = tmp_path / "tv.pth", tmp_path / "mmdet.pth"
    assert main(["convert", str(path), "--to", "torchvision", "-o", str(tv_out)]) == 0
    assert main(["convert", str(path), "--to", "mmdet", "-o", str(mm_out)]) == 0
    tv_state = torch.load(tv_out, weights_only=True)
    assert set(tv_state) == set(source.state_dict())
    mmdet_resnet = MMDetResNet(depth=18, base_channels=16, stem_channels=16, out_indices=(3,))
    mmdet_resnet.eval()  # mmdet's ResNet.train() returns None, so no chaining
    blob = torch.load(mm_out, weights_only=True)
    assert all(k.startswith("backbone.") for k in blob["state_dict"])
    stripped = {k[len("backbone.") :]: v for k, v in blob["state_dict"].items()}  # init_cfg prefix='backbone.'
    result = mmdet_resnet.load_state_dict(stripped, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        pooled = mmdet_resnet(x)[-1].mean(dim=(2, 3))
        assert torch.allclose(pooled, source(x), atol=1e-5)


def test_convert_to_torchvision_loads_into_torchvision(tmp_path, make_encoder):
    source = make_encoder(seed=2, width=64, stem="imagenet")
    path = export_encoder(source, tmp_path / "run", stem="imagenet", width=64)
    out = tmp_path / "tv.safetensors"
    assert main(["convert", str(path), "--to", "torchvision", "-o", str(out)]) == 0
    from safetensors.torch import load_file

    result = torchvision.models.resnet18().load_state_dict(load_file(str(out)), strict=False)
    assert sorted(result.missing_keys) == ["fc.bias", "fc.weight"] and not result.unexpected_keys


def test_float16_copy_halves_the_file_and_evaluates_like_the_original(tmp_path, make_encoder):
    from safetensors.torch import load_file

    from mcr_eval.checkpoints import load_encoder

    source = make_encoder(seed=3, width=16, stem="cifar")
    path = export_encoder(source, tmp_path / "run", stem="cifar", width=16)
    half = tmp_path / "half"
    half.mkdir()
    (half / "encoder.json").write_text((tmp_path / "run" / "encoder.json").read_text())
    out = half / "encoder.safetensors"
    assert main(["convert", str(path), "--to", "torchvision", "--dtype", "float16", "-o", str(out)]) == 0
    tensors = load_file(str(out))
    assert {v.dtype for v in tensors.values() if v.is_floating_point()} == {torch.float16}
    assert out.stat().st_size < 0.55 * (tmp_path / "run" / "encoder.safetensors").stat().st_size
    model, _ = load_encoder(str(half), report=lambda line: None)
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        assert next(model.parameters()).dtype == torch.float32
        torch.testing.assert_close(model(x), source.eval()(x), rtol=2e-2, atol=2e-2)
    with pytest.raises(SystemExit):
        main(["convert", str(path), "--to", "mmdet", "--dtype", "float16", "-o", str(tmp_path / "m.pth")])


def test_convert_to_detectron2(tmp_path, make_encoder):
    source = make_encoder(seed=4)
    path = export_encoder(source, tmp_path / "run")
    out = tmp_path / "d2.pkl"
    assert main(["convert", str(path), "--to", "detectron2", "-o", str(out)]) == 0
    with open(out, "rb") as handle:
        blob = pickle.load(handle)  # our own file, written by the line above
    assert blob["matching_heuristics"] is True
    expected = {
        "stem.conv1.weight": "conv1.weight",
        "stem.conv1.norm.weight": "bn1.weight",
        "stem.conv1.norm.running_var": "bn1.running_var",
        "res2.0.conv1.weight": "layer1.0.conv1.weight",
        "res2.1.conv2.norm.bias": "layer1.1.bn2.bias",
        "res3.0.shortcut.weight": "layer2.0.downsample.0.weight",
        "res3.0.shortcut.norm.running_mean": "layer2.0.downsample.1.running_mean",
        "res5.1.conv2.norm.weight": "layer4.1.bn2.weight",
    }
    state = source.state_dict()
    for d2_name, tv_name in expected.items():
        assert (blob["model"][d2_name] == state[tv_name].numpy()).all()
    assert len(blob["model"]) == len([k for k in state if not k.endswith("num_batches_tracked")])
    assert detectron2_name("layer3.2.downsample.1.weight") == "res4.2.shortcut.norm.weight"


@pytest.mark.parametrize(("arch", "stem", "width"), [("resnet50", "imagenet", 8), ("resnet34", "cifar", 4)])
def test_architecture_is_read_from_weight_shapes(tmp_path, make_encoder, arch, stem, width):
    source = make_encoder(seed=0, width=width, stem=stem, arch=arch)
    path = tmp_path / "plain.pth"
    torch.save(source.state_dict(), path)
    model, meta = load_encoder(path)
    assert (meta["arch"], meta["stem"], meta["width"], meta["source_format"]) == (arch, stem, width, "torchvision")
    assert_same_weights(model, source.state_dict())


def test_bad_metadata_and_format_fail_with_one_line(tmp_path, capsys, make_encoder):
    path = export_encoder(make_encoder(), tmp_path / "run")
    out = str(tmp_path / "o.pth")
    _expect_exit(["convert", str(path), "--to", "torchvision", "--format", "moco", "-o", out], capsys, "moco")
    (tmp_path / "run" / "encoder.json").write_text("{not json")
    _expect_exit(["convert", str(path), "--to", "torchvision", "-o", out], capsys, "encoder.json")
    _expect_exit(["convert", str(tmp_path / "empty"), "--to", "torchvision", "-o", out], capsys, "does not exist")
    (tmp_path / "zero.pth").write_bytes(b"")
    _expect_exit(["convert", str(tmp_path / "zero.pth"), "--to", "torchvision", "-o", out], capsys, "0 bytes")
