"""``mcr-eval knn|linear|semisup|represent`` end to end on sklearn digits, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from mcr_eval.cli import main
from mcr_eval.data import center_crop_transform, load_split
from mcr_eval.features import extract_features
from mcr_eval.probes.knn import knn_evaluate
from mcr_eval.records import RECORD_KEYS, read_records

MEAN, STD = [0.2, 0.2, 0.2], [0.35, 0.35, 0.35]


@pytest.fixture
def run_dir(tmp_path, make_encoder):
    model = make_encoder(seed=1, width=16)
    folder = tmp_path / "simclr-run"
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "encoder.safetensors"))
    meta = {
        "format": "mcr-encoder/1",
        "method": "simclr",
        "regularizer": {"type": "none"},
        "arch": "resnet18",
        "stem": "cifar",
        "width": 16,
        "feature_dim": 128,
        "input_size": 8,
        "mean": MEAN,
        "std": STD,
        "pretrain_data": "digits",
        "epochs": 1,
        "seed": 0,
    }
    (folder / "encoder.json").write_text(json.dumps(meta))
    return folder, model


def common(tmp_path):
    return [
        "--data",
        "digits",
        "--out",
        str(tmp_path / "results.jsonl"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--workers",
        "0",
        "--quiet",
        "--device",
        "cpu",
    ]


def test_knn_command_records_and_cache(tmp_path, run_dir, capsys):
    folder, model = run_dir
    assert main(["knn", str(folder), *common(tmp_path)]) == 0
    records = read_records(tmp_path / "results.jsonl")
    assert len(records) == 6 and all(tuple(r) == RECORD_KEYS for r in records)
    first = records[0]
    assert (first["task"], first["run"], first["method"], first["regularizer"], first["backbone"]) == (
        "knn",
        "simclr-run",
        "simclr",
        "none",
        "resnet18-cifar-w16",
    )
    assert first["protocol"]["k"] == 5 and first["protocol"]["weighting"] == "exp(s/T)" and first["n"] == 450
    # Independent recomputation of the same numbers.
    transform = center_crop_transform(8, MEAN, STD)
    feats = [
        extract_features(model, load_split("digits", s, transform), progress=False, device="cpu")
        for s in ("train", "test")
    ]
    expected = knn_evaluate(feats[0].features, feats[0].labels, feats[1].features, feats[1].labels)
    got = {(r["protocol"]["k"], r["metric"]): r["value"] for r in records}
    for result in expected:
        assert got[(result["k"], "top1")] == pytest.approx(result["top1"], abs=1e-6)
        assert got[(result["k"], "top5")] == pytest.approx(result["top5"], abs=1e-6)
    cached = sorted((tmp_path / "cache").glob("*.safetensors"))
    assert len(cached) == 2
    mtimes = [p.stat().st_mtime_ns for p in cached]
    assert main(["knn", str(folder), *common(tmp_path)]) == 0  # second run reads the cache
    assert [p.stat().st_mtime_ns for p in cached] == mtimes
    again = read_records(tmp_path / "results.jsonl")[6:]
    assert [r["value"] for r in again] == [r["value"] for r in records]


def test_linear_semisup_represent_commands(tmp_path, run_dir):
    folder, _ = run_dir
    args = common(tmp_path)
    assert main(["linear", str(folder), *args]) == 0
    assert main(["linear", str(folder), "--mode", "standard", "--epochs", "1", "--batch-size", "128", *args]) == 0
    assert main(["semisup", str(folder), "--fractions", "0.1", "--epochs", "1", "--batch-size", "64", *args]) == 0
    assert main(["represent", str(folder), "--compare", str(folder / "encoder.safetensors"), *args]) == 0
    records = read_records(tmp_path / "results.jsonl")
    by_task = {}
    for record in records:
        by_task.setdefault(record["task"], []).append(record)
    fast = [r for r in by_task["linear"] if r["protocol"]["mode"] == "fast"]
    standard = [r for r in by_task["linear"] if r["protocol"]["mode"] == "standard"]
    assert [r["metric"] for r in fast] == ["top1", "top5", "selected_l2"] and fast[0]["value"] > 0.6
    assert "l2" not in fast[0]["protocol"]  # the selected penalty is an outcome, not a protocol parameter
    assert standard[0]["protocol"]["reported"] == "last epoch" and standard[0]["protocol"]["epochs"] == 1
    semisup = by_task["semisup"]
    subset_file = semisup[0]["protocol"]["subset_file"]
    saved = json.loads(Path(subset_file).read_text())
    labels = load_split("digits", "train").targets
    assert saved["n"] == semisup[0]["protocol"]["n_labelled"] == len(saved["indices"])
    assert (torch.bincount(torch.as_tensor(labels[saved["indices"]])) >= 13).all()  # ~10% of each class
    rep = {r["metric"]: r["value"] for r in by_task["representation"]}
    assert rep["linear_cka"] == pytest.approx(1.0) and 1.0 < rep["rankme"] <= 128
    assert rep["alignment"] > 0 and rep["uniformity"] < 0 and rep["mec_coding_length"] > 0


def _expect_exit(argv, capsys, *words):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err


def test_bad_data_specs_fail_with_one_line(tmp_path, run_dir, capsys):
    folder, _ = run_dir
    base = ["knn", str(folder), "--cache-dir", str(tmp_path / "c"), "--workers", "0", "--quiet"]
    _expect_exit([*base, "--data", "nosuchdata"], capsys, "unknown data spec")
    _expect_exit([*base, "--data", f"cifar10:{tmp_path / 'missing'}"], capsys, "cifar")
    empty = tmp_path / "empty"
    for split in ("train", "val"):
        (empty / split).mkdir(parents=True)
    _expect_exit([*base, "--data", f"folder:{empty}"], capsys)
    _expect_exit([*base, "--data", "digits", "--settings", "5:zero"], capsys, "k:T")


def test_wrong_arch_for_probe_fails_with_one_line(tmp_path, run_dir, capsys):
    folder, _ = run_dir
    torch.manual_seed(0)
    _expect_exit(["knn", str(folder), "--arch", "resnet34", "--data", "digits", "--quiet"], capsys, "resnet34")
