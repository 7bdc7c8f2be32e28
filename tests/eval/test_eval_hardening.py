"""Bad inputs to the evaluation side end in one ``error: ...`` line (exit 2) that names the problem and the
fix, before any work is done and with nothing written: non-finite features, non-finite records, a kNN ``k``
above the training-set size, degenerate features for the representation metrics, unwritable outputs. Also
the kNN's top-5 definition (solo-learn's) and exact accuracies."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from sklearn.neighbors import NearestNeighbors

from mcr_eval.cli import main
from mcr_eval.features import FeatureCache, cached_features, ensure_finite
from mcr_eval.metrics.representation import (
    UndefinedMetric,
    effective_rank,
    linear_cka,
    rankme,
    representation_summary,
    uniformity,
)
from mcr_eval.preflight import ensure_writable
from mcr_eval.probes.knn import knn_evaluate, topk_accuracy
from mcr_eval.probes.linear import accuracy_topk
from mcr_eval.records import make_record, read_records, run_fields
from mcr_train.errors import CheckpointError, ConfigError, DataError

MEAN, STD = [0.2, 0.2, 0.2], [0.35, 0.35, 0.35]


def write_run(folder, model):
    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "encoder.safetensors"))
    meta = {"format": "mcr-encoder/1", "method": "simclr", "regularizer": {"type": "none"}, "arch": "resnet18",
            "stem": "cifar", "width": 8, "feature_dim": 64, "input_size": 8, "mean": MEAN, "std": STD,
            "pretrain_data": "digits", "views": "simclr_cifar", "destroyed_factors": [], "epochs": 1, "seed": 0}
    (folder / "encoder.json").write_text(json.dumps(meta))
    return folder


def nan_encoder(make_encoder):
    model = make_encoder(seed=1, width=8)
    with torch.no_grad():
        model.conv1.weight[0, 0, 0, 0] = float("nan")
    return model


def constant_encoder(make_encoder, bias: float):
    """Every conv zero and every BN an offset ``bias``: the pooled features are the same for every image."""
    model = make_encoder(seed=1, width=8)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.zero_()
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.weight.zero_()
                module.bias.fill_(bias)
    return model


def options(tmp_path, out=None):
    return ["--data", "digits", "--out", str(out or tmp_path / "results.jsonl"), "--cache-dir",
            str(tmp_path / "cache"), "--workers", "0", "--quiet", "--device", "cpu"]


def one_line_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err.strip()


# -- 1. non-finite features and records ---------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    ["knn"],
    ["linear"],
    ["linear", "--mode", "standard", "--epochs", "1"],
    ["semisup", "--fractions", "0.1", "--epochs", "1"],
    ["represent"],
])
def test_nan_encoder_is_refused_by_every_probe(tmp_path, make_encoder, capsys, command):
    run = write_run(tmp_path / "nan-run", nan_encoder(make_encoder))
    err = one_line_error([command[0], str(run), *command[1:], *options(tmp_path)], capsys)
    assert str(run / "encoder.safetensors") in err and "NaN or inf features" in err and "earlier checkpoint" in err
    assert not (tmp_path / "results.jsonl").exists()
    assert not list((tmp_path / "cache").glob("*.safetensors"))  # non-finite features are never cached


def test_nan_encoder_is_refused_by_the_retention_audit(tmp_path, make_encoder, capsys):
    run = write_run(tmp_path / "nan-run", nan_encoder(make_encoder))
    out = tmp_path / "results.jsonl"
    err = one_line_error(["retain", str(run), "--data", "digits", "--audit", "invariance", "--n", "20",
                          "--device", "cpu", "--out", str(out)], capsys)
    assert str(run / "encoder.safetensors") in err and "NaN or inf features" in err
    assert not out.exists()


def test_non_finite_features_from_the_cache_are_refused(tmp_path, make_encoder, digits_images):
    train_x, train_y, _, _ = digits_images
    dataset = torch.utils.data.TensorDataset(train_x[:32], train_y[:32])
    cache, parts = FeatureCache(tmp_path), {"checkpoint_sha256": "ab" * 32, "arch": "resnet18", "dataset": "d"}
    poisoned = torch.ones(32, 64)
    poisoned[3, 5] = float("inf")
    from mcr_eval.features import FeatureSet

    cache.save(parts, FeatureSet(poisoned, train_y[:32]))
    with pytest.raises(CheckpointError, match=r"'run/encoder.safetensors' gives NaN or inf features for 1 of 32"):
        cached_features(cache, parts, make_encoder(width=8), dataset, source="'run/encoder.safetensors'",
                        progress=False, device="cpu")
    with pytest.raises(CheckpointError, match="sha256 abababababab"):  # no path given: the key names the weights
        cached_features(cache, parts, make_encoder(width=8), dataset, progress=False, device="cpu")
    ensure_finite(torch.ones(4, 3), "x")  # finite: no error
    ensure_finite(torch.zeros(0, 3), "x")


def _record(value) -> dict:
    run = run_fields({"run": "r", "method": "simclr", "arch": "resnet18", "stem": "cifar", "width": 8})
    record = make_record(run, "knn", "digits", "test", {"k": 5, "T": 0.07}, "top1", 0.5, 10)
    record["value"] = value
    return record


@pytest.mark.parametrize(("value", "shown"), [(float("nan"), "NaN"), (float("inf"), "Infinity"), (None, "None")])
def test_records_with_non_finite_values_are_refused_with_file_and_line(tmp_path, capsys, value, shown):
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps(_record(0.5)) + "\n" + json.dumps(_record(value)) + "\n")
    with pytest.raises(DataError, match=f"{results}:2") as info:
        read_records(results, allow_undefined=False)
    assert shown in str(info.value) and "re-run that evaluation" in str(info.value)
    if value is None:  # an undefined score (stored as null) is kept by the general reader, never NaN itself
        assert read_records(results)[1]["value"] is None
    else:
        with pytest.raises(DataError, match=f"{results}:2 holds the non-finite number {shown}"):
            read_records(results)
    # The report builder refuses the same line, and writes nothing.
    err = one_line_error(["report", str(results), "--out", str(tmp_path / "report")], capsys)
    assert f"{results}:2" in err and "finite" in err
    assert not (tmp_path / "report").exists()


def test_non_finite_number_anywhere_in_a_record_is_refused(tmp_path):
    record = _record(0.5)
    record["protocol"]["T"] = float("nan")
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps(record) + "\n")
    with pytest.raises(DataError, match=f"{results}:1 holds the non-finite number NaN"):
        read_records(results)
    results.write_text(json.dumps(_record(0.25)) + "\n\n" + "{broken\n")
    with pytest.raises(DataError, match=f"{results}:3 is not valid JSON"):
        read_records(results)


# -- 2. kNN: k, top-5, exact accuracy ----------------------------------------------------------------------------

def test_k_larger_than_the_training_set_is_refused(tmp_path, make_encoder, capsys):
    run = write_run(tmp_path / "run", make_encoder(seed=1, width=8))
    err = one_line_error(["knn", str(run), "--settings", "5:0.07,2000:0.1", *options(tmp_path)], capsys)
    assert "k=2000" in err and "1347 images" in err and "--settings" in err
    assert not (tmp_path / "results.jsonl").exists() and not (tmp_path / "cache").exists()  # refused before work
    with pytest.raises(ConfigError, match=r"k=201 is larger than the training set \(200 images\)"):
        knn_evaluate(torch.randn(200, 4), torch.zeros(200, dtype=torch.int64), torch.randn(3, 4),
                     torch.zeros(3, dtype=torch.int64), ((201, 0.1),))


def solo_reference_top(train_x, train_y, test_x, test_y, k, temperature, n_classes, top):
    """Top-``top`` accuracy from scratch: sklearn's cosine neighbours, exp(s/T) votes in float64, every class
    ranked by (-votes, class index) whether voted or not, a hit within the first min(top, k) ranks."""
    nn_ = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(train_x)
    dist, index = nn_.kneighbors(test_x)
    hits = 0
    for row in range(len(test_y)):
        votes = np.zeros(n_classes)
        np.add.at(votes, train_y[index[row]], np.exp((1.0 - dist[row]) / temperature))
        ranking = sorted(range(n_classes), key=lambda c: (-votes[c], c))
        hits += int(test_y[row]) in ranking[: min(top, k)]
    return hits / len(test_y)


@pytest.mark.parametrize(("k", "temperature"), [(1, 0.07), (3, 0.07), (5, 0.07), (20, 0.07), (200, 0.1)])
def test_knn_top1_top5_equal_an_independent_reference(digits_features, k, temperature):
    train_x, train_y, test_x, test_y = (t.double() if t.is_floating_point() else t for t in digits_features)
    (result,) = knn_evaluate(train_x, train_y, test_x, test_y, ((k, temperature),), num_classes=10)
    args = (train_x.numpy(), train_y.numpy(), test_x.numpy(), test_y.numpy(), k, temperature, 10)
    assert result["top1"] == solo_reference_top(*args, top=1)
    assert result["top5"] == solo_reference_top(*args, top=5)


def test_top5_ranks_classes_without_votes():
    """Five neighbours, all of class 3: the ranking is 3, then the unvoted classes 0, 1, 2, 4 (solo-learn)."""
    train = torch.tensor([[1.0, 0.0]] * 5 + [[-1.0, 0.0]] * 5)
    train_y = torch.tensor([3] * 5 + [9] * 5)
    test = torch.tensor([[1.0, 0.1]] * 4)
    test_y = torch.tensor([0, 4, 5, 3])
    (five,) = knn_evaluate(train, train_y, test, test_y, ((5, 0.1),), num_classes=10)
    assert (five["top1"], five["top5"]) == (0.25, 0.75)  # 0 and 4 rank 2nd and 5th; 5 ranks 6th
    (two,) = knn_evaluate(train, train_y, test, test_y, ((2, 0.1),), num_classes=10)
    assert two["top5"] == 0.5  # k=2: only the first two ranks (3, then 0) count


def test_accuracies_are_exact_fractions():
    n, correct = 1000, 752
    labels = torch.zeros(n, dtype=torch.int64)
    labels[correct:] = 1
    scores = torch.zeros(n, 2)
    scores[:, 0] = 1.0
    assert topk_accuracy(scores, labels, 1) == 0.752 != float(torch.tensor(0.752, dtype=torch.float32))
    assert accuracy_topk(scores, labels, 1) == 0.752


# -- 3. representation metrics on degenerate features ------------------------------------------------------------

def test_metrics_on_constant_and_zero_features_say_what_is_undefined():
    constant = torch.full((50, 8), 3.0)
    p = np.array([1.0] + [0.0] * 7) + 1e-7  # one direction (complete collapse): RankMe's closed form
    assert rankme(constant) == pytest.approx(math.exp(-(p * np.log(p)).sum()), rel=1e-9)
    assert uniformity(constant) == 0.0  # every pair at distance 0
    with pytest.raises(UndefinedMetric, match="every sample has the same feature vector"):
        effective_rank(constant)
    with pytest.raises(UndefinedMetric, match="every sample has the same feature vector"):
        effective_rank(torch.full((50, 8), 0.1, dtype=torch.float64) * (1 + 1e-13 * torch.randn(50, 8)))  # rounding
    with pytest.raises(UndefinedMetric, match="linear_cka is undefined"):
        linear_cka(torch.randn(50, 4), constant)
    undefined: dict[str, str] = {}
    assert representation_summary(torch.zeros(20, 8), undefined) == {}
    assert set(undefined) == {"rankme", "effective_rank", "uniformity", "mec_coding_length"}


def test_represent_on_collapsed_encoder_records_what_is_defined(tmp_path, make_encoder, capsys):
    run = write_run(tmp_path / "constant-run", constant_encoder(make_encoder, bias=1.0))
    out = tmp_path / "results.jsonl"
    assert main(["represent", str(run), *options(tmp_path, out)]) == 0
    err = capsys.readouterr().err
    assert "note: not recorded" in err and "effective_rank is undefined" in err
    metrics = {r["metric"]: r["value"] for r in read_records(out)}
    p = np.array([1.0] + [0.0] * 63) + 1e-7  # 64 features, one direction: RankMe's floor
    assert "effective_rank" not in metrics and metrics["rankme"] == pytest.approx(math.exp(-(p * np.log(p)).sum()))
    assert metrics["uniformity"] == 0.0 and metrics["alignment"] == pytest.approx(0.0, abs=1e-12)
    assert all(math.isfinite(v) for v in metrics.values())


def test_represent_on_all_zero_features_is_one_line(tmp_path, make_encoder, capsys):
    run = write_run(tmp_path / "zero-run", constant_encoder(make_encoder, bias=0.0))
    err = one_line_error(["represent", str(run), *options(tmp_path)], capsys)
    assert "no representation metric is defined" in err and "every feature is zero" in err
    assert not (tmp_path / "results.jsonl").exists()


# -- 5. outputs checked before any work --------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    ["knn", "RUN"], ["linear", "RUN"], ["semisup", "RUN", "--epochs", "1"], ["represent", "RUN"],
    ["retain", "RUN", "--data", "digits", "--audit", "invariance", "--n", "20"],
    ["detect", "RUN", "--config", "no-such-config.py"],
])
def test_unwritable_out_is_refused_before_any_work(tmp_path, make_encoder, capsys, command):
    run = write_run(tmp_path / "run", make_encoder(seed=1, width=8))
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder is needed")
    bad = blocker / "sub" / "results.jsonl"
    argv = [str(run) if a == "RUN" else a for a in command]
    if command[0] not in ("retain", "detect"):
        argv += ["--data", "digits", "--cache-dir", str(tmp_path / "cache"), "--workers", "0", "--quiet"]
    argv += ["--out", str(bad)]
    err = one_line_error(argv, capsys)
    assert f"cannot write --out '{bad}'" in err and f"'{blocker}' is a file" in err
    assert not (tmp_path / "cache").exists()  # no features were computed
    folder_out = one_line_error([*argv[:-1], str(tmp_path)], capsys)  # a folder where a file is needed
    assert "is a folder, and a file is needed" in folder_out


def test_unwritable_report_and_detect_folders_are_refused(tmp_path, capsys):
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps(_record(0.5)) + "\n")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    err = one_line_error(["report", str(results), "--out", str(blocker)], capsys)
    assert f"--out '{blocker}' is a file, and a folder is needed" in err
    err = one_line_error(["detect", "random", "--config", "x.py", "--work-dir", str(blocker / "wd")], capsys)
    assert "cannot write --work-dir" in err


def test_ensure_writable_leaves_nothing_behind(tmp_path):
    target = tmp_path / "a" / "b" / "results.jsonl"
    ensure_writable(target, "--out", directory=False)
    ensure_writable(tmp_path / "reports" / "x", "--out", directory=True)
    ensure_writable(tmp_path, "--figures")  # an existing folder, kind not stated
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    (tmp_path / "f").write_text("")
    ensure_writable(tmp_path / "f", "--out")  # an existing file, kind not stated
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        ensure_writable(tmp_path / "f" / "x.jsonl", "--out")
