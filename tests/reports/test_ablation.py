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
    assert table.columns == ["kNN k=200", "Non-shared retention"]
    assert table.cells == [["0.300 (n=1)", "0.900 (n=1)"], ["0.250 (n=1)", "0.800 (n=1)"]]
    assert "factor roles=from each row's training views" in table.notes[1]
    assert table.legend()[0] == "¹ kNN k=200: T=0.1, k=200"


def test_spread_row_is_the_sample_std_over_the_reference_seeds():
    recs = records() + [rec("a1", "knn", "top1", 0.36, {"k": 200, "T": 0.1}),
                        rec("a2", "knn", "top1", 0.27, {"k": 200, "T": 0.1})]
    (table,) = ablation_tables(recs, VARIANTS, spread=("seed std", ["a", "a1", "a2"]))
    assert table.rows[-1] == "seed std"
    # values 0.30, 0.36, 0.27: mean 0.31, sample variance (0.0001 + 0.0025 + 0.0016) / 2 = 0.0021
    assert table.cells[-1][0] == f"{0.0021 ** 0.5:.3f} (n=3)"
    assert table.blocks == [(2, "Seed-to-seed spread (sample std)")]
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
    assert md.count("T=0.1") == 1 and md.count("as in the legend of the table above") == 1


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


def seeded_knn(run, seed, value):
    return {**rec(run, "knn", "top1", value, {"k": 200, "T": 0.1}), "seed": seed}


def test_a_label_given_for_several_seeds_is_one_row_and_contrasts_are_paired_by_seed():
    from scipy import stats

    base = {0: 0.20, 1: 0.30, 2: 0.19}
    long = {0: 0.26, 1: 0.31, 2: 0.28, 3: 0.5}  # seed 3 has no 1x run: left out of the pairing
    recs = [seeded_knn(f"base-s{s}", s, v) for s, v in base.items()]
    recs += [seeded_knn(f"long-s{s}", s, v) for s, v in long.items()]
    variants = [("t", "1x", f"base-s{s}") for s in base] + [("t", "2x", f"long-s{s}") for s in long]
    (table,) = ablation_tables(recs, variants, contrasts=[("2x", "1x")])
    assert table.rows == ["1x", "2x", "2x − 1x, paired by seed (95% t-interval)"]
    mean_1x = sum(base.values()) / 3
    assert table.cells[0][0].startswith(f"{mean_1x:.3f} ± ") and table.cells[0][0].endswith("(n=3)")
    assert table.cells[1][0].endswith("(n=4)")
    diffs = [long[s] - base[s] for s in base]  # 0.06, 0.01, 0.09
    mean = sum(diffs) / 3
    sd = (sum((d - mean) ** 2 for d in diffs) / 2) ** 0.5
    half = stats.t.ppf(0.975, 2) * sd / 3 ** 0.5
    assert table.cells[2][0] == f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}] (n=3)"
    assert mean - half < 0  # so no significance mark


def test_a_contrast_naming_no_row_of_any_table_is_a_clear_error():
    with pytest.raises(DataError, match=r"contrast\(s\) \[\('all', 'none'\)\] match no ablation table"):
        ablation_tables(records(), VARIANTS, contrasts=[("all", "none")])


def test_contrast_rows_stay_out_of_the_bar_chart(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    bars = []
    real_savefig = Figure.savefig

    def spy(fig, path, **kwargs):
        bars.append([t.get_text() for t in fig.axes[0].get_xticklabels()])
        return real_savefig(fig, path, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    recs = [seeded_knn(f"{run}-s{s}", s, v + 0.01 * s) for s in (0, 1) for run, v in (("a", 0.2), ("b", 0.3))]
    results = tmp_path / "r.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in recs))
    variants = [("t", label, f"{run}-s{s}") for s in (0, 1) for label, run in (("A", "a"), ("B", "b"))]
    write_ablation_report(results, variants, tmp_path / "out", "Ablations", contrasts=[("B", "A")])
    md = (tmp_path / "out" / "report.md").read_text()
    # Both seeds differ by exactly 0.1: a zero-width interval that excludes 0.
    assert "| B − A, paired by seed (95% t-interval) | +0.100 [+0.100, +0.100] (n=2) * |" in md
    assert bars == [["A", "B"]]


def test_a_long_curve_title_stays_inside_a_one_panel_figure(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from mcr_eval.reports import plots

    closed = []
    monkeypatch.setattr(plots.plt, "close", closed.append)
    title = "online kNN during pretraining (k=200, T=0.1 unless the config says otherwise; MCR dashed)"
    plots._plot_curves({"simclr-none-s0": ([125, 250], [0.2, 0.3])}, tmp_path / "c.png", "kNN", title)
    (fig,) = closed
    renderer = fig.canvas.get_renderer()
    box, frame = fig._suptitle.get_window_extent(renderer), fig.bbox
    assert box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y1 <= frame.y1
    assert fig._suptitle.get_text().replace("\n", " ") == title
    plt.close(fig)


def test_a_real_image_study_gets_one_column_per_scored_invariance_transform():
    protocol = {"features": "l2-normalized", "score": "1 - mean shift / mean random-pair distance"}
    recs = []
    for run, values in (("a", (0.47, 0.03, 0.52)), ("b", (0.45, 0.04, 0.54))):
        recs.append(rec(run, "knn", "top1", 0.8, {"k": 200, "T": 0.1}))
        for name, value in zip(("crop_out", "rotation", "blur"), values):
            recs.append(rec(run, "retention", f"invariance.{name}", value, {**protocol, "transform": name}))
    (table,) = ablation_tables(recs, [("t", "base", "a"), ("t", "mcr", "b")])
    assert len(table.columns) == 4
    assert table.columns[1:] == ["Invariance: crop_out", "Invariance: rotation", "Invariance: blur"]
    assert [row[1:] for row in table.cells] == [["0.470 (n=1)", "0.030 (n=1)", "0.520 (n=1)"],
                                                ["0.450 (n=1)", "0.040 (n=1)", "0.540 (n=1)"]]
