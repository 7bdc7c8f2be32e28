"""The shortened ``make demo`` path produces every artefact of the report."""

import json
import re
from pathlib import Path

import pytest

from mcr_eval.demo import main

ROOT = Path(__file__).resolve().parents[1]


def test_quick_demo_writes_every_artefact(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["--out", str(out), "--scale", "quick"]) == 0
    for name in ("index.html", "report.md", "summary.csv", "paired_effects.csv", "tables.tex", "results.jsonl"):
        assert (out / name).stat().st_size > 0, name
    for run in ("simclr-none-s0", "simclr-none-s1", "simclr-mcr-s0", "simclr-mcr-s1"):
        meta = json.loads((out / "runs" / run / "encoder.json").read_text())
        assert meta["regularizer"]["type"] == ("mcr" if "-mcr-" in run else "none")
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["task"] for r in records} == {"knn", "linear", "representation", "retention", "attribution",
                                            "detection", "segmentation"}
    # Mask R-CNN transfer of both seed-0 encoders (CIFAR stem, so through CifarStemResNet)
    for task in ("detection", "segmentation"):
        found = [r for r in records if r["task"] == task]
        assert {(r["regularizer"], r["seed"]) for r in found} == {("none", 0), ("mcr", 0)}, task
        assert {r["metric"] for r in found} >= {"AP", "AP50", "AP75"} and {r["backbone"] for r in found} == {
            "resnet18-cifar-w4"}
    html = (out / "index.html").read_text()
    images = re.findall(r'src="([^"]+)"', html)
    assert any("heatmap_retention" in i for i in images) and any("bars_" in i for i in images)
    assert any("attribution" in i for i in images) and any("scenes_grid" in i for i in images)
    assert any("curves_ssl_loss" in i for i in images)  # training curves from the runs' TensorBoard logs
    for src in images:
        assert (out / src).is_file(), src
    printed = capsys.readouterr().out
    assert "kNN top1" in printed and "index.html" in printed and "detection transfer simclr-mcr-s0" in printed
    assert "Not in this demo" not in printed
    assert "Detection" in (out / "report.md").read_text()


def test_demo_methods_are_a_checked_subset():
    from mcr_eval.demo import config_of, parse_methods
    from mcr_train.errors import ConfigError

    assert parse_methods("simclr, byol,simclr") == ("simclr", "byol")
    for method in ("simclr", "byol"):
        for reg in ("none", "mcr"):
            assert (ROOT / config_of(method, reg)).is_file()
    with pytest.raises(ConfigError, match=r"unknown demo method\(s\) \['moco'\]; use a comma-separated subset of "
                                          r"simclr, byol \(e.g. MCR_DEMO_METHODS=simclr,byol\)"):
        parse_methods("simclr,moco")
    with pytest.raises(ConfigError, match="unknown demo method"):
        parse_methods(" , ")


def test_quick_demo_with_byol_trains_and_transfers_both_methods(tmp_path, monkeypatch):
    out = tmp_path / "demo"
    monkeypatch.setenv("MCR_DEMO_METHODS", "simclr,byol")
    assert main(["--out", str(out), "--scale", "quick"]) == 0
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    knn = {(r["method"], r["regularizer"], r["seed"]) for r in records if r["task"] == "knn"}
    assert knn == {(m, reg, s) for m in ("simclr", "byol") for reg in ("none", "mcr") for s in (0, 1)}
    detection = {(r["method"], r["regularizer"], r["seed"]) for r in records if r["task"] == "detection"}
    assert detection == {(m, reg, 0) for m in ("simclr", "byol") for reg in ("none", "mcr")}
    attribution = {(r["method"], r["regularizer"]) for r in records if r["task"] == "attribution"}
    assert attribution == {("simclr", "none"), ("simclr", "mcr")}
    assert "byol+MCR" in (out / "headline.md").read_text()
