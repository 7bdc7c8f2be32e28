"""The report builder on synthetic records with hand-computed means, stds and t-intervals."""

import json
import math
import re
from pathlib import Path

import pytest

from mcr_eval.cli import main as eval_main
from mcr_eval.reports.builder import build_report, preamble_html
from mcr_eval.reports.records_table import read_records, records_frame
from mcr_eval.reports.statistics import cell_summaries, paired_effects
from mcr_train.errors import DataError

T_975_DF2 = 4.302652729911275  # Student t quantile, 0.975, 2 degrees of freedom (tables)


def record(method, reg, seed, value, task="knn", metric="top1", protocol=None, **kw):
    rec = {"run": f"{method}-{reg}-s{seed}", "method": method, "regularizer": reg, "backbone": "resnet18-cifar-w16",
           "pretrain_data": "scenes", "epochs": 30, "seed": seed, "task": task, "dataset": "scenes",
           "split": "test", "protocol": protocol if protocol is not None else {"k": 200, "T": 0.1},
           "metric": metric, "value": value, "n": 2000, "created": "2026-11-28T00:00:00Z",
           "suite_version": "0.1.0"}
    rec.update(kw)
    return rec


def write(path: Path, records) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


BASE = [0.60, 0.62, 0.64]
MCR = [0.63, 0.66, 0.66]


def known_records():
    recs = [record("simclr", "none", s, v) for s, v in enumerate(BASE)]
    recs += [record("simclr", "mcr", s, v) for s, v in enumerate(MCR)]
    recs += [record("simclr", "none", s, v, protocol={"k": 20, "T": 0.07}) for s, v in enumerate([0.5, 0.5, 0.5])]
    recs += [record("simclr", "mcr", s, v, protocol={"k": 20, "T": 0.07}) for s, v in enumerate([0.4, 0.5, 0.6])]
    recs += [record("byol", "none", 0, 0.7, task="linear", protocol={"mode": "fast"}),
             record("byol", "mcr", 0, 0.71, task="linear", protocol={"mode": "fast"})]
    return recs


def test_means_stds_and_paired_interval_equal_hand_computed(tmp_path):
    frame = records_frame(read_records([write(tmp_path / "r.jsonl", known_records())]))
    cells = cell_summaries(frame)
    row = cells[(cells.regularizer == "none") & cells.protocol_key.str.contains('"k": 200')].iloc[0]
    assert row["mean"] == pytest.approx(0.62) and row["std"] == pytest.approx(0.02) and row["n"] == 3
    effects = paired_effects(frame)
    eff = effects[(effects.method == "simclr") & effects.protocol_key.str.contains('"k": 200')].iloc[0]
    diffs = [m - b for m, b in zip(MCR, BASE)]  # 0.03, 0.04, 0.02
    half = T_975_DF2 * 0.01 / math.sqrt(3)
    assert eff["diff"] == pytest.approx(0.03) and eff["pairs"] == 3
    assert eff["ci_low"] == pytest.approx(sum(diffs) / 3 - half) and eff["ci_high"] == pytest.approx(0.03 + half)
    assert bool(eff["significant"])
    k20 = effects[(effects.method == "simclr") & effects.protocol_key.str.contains('"k": 20}')].iloc[0]
    assert k20["diff"] == pytest.approx(0.0) and not k20["significant"]
    byol = effects[effects.method == "byol"].iloc[0]
    assert byol["pairs"] == 1 and not byol["enough"] and not byol["significant"]


def test_report_files_headers_and_self_contained_html(tmp_path):
    out = tmp_path / "report"
    report = build_report([write(tmp_path / "r.jsonl", known_records())], out)
    md = (out / "report.md").read_text()
    assert "| | kNN k=20¹ | kNN k=200² |" in md
    assert "¹ kNN k=20: T=0.07, k=20  \n² kNN k=200: T=0.1, k=200  \nAll columns: scenes, test split" in md
    assert "0.620 ± 0.020 (n=3)" in md
    assert "+0.030 [" in md and "too few pairs" in md
    assert "## Paper claims vs measured" in md and "significant gain" in md
    assert "1 of these 2 intervals exclude 0" in md and "about 0.1 would exclude 0 by chance" in md
    html = (out / "index.html").read_text()
    # knn and linear, each as comparison and effect table, plus one headline table
    assert html.count("<table>") == len(report.tables) + len(report.effects) + len(report.headline) == 5
    for src in re.findall(r'src="([^"]+)"', html):
        assert (out / src).is_file(), src
    assert "http://" not in html and "https://" not in html
    assert r"\toprule" in (out / "tables.tex").read_text()
    assert "mean" in (out / "summary.csv").read_text().splitlines()[0]


def test_mixed_protocols_under_one_header_fail(tmp_path):
    recs = [record("simclr", "none", 0, 0.6, protocol={"k": 200, "T": 0.1}),
            record("simclr", "mcr", 0, 0.7, protocol={"k": 200, "T": 0.07})]
    with pytest.raises(DataError, match=r"mixes protocols.*T: 0.1 vs 0.07|mixes protocols.*T: 0.07 vs 0.1"):
        records_frame(read_records([write(tmp_path / "r.jsonl", recs)]))


def test_trials_are_replicates_not_protocols(tmp_path):
    recs = [record("simclr", reg, 0, v, task="detection", metric="bbox_AP", protocol={"config": "r18", "trial": t})
            for reg, vals in (("none", [0.1, 0.3]), ("mcr", [0.2, 0.5])) for t, v in enumerate(vals)]
    frame = records_frame(read_records([write(tmp_path / "r.jsonl", recs)]))
    cells = cell_summaries(frame)
    assert len(cells) == 2 and cells["n"].tolist() == [2, 2]
    assert paired_effects(frame)["diff"].iloc[0] == pytest.approx(0.15)


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.pop("protocol"), "lacks record fields"),
    (lambda r: r.update(value=None), "not a finite number"),
    (lambda r: r.update(value="0.5"), "not a finite number"),
])
def test_bad_records_are_refused(tmp_path, mutate, message):
    recs = known_records()
    mutate(recs[2])
    with pytest.raises(DataError, match=message):
        read_records([write(tmp_path / "r.jsonl", recs)])


def test_duplicate_measurements_are_not_averaged(tmp_path):
    recs = known_records() + [record("simclr", "none", 0, 0.9)]
    with pytest.raises(DataError, match="same thing twice"):
        records_frame(read_records([write(tmp_path / "r.jsonl", recs)]))


def test_cli_report_and_bad_input(tmp_path, capsys):
    path = write(tmp_path / "r.jsonl", known_records())
    assert eval_main(["report", str(path), "--out", str(tmp_path / "rep"), "--format", "md,html"]) == 0
    assert (tmp_path / "rep" / "index.html").is_file() and not (tmp_path / "rep" / "tables.tex").exists()
    printed = capsys.readouterr().out
    assert "index.html" in printed
    header = next(line for line in printed.splitlines() if line.startswith("| |"))
    assert header == "| | kNN k=200¹ | Linear² |"  # short headers in the terminal, protocols in the legend below
    assert "¹ kNN k=200: T=0.1, k=200" in printed and "All columns: scenes, test split" in printed
    assert "Verdict:" in printed
    (tmp_path / "bad.jsonl").write_text('{"run": 1}\nnot json\n')
    for argv, msg in ((["report", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "x")], "lacks record"),
                      (["report", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "x")], "not found"),
                      (["report", str(path), "--out", str(tmp_path / "x"), "--format", "pdf"], "unknown report")):
        with pytest.raises(SystemExit) as exc:
            eval_main(argv)
        assert exc.value.code == 2
        assert msg in capsys.readouterr().err


def test_headline_keeps_the_k200_knn_and_linear_columns_with_the_paired_effect(tmp_path):
    report = build_report([write(tmp_path / "r.jsonl", known_records())], tmp_path / "report",
                          preamble="## Scale\n\nResNet-18 at `32 px`, **2 CPU cores**.")
    (headline,) = report.headline
    assert headline.columns == ["kNN k=200", "Linear"] and headline.headers() == ["kNN k=200¹", "Linear²"]
    assert headline.notes == ["T=0.1, k=200", "mode=fast"] and headline.shared == "scenes, test split"
    assert headline.legend() == ["¹ kNN k=200: T=0.1, k=200", "² Linear: mode=fast", "All columns: scenes, test split"]
    assert headline.rows == ["byol", "byol+MCR", "simclr", "simclr+MCR", "byol+MCR − byol", "simclr+MCR − simclr"]
    assert headline.blocks == [(4, "MCR − base, paired by seed (95% t-interval; * = interval excludes 0)")]
    simclr = dict(zip(headline.rows, headline.cells))
    assert simclr["simclr"][0] == "0.620 ± 0.020 (n=3)" and simclr["simclr"][1] == "—"
    assert simclr["simclr+MCR − simclr"][0].startswith("+0.030 [")
    md = (tmp_path / "report" / "report.md").read_text()
    assert md.index("## Scale") < md.index("## Headline") < md.index("## Comparison tables")
    compact = (tmp_path / "report" / "headline.md").read_text()
    assert "| | kNN k=200¹ | Linear² |" in compact and "| simclr | 0.620 ± 0.020 (n=3) | — |" in compact
    assert "| **MCR − base, paired by seed (95% t-interval; * = interval excludes 0)** | | |" in compact
    assert "¹ kNN k=200: T=0.1, k=200" in compact
    html = (tmp_path / "report" / "index.html").read_text()
    assert "<code>32 px</code>" in html and "<strong>2 CPU cores</strong>" in html


def test_preamble_pipe_tables_become_html_tables():
    text = "**Chosen.** Text.\n\n| Side | lr |\n|---|:-:|\n| SimCLR | x0.5 |\n| `BYOL` | x1 |\n\nAfter."
    blocks = preamble_html(text)
    assert blocks[0] == "<p><strong>Chosen.</strong> Text.</p>" and blocks[2] == "<p>After.</p>"
    assert blocks[1] == ("<div class='scroll'><table><thead><tr><th>Side</th><th>lr</th></tr></thead><tbody>"
                         "<tr><td>SimCLR</td><td>x0.5</td></tr><tr><td><code>BYOL</code></td><td>x1</td></tr>"
                         "</tbody></table></div>")
    assert preamble_html("| not | a table |")[0].startswith("<p>")  # no rule line: a paragraph


def test_per_factor_metrics_get_one_table_per_family(tmp_path):
    recs = [record("simclr", reg, s, 0.5 + 0.1 * s, task="retention", metric=f"{family}.{factor}",
                   protocol={"probe": "ridge"})
            for reg in ("none", "mcr") for s in range(2) for family in ("probe", "retention")
            for factor in ("color", "shape")]
    report = build_report([write(tmp_path / "r.jsonl", recs)], tmp_path / "report")
    titles = sorted(t.title.split(" · pretrained")[0] for t in report.tables)
    assert titles == ["retention · probe", "retention · retention"]
    assert all(len(t.columns) == 2 for t in report.tables)


def test_training_views_are_a_row_attribute_not_a_mixed_protocol(tmp_path):
    recs = [record(m, reg, 0, 0.8, task="retention", metric="non_shared_retention",
                   protocol={"probe": "ridge", "views": f"{m}_cifar", "destroyed": ["color"]})
            for m in ("simclr", "byol") for reg in ("none", "mcr")]
    report = build_report([write(tmp_path / "r.jsonl", recs)], tmp_path / "report")
    (table,) = report.tables
    assert "factor roles=from each row's training views" in table.shared and len(table.columns) == 1
    recs[0]["protocol"]["probe"] = "logistic"  # a real protocol difference still fails
    with pytest.raises(DataError, match="mixes protocols"):
        records_frame(read_records([write(tmp_path / "r2.jsonl", recs)]))


def test_training_curves_plot_the_loss_and_the_online_knn_from_tensorboard_logs(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    from mcr_eval.reports.plots import _scalar_curves, training_curves

    logs = tmp_path / "runs"
    for run, knn in (("simclr-none-s0", [0.20, 0.25]), ("simclr-mcr-s0", [0.21, 0.24])):
        writer = SummaryWriter(str(logs / run / "20261128_000000" / "vis_data"))
        for step in (1, 2, 3, 4):
            writer.add_scalar("ssl" if "mcr" in run else "loss", 5.0 - step, step)
        for step, value in zip((2, 4), knn):
            writer.add_scalar("knn/top1", value, step)
        writer.close()
    assert EventAccumulator(str(next(logs.rglob("vis_data")))).Reload().Tags()["scalars"]
    knn = _scalar_curves([logs], ("knn/top1",))
    assert knn["simclr-none-s0"] == ([2, 4], [pytest.approx(0.20), pytest.approx(0.25)])
    # Resumed from its step-2 checkpoint: the second sitting redoes step 4 and goes on; one curve, later values win.
    writer = SummaryWriter(str(logs / "simclr-none-s0" / "20261128_010000" / "vis_data"))
    for step, value in ((4, 0.26), (6, 0.30)):
        writer.add_scalar("knn/top1", value, step)
    writer.close()
    knn = _scalar_curves([logs], ("knn/top1",))
    assert knn["simclr-none-s0"] == ([2, 4, 6], [pytest.approx(0.20), pytest.approx(0.26), pytest.approx(0.30)])
    assert set(_scalar_curves([logs], ("knn/top1",), {"simclr-mcr-s0"})) == {"simclr-mcr-s0"}
    paths = training_curves([logs], tmp_path)
    assert [p.name for p in paths] == ["curves_ssl_loss.png", "curves_knn_top1.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_effects_below_three_decimals_are_shown_in_scientific_notation_not_as_a_starred_zero():
    from mcr_eval.reports.tables import fmt_effect, fmt_value

    # A score that is 1 by construction differs by 5e-6 between sides: three decimals would print
    # "-0.000 [-0.000, -0.000] *", a significant-looking zero.
    assert fmt_effect(-5.08e-6, -9.0e-6, -1.16e-6, 3, True) == "-5.08e-06 [-9.00e-06, -1.16e-06] (n=3) *"
    assert fmt_effect(0.0, 0.0, 0.0, 3, False) == "+0.000 [+0.000, +0.000] (n=3)"
    assert fmt_effect(0.0026, -0.0004, 0.0056, 3, False) == "+0.003 [-0.000, +0.006] (n=3)"
    assert fmt_effect(9.3e-6, math.nan, math.nan, 1, False) == "+9.30e-06 (n=1: too few pairs for an interval)"
    assert fmt_value(7.0e-7, 5.2e-7, 3) == "7.00e-07 ± 5.20e-07 (n=3)"


LINEAR_PROTOCOL = {"mode": "fast", "l2_grid": [0.1, 0.01, 0.001, 0.0001, 9.999999999999999e-06, 1e-06, 1e-07],
                   "checkpoint_format": "mcr", "input_size": 32}
V1 = {"probe": "ridge-loo", "folds": 5, "views": "simclr_cifar", "destroyed": ["color"]}


def realistic_records():
    """Baseline and MCR rows over two seeds with an old numpy's grid spelling, v1 retention, RankMe, and the
    reference rows of ``mcr_eval.reference_rows`` (which write the grid's short spelling)."""
    recs = []
    for seed in (0, 1):
        for reg, shift in (("none", 0.0), ("mcr", 0.1)):
            knn = {"k": 200, "T": 0.1, "checkpoint_format": "mcr", "input_size": 32}
            recs += [record("simclr", reg, seed, 0.1 + 0.2 + shift + seed / 100, protocol=knn),
                     record("simclr", reg, seed, 0.7 + shift + seed / 100, task="linear", protocol=LINEAR_PROTOCOL),
                     record("simclr", reg, seed, 0.8 + shift / 10 + seed / 100, task="retention",
                            metric="non_shared_retention", protocol=V1),
                     record("simclr", reg, seed, 30.0 + 10 * shift + seed, task="representation", metric="rankme",
                            protocol={"rankme_eps": 1e-07})]
    for run, backbone, knn_value, lin_value in (("random-init", "resnet18-cifar-w16", 0.25, 0.45),
                                                ("raw-pixels", "raw-pixels-32px", 0.35, 0.55)):
        # written later than the trained rows: the grid's short spelling and a parameter they do not state yet
        short_grid = {**LINEAR_PROTOCOL, "l2_grid": [0.1, 0.01, 0.001, 0.0001, 1e-05, 1e-06, 1e-07],
                      "checkpoint_format": run, "normalization": "encoder.json"}
        ref = dict(run=run, backbone=backbone, pretrain_data="none", epochs=0, variant="reference")
        recs += [record(run, "none", 0, knn_value, protocol={"k": 200, "T": 0.1, "checkpoint_format": run,
                                                             "input_size": 32}, **ref),
                 record(run, "none", 0, lin_value, task="linear", protocol=short_grid, **ref)]
    return recs


def test_no_float_artifacts_three_decimals_and_one_legend_in_every_output(tmp_path):
    out = tmp_path / "report"
    build_report([write(tmp_path / "r.jsonl", realistic_records())], out)
    for name in ("report.md", "headline.md", "index.html", "tables.tex", "summary.csv", "paired_effects.csv"):
        text = (out / name).read_text()
        for artifact in ("9999999", "0000001", "00000004"):
            assert artifact not in text, (name, artifact)
    md = (out / "report.md").read_text()
    headline = md[md.index("## Headline"):md.index("## Comparison tables")]
    assert "| | kNN k=200¹ | Linear² | Linear retention (v1)³ | RankMe⁴ |" in headline
    assert headline.count("l2_grid=[0.1, 0.01, 0.001, 0.0001, 1e-05, 1e-06, 1e-07]") == 1  # in the legend, once
    assert "| simclr | 0.305 ± 0.007 (n=2) | 0.705 ± 0.007 (n=2) | 0.805 ± 0.007 (n=2) | 30.500 ± 0.707 (n=2) |" \
        in headline
    # Every number cell has three decimals (or is a dash).
    for line in headline.splitlines():
        if line.startswith("| ") and "±" in line:
            for number in re.findall(r"[-+]?\d+\.\d+", line):
                assert len(number.split(".")[1]) == 3, line


def test_reference_rows_sit_in_their_own_block_and_differences_below_a_rule(tmp_path):
    out = tmp_path / "report"
    report = build_report([write(tmp_path / "r.jsonl", realistic_records())], out)
    (headline,) = report.headline
    assert headline.rows == ["simclr", "simclr+MCR", "random-init encoder", "raw pixels", "simclr+MCR − simclr"]
    assert [title for _, title in headline.blocks] == ["Reference (untrained)", "MCR − base, paired by seed "
                                                       "(95% t-interval; * = interval excludes 0)"]
    cells = dict(zip(headline.rows, headline.cells))
    # The references were written with another checkpoint format and the grid's short spelling: same columns.
    assert cells["random-init encoder"] == ["0.250 (n=1)", "0.450 (n=1)", "—", "—"]
    assert cells["raw pixels"] == ["0.350 (n=1)", "0.550 (n=1)", "—", "—"]
    assert cells["simclr+MCR − simclr"][0] == "+0.100 [+0.100, +0.100] (n=2) *"
    assert all("random-init" not in t.rows and "raw-pixels" not in t.rows for t in report.tables)
    html = (out / "index.html").read_text()
    table = html[html.index("<h2>Headline</h2>"):html.index("<h2>Comparison tables</h2>")]
    assert table.count("<tbody>") == 3 and "<tr class='block'><th colspan='5'>Reference (untrained)</th></tr>" in table
    tex = (out / "tables.tex").read_text()
    assert r"\midrule" + "\n" + r"\multicolumn{5}{l}{\emph{Reference (untrained)}} \\" in tex
    assert r"kNN k=200\textsuperscript{1}" in tex


def test_v1_retention_is_named_for_what_it_measures_and_v2_is_not():
    from mcr_eval.reports.headers import short_name

    assert short_name("retention", "non_shared_retention", json.dumps(V1)) == "Linear retention (v1)"
    assert short_name("retention", "shared_retention", json.dumps(V1)) == "Shared linear retention (v1)"
    v2 = {**V1, "probe": "mlp", "audit": "v2"}
    assert short_name("retention", "non_shared_retention", json.dumps(v2)) == "Non-shared retention"
    assert short_name("retention", "non_shared_retention", json.dumps({**V1, "audit": "v2"})) == "Non-shared retention"
    assert short_name("knn", "top5", json.dumps({"k": 20, "T": 0.07})) == "kNN k=20 top-5"
    assert short_name("representation", "rankme", "{}") == "RankMe"
    assert short_name("detection", "AP", "{}") == "Box AP"


def test_short_float_is_the_shortest_round_trip():
    from mcr_eval.reports.headers import protocol_text, short_float

    assert short_float(9.999999999999999e-06) == "1e-05" and short_float(0.1 + 0.2) == "0.3"
    assert short_float(64.0) == "64.0" and short_float(1e-07) == "1e-07"
    text = protocol_text(json.dumps({"l2_grid": [9.999999999999999e-06, 0.1], "T": 0.1}))
    assert text == "l2_grid=[1e-05, 0.1], T=0.1"


def test_verdict_opens_the_report_and_names_the_floor_and_chance(tmp_path):
    out = tmp_path / "report"
    report = build_report([write(tmp_path / "r.jsonl", realistic_records())], out, chance=0.1,
                          preamble="Two short sentences. Above the table.\n\n**Scale.** Long details go below.")
    assert len(report.verdict) == 5
    assert report.verdict[1] == ("Class accuracy (kNN k=200 top-1): simclr 0.305, simclr+MCR 0.405; random-init "
                                 "encoder 0.250; raw pixels 0.350; chance 0.100.")
    assert "simclr +0.100 [+0.100, +0.100], higher with MCR" in report.verdict[2]
    assert report.verdict[3] == ("Every trained encoder clearly leaves chance; every trained encoder beats the "
                                 "random-init encoder; simclr does not beat the raw pixels.")
    md = (out / "report.md").read_text()
    assert md.index("**Verdict.**") < md.index("Two short sentences") < md.index("## Headline") \
        < md.index("## Details") < md.index("**Scale.**")
    html = (out / "index.html").read_text()
    assert html.index("<h1>") < html.index("Verdict.") < html.index("<h2>Headline</h2>") < html.index("Scale.")


def test_preamble_split_keeps_at_most_a_short_paragraph_above_the_table():
    from mcr_eval.reports.builder import split_preamble

    assert split_preamble("## Title\n\nOne. Two.\n\nDetails.") == ("## Title\n\nOne. Two.", "Details.")
    long = "A. B. C. D. E. F."
    assert split_preamble(f"## Title\n\n{long}\n\nMore.") == ("## Title", f"{long}\n\nMore.")
    assert split_preamble("Short.\n\nAlso short.\n<!-- details -->\nRest.") == ("Short.\n\nAlso short.", "Rest.")


def test_bar_panels_have_short_titles_that_do_not_overlap(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from mcr_eval.reports import plots

    closed = []
    monkeypatch.setattr(plots.plt, "close", closed.append)
    frame = records_frame(read_records([write(tmp_path / "r.jsonl", realistic_records()[:16])]))
    plots.metric_bars(cell_summaries(frame), tmp_path)
    (fig,) = closed
    renderer = fig.canvas.get_renderer()
    titles = [ax.title for ax in fig.axes if ax.get_title()]
    assert [t.get_text() for t in titles] == ["kNN k=200", "Linear", "Linear retention (v1)", "RankMe"]
    boxes = [t.get_window_extent(renderer) for t in titles]
    for i, a in enumerate(boxes):
        assert a.x0 >= fig.bbox.x0 and a.x1 <= fig.bbox.x1
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    plt.close(fig)
