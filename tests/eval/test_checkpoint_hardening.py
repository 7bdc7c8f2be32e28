"""Checkpoint and export hardening: refusal messages, encoder.json schema, file modes, byte-determinism,
stale temp files, and the input normalization options of the probe commands."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from mcr_eval.checkpoints import load_encoder
from mcr_eval.checkpoints.safe_io import read_raw_checkpoint, save_state_dict
from mcr_eval.cli import main
from mcr_eval.commands import knn
from mcr_eval.commands._shared import EncoderSession
from mcr_eval.data import center_crop_transform, load_split
from mcr_eval.features import FeatureCache, FeatureSet, feature_key
from mcr_train.atomic_files import atomic_write, clean_stale_temps
from mcr_train.errors import CheckpointError
from mcr_train.export import REQUIRED_KEYS, export_encoder

MEAN, STD = [0.2, 0.2, 0.2], [0.35, 0.35, 0.35]


def one_line_error(argv, capsys) -> str:
    """Run the CLI, expect exit 2 and exactly one ``error: ...`` line; return that line."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("[mcr-eval]")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def full_meta(width: int = 8, **extra) -> dict:
    meta = {k: "x" for k in REQUIRED_KEYS}
    meta.update(format="mcr-encoder/1", method="simclr", regularizer={"type": "none"}, arch="resnet18", stem="cifar",
                width=width, feature_dim=8 * width, input_size=8, mean=MEAN, std=STD, pretrain_data="digits",
                views="simclr_cifar", destroyed_factors=["color"], epochs=1, iters=10, seed=0, **extra)
    return meta


# Item 3: pickled code is refused with its own message; truncated files keep theirs.


class Payload:
    """Unpickling it would call ``os.system``; the loader must refuse it without running it."""

    def __reduce__(self):
        return (os.system, ("echo PAYLOAD_RAN",))


@pytest.mark.parametrize("zipfile", [True, False])
def test_pickled_code_is_named_as_such(tmp_path, capsys, make_encoder, zipfile):
    armed = tmp_path / "armed.pth"
    torch.save({"state_dict": make_encoder().state_dict(), "extra": Payload()}, armed,
               _use_new_zipfile_serialization=zipfile)
    line = one_line_error(["convert", str(armed), "--to", "torchvision", "-o", str(tmp_path / "o.pth")], capsys)
    system = os.system.__module__  # 'posix' on Linux
    assert line == (
        f"error: refusing checkpoint '{armed}': it holds pickled code ({system}.system), which is never executed; "
        "re-save the weights with torch.save(model.state_dict()) or export them to .safetensors"
    )
    assert "weights_only" not in line and "corrupt" not in line


@pytest.mark.parametrize("zipfile", [True, False])
def test_truncated_torch_files_keep_the_truncated_message(tmp_path, make_encoder, zipfile):
    full = tmp_path / "full.pth"
    torch.save(make_encoder().state_dict(), full, _use_new_zipfile_serialization=zipfile)
    for cut in (64, 4000, full.stat().st_size // 2):
        part = tmp_path / f"cut{cut}.pth"
        part.write_bytes(full.read_bytes()[:-cut])
        with pytest.raises(CheckpointError) as info:
            read_raw_checkpoint(part)
        message = str(info.value)
        assert "corrupt or truncated" in message and "pickled code" not in message and "weights_only" not in message


# Item 4: encoder.json is validated before its fields are used.


def _run_with_meta(tmp_path, make_encoder, meta) -> str:
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    model = make_encoder(width=8)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "encoder.safetensors"))
    (folder / "encoder.json").write_text(json.dumps(meta))
    return str(folder)


def test_encoder_json_with_only_format_names_the_missing_fields(tmp_path, capsys, make_encoder):
    run = _run_with_meta(tmp_path, make_encoder, {"format": "mcr-encoder/1"})
    line = one_line_error(["convert", run, "--to", "torchvision", "-o", str(tmp_path / "o.pth")], capsys)
    assert line == (
        f"error: encoder metadata '{run}/encoder.json' lacks the required fields method, regularizer, arch, stem, "
        "width, input_size, mean, std, pretrain_data, epochs, seed; re-export the encoder with mcr-train, or delete "
        "the file to load the weights as a plain torchvision state dict"
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("width", "sixteen", "'width' is \"sixteen\" (str), expected a positive integer"),
        ("width", True, "'width' is true (bool), expected a positive integer"),
        ("stem", "tiny", "'stem' is \"tiny\" (str), expected one of cifar, imagenet"),
        ("mean", [0.5, 0.5], "'mean' is [0.5, 0.5] (list), expected a list of 3 numbers"),
        ("std", [0.2, 0.0, 0.2], "'std' is [0.2, 0.0, 0.2] (list), expected a list of 3 positive numbers"),
        ("format", "mcr-encoder/9", "'format' is \"mcr-encoder/9\" (str), expected the string 'mcr-encoder/1'"),
        ("stem_padding", -1, "'stem_padding' is -1 (int), expected a non-negative integer"),
    ],
)
def test_encoder_json_wrong_type_is_named(tmp_path, capsys, make_encoder, field, value, expected):
    run = _run_with_meta(tmp_path, make_encoder, {"format": "mcr-encoder/1", **full_meta(), field: value})
    line = one_line_error(["convert", run, "--to", "torchvision", "-o", str(tmp_path / "o.pth")], capsys)
    assert line == (
        f"error: encoder metadata '{run}/encoder.json' has a wrong value: {expected}; correct it in the file or "
        "re-export the encoder with mcr-train"
    )


def test_exported_metadata_passes_the_schema(tmp_path, make_encoder):
    weights, _ = export_encoder(make_encoder(width=8), tmp_path / "run", full_meta())
    model, meta = load_encoder(weights)
    assert meta["stem_padding"] == 1 and model.conv1.padding == (1, 1)


# Items 5 and 6: exports are world-readable and byte-deterministic.


@pytest.fixture
def strict_umask():
    old = os.umask(0o077)
    yield
    os.umask(old)


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_exports_and_conversions_are_mode_0644(tmp_path, make_encoder, strict_umask):
    weights, info = export_encoder(make_encoder(width=8), tmp_path / "run", full_meta())
    assert mode_of(weights) == mode_of(info) == 0o644
    for target, name in (("torchvision", "tv.pth"), ("torchvision", "tv.safetensors"), ("mmdet", "mm.pth"),
                         ("detectron2", "d2.pkl")):
        out = tmp_path / "converted" / name
        assert main(["convert", str(weights), "--to", target, "-o", str(out)]) == 0
        assert mode_of(out) == 0o644, name
    cache = FeatureCache(tmp_path / "cache")
    path = cache.save({"a": 1}, FeatureSet(torch.zeros(2, 3), torch.zeros(2, dtype=torch.int64)))
    assert mode_of(path) == 0o644


def test_export_is_byte_deterministic_and_keys_the_cache_equally(tmp_path, make_encoder):
    model = make_encoder(seed=3, width=8)
    blobs, keys = set(), set()
    for attempt in range(8):
        weights, info = export_encoder(model, tmp_path / f"run{attempt}", full_meta())
        blobs.add((weights.read_bytes(), info.read_bytes()))
        _, meta = load_encoder(weights)
        transform = center_crop_transform(8, MEAN, STD)
        keys.add(FeatureCache.key(feature_key(meta, "digits", "test", transform)))
    assert len(blobs) == 1 and len(keys) == 1
    exported = load_file(str(weights))
    assert all(torch.equal(exported[k], v) for k, v in model.state_dict().items())
    size = int.from_bytes(weights.read_bytes()[:8], "little")
    header = json.loads(weights.read_bytes()[8 : 8 + size])
    assert list(header["__metadata__"]) == sorted(header["__metadata__"]) and size % 8 == 0


def test_converted_safetensors_with_many_metadata_keys_are_identical(tmp_path, make_encoder):
    state = make_encoder(seed=1, width=4).state_dict()
    metadata = {f"key{i}": str(i) for i in range(12)}
    blobs = {save_state_dict(state, tmp_path / f"s{i}.safetensors", metadata).read_bytes() for i in range(6)}
    assert len(blobs) == 1
    loaded = load_file(str(tmp_path / "s0.safetensors"))
    assert set(loaded) == set(state) and all(torch.equal(loaded[k], state[k]) for k in state)


# Item 7: temp files of a killed writer are removed at the next start; live ones and foreign names are kept.


def test_stale_export_temps_are_removed_and_others_kept(tmp_path, make_encoder):
    run = tmp_path / "run"
    run.mkdir()
    stale = [run / ".encoder.safetensors.ab12cd_9.tmp", run / ".encoder.json.zz9_8xy7.tmp"]
    kept = [run / ".iter_10.pth.ab12cd_9.tmp", run / "encoder.tmp", run / "notes.txt"]
    live = run / ".encoder.json.live1234.tmp"
    for path in [*stale, *kept, live]:
        path.write_bytes(b"partial")
    with open(live, "rb") as holder:  # a concurrent writer holds its temp file's lock
        fcntl.flock(holder, fcntl.LOCK_EX)
        export_encoder(make_encoder(width=8), run, full_meta())
        assert live.exists()
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    assert sorted(p.name for p in run.iterdir() if p.name.endswith(".tmp")) == sorted(
        [".iter_10.pth.ab12cd_9.tmp", "encoder.tmp", live.name]
    )


def test_a_killed_writer_leaves_a_temp_file_that_the_next_start_removes(tmp_path):
    """A real writer process, killed with SIGKILL in the middle of a write."""
    target = tmp_path / "cache" / ("0" * 32 + ".safetensors")
    script = (
        "import sys, time\n"
        "from mcr_train.atomic_files import atomic_write\n"
        "def write(tmp):\n"
        "    with open(tmp, 'wb') as handle:\n"
        "        handle.write(b'half a file')\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(120)\n"
        f"atomic_write({str(target)!r}, write)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        (temp,) = [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
        FeatureCache(target.parent)  # a second evaluation starts while the first one writes
        assert temp.exists()
    finally:
        proc.kill()
        proc.wait()
    FeatureCache(target.parent)
    assert not temp.exists() and not target.exists()
    unrelated = target.parent / ".results.jsonl.abcdefgh.tmp"
    unrelated.write_text("not the cache's")
    FeatureCache(target.parent)
    assert unrelated.exists()


def test_convert_and_results_temps_are_removed(tmp_path, capsys, make_encoder):
    weights, _ = export_encoder(make_encoder(width=16), tmp_path / "run", full_meta(width=16))
    out = tmp_path / "out" / "tv.pth"
    out.parent.mkdir()
    stale_out = out.parent / ".tv.pth.k3j2h1g0.tmp"
    stale_out.write_bytes(b"partial")
    assert main(["convert", str(weights), "--to", "torchvision", "-o", str(out)]) == 0
    assert not stale_out.exists()
    results = tmp_path / "results.jsonl"
    stale_results = tmp_path / ".results.jsonl.q1w2e3r4.tmp"
    stale_results.write_text("partial")
    assert main(["knn", str(weights), "--data", "digits", "--out", str(results), "--no-cache", "--workers", "0",
                 "--quiet", "--device", "cpu", "--settings", "5:0.07"]) == 0
    assert not stale_results.exists() and len(results.read_text().splitlines()) == 2


def test_atomic_write_leaves_only_the_target(tmp_path):
    calls = []

    def write(tmp):
        calls.append(tmp)
        with open(tmp, "wb") as handle:
            handle.write(b"complete")

    path = atomic_write(tmp_path / "f.bin", write)
    assert path.read_bytes() == b"complete" and len(calls) == 1 and clean_stale_temps(tmp_path, ["f.bin"]) == []


# Item 2: --norm / --mean / --std, validated, used and recorded.


def _knn_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    knn.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.fixture
def exported(tmp_path, make_encoder):
    model = make_encoder(seed=1, width=16)
    weights, _ = export_encoder(model, tmp_path / "run", full_meta(width=16))
    return weights, model


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mean", "0.5", "0.5", "--std", "0.2", "0.2", "0.2"],
         "error: --mean takes 3 values (one per RGB channel), got 2; write e.g. --mean 0.4914 0.4822 0.4465"),
        (["--mean", "0.5", "0.5", "0.5", "--std", "0.2", "0", "0.2"],
         "error: --std values must be > 0 (they divide the input), got 0.2 0 0.2; write e.g. "
         "--std 0.2470 0.2435 0.2616"),
        (["--mean", "0.5", "0.5", "0.5", "--std", "0.2", "-0.1", "0.2"],
         "error: --std values must be > 0 (they divide the input), got 0.2 -0.1 0.2; write e.g. "
         "--std 0.2470 0.2435 0.2616"),
        (["--mean", "a", "b", "c", "--std", "0.2", "0.2", "0.2"],
         "error: --mean takes numbers, got 'a b c'; write e.g. --mean 0.4914 0.4822 0.4465"),
        (["--mean", "nan", "0.5", "0.5", "--std", "0.2", "0.2", "0.2"],
         "error: --mean values must be finite, got nan 0.5 0.5; write e.g. --mean 0.4914 0.4822 0.4465"),
        (["--mean", "0.5", "0.5", "0.5"],
         "error: --mean needs --std as well; pass both, e.g. --mean 0.4914 0.4822 0.4465 --std 0.2470 0.2435 0.2616"),
        (["--std", "0.5", "0.5", "0.5"],
         "error: --std needs --mean as well; pass both, e.g. --mean 0.4914 0.4822 0.4465 --std 0.2470 0.2435 0.2616"),
        (["--norm", "dataset", "--mean", "0.5", "0.5", "0.5", "--std", "0.2", "0.2", "0.2"],
         "error: --mean/--std and --norm dataset both set the normalization; pass only one of them"),
        (["--stem-padding", "-1"],
         "error: stem padding must be a non-negative integer, got -1; pass e.g. --stem-padding 1 (our CIFAR stem) "
         "or 2 (solo-learn's)"),
    ],
)
def test_bad_normalization_options_fail_with_one_line(tmp_path, capsys, exported, extra, message):
    weights, _ = exported
    argv = ["knn", str(weights), "--data", "digits", "--no-cache", "--workers", "0", "--quiet", *extra]
    assert one_line_error(argv, capsys) == message


def test_user_mean_std_are_used_and_recorded(tmp_path, exported):
    weights, model = exported
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 0.4]
    args = _knn_args([str(weights), "--data", "digits", "--no-cache", "--workers", "0", "--quiet", "--device", "cpu",
                      "--mean", "0.1,0.2,0.3", "--std", "0.5", "0.25", "0.4"])
    session = EncoderSession(args)
    got = session.features("test").features
    # Oracle: unnormalized tensors, normalized by hand, through the original module.
    raw = load_split("digits", "test", center_crop_transform(8, [0.0] * 3, [1.0] * 3))
    images = torch.stack([raw[i][0] for i in range(len(raw))])
    images = (images - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = model.eval()(images)
    assert (got - expected).abs().max() < 1e-4
    protocol = session.base_protocol()
    assert (protocol["normalization"], protocol["norm_mean"], protocol["norm_std"]) == ("user", mean, std)


def test_dataset_statistics_are_used_and_recorded(tmp_path, exported):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    weights, _ = exported
    results = tmp_path / "r.jsonl"
    assert main(["knn", str(weights), "--data", "digits", "--out", str(results), "--no-cache", "--workers", "0",
                 "--quiet", "--device", "cpu", "--settings", "5:0.07", "--norm", "dataset"]) == 0
    records = [json.loads(line) for line in results.read_text().splitlines()]
    bunch = load_digits()  # independent: the train split's pixel statistics on the 0..1 scale
    pixels = np.rint(bunch.images * (255.0 / 16.0)) / 255.0
    train, _ = train_test_split(np.arange(len(pixels)), test_size=0.25, random_state=0, stratify=bunch.target)
    for record in records:
        protocol = record["protocol"]
        assert protocol["normalization"] == "dataset" and protocol["stem_padding"] == 1
        assert np.allclose(protocol["norm_mean"], [pixels[train].mean()] * 3, atol=1e-4)
        assert np.allclose(protocol["norm_std"], [pixels[train].std()] * 3, atol=1e-4)


def test_default_normalization_is_recorded(tmp_path, exported, make_encoder, capsys):
    weights, _ = exported
    args = _knn_args([str(weights), "--data", "digits", "--no-cache"])
    protocol = EncoderSession(args).base_protocol()
    assert (protocol["normalization"], protocol["norm_mean"], protocol["norm_std"]) == ("encoder.json", MEAN, STD)
    foreign = tmp_path / "tv.pth"
    torch.save(make_encoder(width=16).state_dict(), foreign)
    protocol = EncoderSession(_knn_args([str(foreign), "--data", "digits", "--no-cache"])).base_protocol()
    assert protocol["normalization"] == "imagenet" and protocol["norm_mean"] == [0.485, 0.456, 0.406]
    assert "normalizing the torchvision checkpoint with ImageNet's mean/std" in capsys.readouterr().err
    protocol = EncoderSession(_knn_args([str(weights), "--data", "digits", "--no-cache", "--norm", "imagenet"]))
    assert protocol.base_protocol()["norm_std"] == [0.229, 0.224, 0.225]


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "keep.bin"
    target.write_bytes(b"old")

    def failing(tmp):
        with open(tmp, "wb") as handle:
            handle.write(b"new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, failing)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["keep.bin"]
