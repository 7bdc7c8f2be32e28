"""Ablation tables from synthetic records: one row per variant, view-dependent protocol keys allowed."""

import json
import re

import pytest

from mcr_eval.reports.ablation import ablation_tables, write_ablation_report
from mcr_train.errors import DataError


def rec(run, task, metric, value, protocol):
    return {"run": run, "method": "simclr", "regularizer": "mcr", "backbone": "resnet18-cifar-w16",
            "pretrain_data": "scenes", "epochs": 5, "seed": 0, "task": task, "dataset": "scenes", "split": "test",
            "protocol": protocol, "metric": metric, "value": value, "n": 100, "created": "2026-11-28T00:00:00Z",
            "suite_version": "0.1.0"}


def records():
    out = []
    for run, knn, ret, views in (("a", 0.30, 0.9, "simclr_cifar"), ("b", 0.25, 0.8, "simclr_cifar-crop_only")):
        out.append(rec(run, "knn", "top1", knn, {"k": 200, "T": 0.1}))
        out.append(rec(run, "knn", "top1", knn - 0.1, {"k": 20, "T": 0.07}))
        out.append(rec(run, "retention", "non_shared_retention", ret, {"probe": "ridge", "views": views}))
    return out


VARIANTS = [("augmentations", "all", "a"), ("augmentations", "crop-only", "b")]


def test_rows_are_variants_and_columns_keep_only_the_headline_protocol():
    (table,) = ablation_tables(records(), VARIANTS)
    assert table.rows == ["all", "crop-only"]
    assert len(table.columns) == 2 and "k=200" in table.columns[0]
    assert table.cells == [["0.3000 (n=1)", "0.9000 (n=1)"], ["0.2500 (n=1)", "0.8000 (n=1)"]]
    assert "factor roles=from each row's training views" in table.columns[1]


def test_spread_row_is_the_sample_std_over_the_reference_seeds():
    recs = records() + [rec("a1", "knn", "top1", 0.36, {"k": 200, "T": 0.1}),
                        rec("a2", "knn", "top1", 0.27, {"k": 200, "T": 0.1})]
    (table,) = ablation_tables(recs, VARIANTS, spread=("seed std", ["a", "a1", "a2"]))
    assert table.rows[-1] == "seed std"
    # values 0.30, 0.36, 0.27: mean 0.31, sample variance (0.0001 + 0.0025 + 0.0016) / 2 = 0.0021
    assert table.cells[-1][0] == f"{0.0021 ** 0.5:.4f} (n=3)"
    assert table.cells[-1][1] == "—"  # retention has only seed a: no spread


def test_spread_runs_without_records_are_a_clear_error():
    with pytest.raises(DataError, match=r"no records for ablation run\(s\) \['zz'\]"):
        ablation_tables(records(), VARIANTS, spread=("seed std", ["a", "zz"]))


def test_a_column_mixing_a_non_view_protocol_fails():
    recs = records()
    recs[2]["protocol"]["probe"] = "logistic"
    with pytest.raises(DataError, match="mixes protocols"):
        ablation_tables(recs, VARIANTS)


def test_missing_run_is_a_clear_error():
    with pytest.raises(DataError, match=r"no records for ablation run\(s\) \['c'\]"):
        ablation_tables(records(), [*VARIANTS, ("augmentations", "none", "c")])


def test_report_files_and_self_contained_html(tmp_path):
    results = tmp_path / "r.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in records()))
    index = write_ablation_report(results, VARIANTS, tmp_path / "out", "Ablations", "**Scale.** tiny")
    html = index.read_text()
    assert html.count("<table>") == 1 and "<strong>Scale.</strong>" in html
    srcs = re.findall(r'src="([^"]+)"', html)
    assert srcs and all((tmp_path / "out" / s).is_file() for s in srcs)
    for name in ("report.md", "tables.tex", "ablations.csv"):
        assert (tmp_path / "out" / name).is_file()


def test_markdown_lists_shared_protocols_once(tmp_path):
    results = tmp_path / "r.jsonl"
    variants = [*VARIANTS, ("second", "all", "a"), ("second", "crop-only", "b")]
    results.write_text("".join(json.dumps(r) + "\n" for r in records()))
    write_ablation_report(results, variants, tmp_path / "out", "Ablations")
    md = (tmp_path / "out" / "report.md").read_text()
    assert md.count("T=0.1") == 1 and md.count("as listed under the first table") == 1


def test_online_knn_curves_of_the_variant_runs_only_one_panel_per_seed(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from mcr_eval.reports.plots import _scalar_curves

    logs = tmp_path / "runs"
    for run in ("a", "b", "other-s0"):
        writer = SummaryWriter(str(logs / run / "20261129_000000" / "vis_data"))
        for step, value in ((125, 0.2), (250, 0.3)):
            writer.add_scalar("knn/top1", value, step)
        writer.close()
    assert set(_scalar_curves([logs], ("knn/top1",), {"a", "b"})) == {"a", "b"}
    results = tmp_path / "r.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in records()))
    html = write_ablation_report(results, VARIANTS, tmp_path / "out", "Ablations", log_dirs=[logs]).read_text()
    assert 'src="figures/curves_knn_top1.png"' in html
    assert (tmp_path / "out" / "figures" / "curves_knn_top1.png").stat().st_size > 1000
    # Without logged curves (the 300-iteration ablations) there is no curve figure.
    plain = write_ablation_report(results, VARIANTS, tmp_path / "plain", "Ablations", log_dirs=[tmp_path / "none"])
    assert "curves_knn_top1" not in plain.read_text()
