"""The shortened ``make demo`` path produces every artefact of the report."""

import json
import re

from mcr_eval.demo import main


def test_quick_demo_writes_every_artefact(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["--out", str(out), "--scale", "quick"]) == 0
    for name in ("index.html", "report.md", "summary.csv", "paired_effects.csv", "tables.tex", "results.jsonl"):
        assert (out / name).stat().st_size > 0, name
    for run in ("simclr-none-s0", "simclr-none-s1", "simclr-mcr-s0", "simclr-mcr-s1"):
        meta = json.loads((out / "runs" / run / "encoder.json").read_text())
        assert meta["regularizer"]["type"] == ("mcr" if "-mcr-" in run else "none")
    tasks = {json.loads(line)["task"] for line in (out / "results.jsonl").read_text().splitlines()}
    assert tasks == {"knn", "linear", "representation", "retention", "attribution"}
    html = (out / "index.html").read_text()
    images = re.findall(r'src="([^"]+)"', html)
    assert any("heatmap_retention" in i for i in images) and any("bars_" in i for i in images)
    assert any("attribution" in i for i in images) and any("scenes_grid" in i for i in images)
    assert any("curves_ssl_loss" in i for i in images)  # training curves from the runs' TensorBoard logs
    for src in images:
        assert (out / src).is_file(), src
    printed = capsys.readouterr().out
    assert "kNN top1" in printed and "index.html" in printed
