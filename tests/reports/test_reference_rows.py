"""Reference rows (random-init encoder, raw pixels) against scikit-learn and the ``mcr-eval`` commands."""

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from mcr_eval.cli import main as eval_main
from mcr_eval.data import center_crop_transform, load_split
from mcr_eval.records import read_records
from mcr_eval.reference_rows import evaluate_references
from mcr_train.models.backbone import build_backbone

MEAN, STD = [0.3, 0.3, 0.3], [0.4, 0.4, 0.4]


def export(model, folder, **meta):
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "encoder.safetensors"))
    info = {"format": "mcr-encoder/1", "method": "simclr", "regularizer": {"type": "mcr"}, "arch": "resnet18",
            "stem": "cifar", "width": 4, "feature_dim": model.num_features, "input_size": 8, "mean": MEAN,
            "std": STD, "pretrain_data": "digits", "epochs": 3, "seed": 1, **meta}
    (folder / "encoder.json").write_text(json.dumps(info))
    return folder


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("refs")
    torch.manual_seed(123)  # a "trained" encoder: any weights other than the seed-0 ones
    like = export(build_backbone("resnet18", "cifar", 4), tmp / "simclr-mcr-s1")
    results = tmp / "results.jsonl"
    evaluate_references("digits", like, results, cache_dir=tmp / "cache")
    return tmp, like, results, read_records(results)


def pixels(split):
    data = load_split("digits", split, center_crop_transform(8, MEAN, STD))
    x = torch.stack([data[i][0] for i in range(len(data))]).reshape(len(data), -1).numpy().astype(np.float64)
    return x, np.asarray([int(data[i][1]) for i in range(len(data))])


def weighted_knn_top1(train_x, train_y, test_x, test_y, k, temperature):
    """Cosine kNN with exp(s/T) votes, by scikit-learn (distance 1 - s)."""
    clf = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute",
                               weights=lambda d: np.exp((1 - d) / temperature))
    return float((clf.fit(train_x, train_y).predict(test_x) == test_y).mean())


def value(records, run, task, metric, **protocol):
    (found,) = [r["value"] for r in records if r["run"] == run and r["task"] == task and r["metric"] == metric
                and all(r["protocol"].get(k) == v for k, v in protocol.items())]
    return found


def test_records_are_reference_knn_and_fast_linear_with_the_commands_protocols(evaluated):
    tmp, like, results, records = evaluated
    assert {(r["run"], r["task"]) for r in records} == {(run, task) for run in ("random-init", "raw-pixels")
                                                        for task in ("knn", "linear")}
    assert all(r["variant"] == "reference" and r["regularizer"] == "none" and r["seed"] == 0 for r in records)
    assert {r["backbone"] for r in records if r["run"] == "random-init"} == {"resnet18-cifar-w4"}
    assert {r["backbone"] for r in records if r["run"] == "raw-pixels"} == {"raw-pixels-8px"}
    # The same protocol as the commands give a trained encoder, the encoder-describing keys aside.
    trained = tmp / "trained.jsonl"
    eval_main(["knn", str(like), "--data", "digits", "--out", str(trained), "--quiet", "--no-cache"])
    eval_main(["linear", str(like), "--data", "digits", "--out", str(trained), "--quiet", "--no-cache"])
    mine = read_records(trained)
    def measurement(r):
        return json.dumps({k: v for k, v in r["protocol"].items() if k not in ("checkpoint_format", "stem_padding")},
                          sort_keys=True)

    for task in ("knn", "linear"):
        ref = {measurement(r) for r in records if r["task"] == task and r["run"] == "raw-pixels"}
        assert ref == {measurement(r) for r in mine if r["task"] == task}, task
    assert set(mine[0]) | {"variant"} == set(records[0])


def test_raw_pixel_knn_equals_scikit_learn_on_the_flattened_normalized_input(evaluated):
    *_, records = evaluated
    train_x, train_y = pixels("train")
    test_x, test_y = pixels("test")
    for k, temperature in ((5, 0.07), (20, 0.07), (200, 0.1)):
        expected = weighted_knn_top1(train_x, train_y, test_x, test_y, k, temperature)
        assert value(records, "raw-pixels", "knn", "top1", k=k, T=temperature) == pytest.approx(expected, abs=1e-9)


def test_raw_pixel_linear_probe_matches_scikit_learn_at_the_chosen_l2(evaluated):
    *_, records = evaluated
    train_x, train_y = pixels("train")
    test_x, test_y = pixels("test")
    l2 = value(records, "raw-pixels", "linear", "selected_l2")
    mean, std = train_x.mean(0), np.maximum(train_x.std(0, ddof=1), 1e-6)
    clf = LogisticRegression(C=1 / (l2 * len(train_y)), max_iter=5000, tol=1e-8)
    clf.fit((train_x - mean) / std, train_y)
    expected = float((clf.predict((test_x - mean) / std) == test_y).mean())
    assert value(records, "raw-pixels", "linear", "top1") == pytest.approx(expected, abs=2 / len(test_y))
    assert value(records, "raw-pixels", "linear", "top1") > 0.8  # digits are linearly separable from pixels


def test_random_init_rows_equal_the_knn_command_on_an_exported_seed_0_encoder(evaluated):
    tmp, *_, records = evaluated
    torch.manual_seed(0)
    seed0 = export(build_backbone("resnet18", "cifar", 4), tmp / "seed0")
    out = tmp / "seed0.jsonl"
    eval_main(["knn", str(seed0), "--data", "digits", "--out", str(out), "--quiet", "--no-cache"])
    for r in read_records(out):
        theirs = value(records, "random-init", "knn", r["metric"], k=r["protocol"]["k"], T=r["protocol"]["T"])
        assert theirs == pytest.approx(r["value"], abs=1e-9)
    chance = 0.1
    assert not math.isclose(value(records, "random-init", "knn", "top1", k=200), chance, abs_tol=0.05)
