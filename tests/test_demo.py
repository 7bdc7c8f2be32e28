"""The shortened ``make demo`` path: every artefact, one progress line per step, the verdict last, reference
rows in the headline, and no mmengine output on the terminal."""

import io
import json
import re
import sys
from pathlib import Path

import pytest

from mcr_eval.demo import main

ROOT = Path(__file__).resolve().parents[1]
BANNERS = ("System environment", "Environment info", "Config:", "Epoch(train)", "Iter(train)",
           "Average Precision", "mmengine", "Checkpoints will be saved", "loading annotations")


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    capture = pytest.MonkeyPatch()
    terminal = io.StringIO()
    capture.setattr(sys, "stdout", terminal)
    try:
        assert main(["--out", str(out), "--scale", "quick"]) == 0
    finally:
        capture.undo()
    return out, terminal.getvalue()


def test_quick_demo_writes_every_artefact(quick_demo):
    out, _ = quick_demo
    for name in ("index.html", "report.md", "summary.csv", "paired_effects.csv", "tables.tex", "results.jsonl"):
        assert (out / name).stat().st_size > 0, name
    for run in ("simclr-none-s0", "simclr-none-s1", "simclr-mcr-s0", "simclr-mcr-s1"):
        meta = json.loads((out / "runs" / run / "encoder.json").read_text())
        assert meta["regularizer"]["type"] == ("mcr" if "-mcr-" in run else "none")
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["task"] for r in records} == {"knn", "linear", "representation", "retention", "attribution",
                                            "detection", "segmentation"}
    refs = {(r["run"], r["task"]) for r in records if r.get("variant") == "reference"}
    assert refs == {(run, task) for run in ("random-init", "raw-pixels") for task in ("knn", "linear")}
    for task in ("detection", "segmentation"):
        found = [r for r in records if r["task"] == task]
        assert {(r["regularizer"], r["seed"]) for r in found} == {("none", 0), ("mcr", 0)}, task
        assert {r["metric"] for r in found} >= {"AP", "AP50", "AP75"}
    html = (out / "index.html").read_text()
    images = re.findall(r'src="([^"]+)"', html)
    assert any("bars_" in i for i in images) and any("attribution" in i for i in images)
    assert any("scenes_grid" in i for i in images) and any("curves_ssl_loss" in i for i in images)
    for src in images:
        assert (out / src).is_file(), src
    # mmengine's banners and the COCO tables are in the step logs, not lost
    logs = "".join(p.read_text() for p in (out / "logs").glob("*.log"))
    assert "Average Precision" in logs and ("Epoch(train)" in logs or "Iter(train)" in logs)


def test_terminal_shows_progress_lines_then_the_headline_and_ends_with_the_verdict(quick_demo):
    out, printed = quick_demo
    lines = printed.splitlines()
    steps = [line for line in lines if re.match(r"\[\d+/\d+\] ", line)]
    total = int(re.match(r"\[\d+/(\d+)\]", steps[0]).group(1))
    assert len(steps) == total == 15  # data, 4 pretrain, 4 evaluate, references, audit, attribution, 2 detect, report
    assert all(re.search(r" \.\.\. \d+ s, ETA \d+ min$", line) for line in steps[:-1]), steps
    assert re.search(r"\[15/15\] report \.\.\. \d+ s$", steps[-1])
    assert any("pretrain simclr+MCR seed 1" in s and "(run 4/4)" in s for s in steps)
    for banner in BANNERS:
        assert banner not in printed, banner
    assert lines[-1] == f"HTML report: {out / 'index.html'}"
    verdict = lines[-6:-1]
    assert lines[-7].endswith("Verdict:") and all(line.startswith("  ") for line in verdict)
    assert "random-init encoder" in printed and "raw pixels" in printed  # the headline's reference block
    md = (out / "report.md").read_text()
    html = (out / "index.html").read_text()
    for line in verdict:  # the same verdict opens report.md and index.html
        assert f"- {line.strip()}" in md[:md.index("## Headline")]
    assert html.index("Verdict.") < html.index("<h2>Headline</h2>")
    assert "Reference (untrained)" in md


def test_demo_methods_are_a_checked_subset():
    from mcr_eval.demo import config_of, parse_methods
    from mcr_train.errors import ConfigError

    assert parse_methods("simclr, byol,simclr") == ("simclr", "byol")
    for method in ("simclr", "byol"):
        for reg in ("none", "mcr"):
            for data in ("scenes", "fashion-mnist"):
                assert (ROOT / config_of(method, reg, data)).is_file()
    with pytest.raises(ConfigError, match=r"unknown demo method\(s\) \['moco'\]; use a comma-separated subset of "
                                          r"simclr, byol \(e.g. MCR_DEMO_METHODS=simclr,byol\)"):
        parse_methods("simclr,moco")
    with pytest.raises(ConfigError, match="unknown demo method"):
        parse_methods(" , ")


def test_fashion_subset_reads_back_as_the_head_of_the_real_files(tmp_path):
    import numpy as np

    from mcr_eval.demo import FASHION_ROOT, fashion_subset
    from mcr_train.data.formats.idx import read_idx

    if not (FASHION_ROOT / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Fashion-MNIST is not installed (apt-get install -y dataset-fashion-mnist)")
    root = fashion_subset(FASHION_ROOT, tmp_path, 30, 20)
    for name, n in (("train-images-idx3-ubyte.gz", 30), ("t10k-labels-idx1-ubyte.gz", 20)):
        assert np.array_equal(read_idx(root / name), read_idx(FASHION_ROOT / name)[:n])
