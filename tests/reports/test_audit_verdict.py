"""The paired audit verdict: words follow the t-interval on the paired probe scores, not the clipped retention."""

import json
import math

import pandas as pd
import pytest

from mcr_eval.reports.audit_verdict import KEPT_LESS, KEPT_MORE, NO_DIFFERENCE, audit_verdict_tables
from mcr_eval.reports.builder import build_report
from tests.reports.test_report_builder import T_975_DF2, record, write

KERNEL = {"audit": "v2", "probe": "rbf-nystroem-ridge-loo", "folds": 5, "views": "simclr_cifar"}
# factor -> role, chance, input-pixel score, baseline kernel-probe score per seed, MCR score per seed
FACTORS = {
    "pos_x": ("non-shared", 0.0, 0.70, [0.80, 0.82, 0.84], [0.90, 0.93, 0.91]),     # +0.093, interval > 0
    "color": ("non-shared", 0.14, 0.65, [0.30, 0.20, 0.40], [0.32, 0.19, 0.43]),    # +0.013, interval spans 0
    "background": ("shared", 0.28, 1.0, [0.99, 0.98, 0.97], [0.90, 0.91, 0.89]),    # -0.080, interval < 0
    "shape": ("shared", 0.15, 0.18, [0.70, 0.75, 0.80], [0.71, 0.76, 0.81]),        # no retention, still paired
}


def audit_records():
    recs = []
    for reg, index in (("none", 3), ("mcr", 4)):
        for factor, spec in FACTORS.items():
            protocol = {**KERNEL, "factor": factor, "role": spec[0], "kind": "accuracy"}
            recs += [record("simclr", reg, s, v, task="retention", metric=f"probe.{factor}", protocol=protocol)
                     for s, v in enumerate(spec[index])]
            recs += [record("simclr", reg, s, value, task="retention", metric=f"{name}.{factor}", protocol=protocol)
                     for s in range(3) for name, value in (("chance", spec[1]), ("ceiling", spec[2]))]
            # retention saturates at the input's score: both sides tie at 1.0 on pos_x, which the verdict ignores
            recs += [record("simclr", reg, s, min(1.0, (v - spec[1]) / (spec[2] - spec[1])), task="retention",
                            metric=f"retention.{factor}", protocol=protocol) for s, v in enumerate(spec[index])]
        # the linear family is not the verdict's probe
        recs += [record("simclr", reg, s, 0.1 * (index - 3), task="retention", metric="probe.pos_y",
                        protocol={**KERNEL, "probe": "ridge-loo", "factor": "pos_y", "role": "non-shared"})
                 for s in range(3)]
    return recs


def test_words_follow_the_paired_interval_on_scores_not_on_saturated_retention(tmp_path):
    report = build_report([write(tmp_path / "r.jsonl", audit_records())], tmp_path / "out", formats=("md",))
    (table,) = report.audit
    assert table.columns == ["role", "chance", "input", "simclr", "simclr+MCR", "MCR − base", "verdict"]
    verdicts = {row: cells[-1] for row, cells in zip(table.rows, table.cells)}
    assert verdicts == {"pos_x": KEPT_MORE, "color": NO_DIFFERENCE, "background": KEPT_LESS, "shape": KEPT_MORE}
    assert table.rows[:2] == ["color", "pos_x"]  # non-shared first
    diffs = [m - b for b, m in zip(FACTORS["pos_x"][3], FACTORS["pos_x"][4])]
    mean = sum(diffs) / 3
    half = T_975_DF2 * math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2) / math.sqrt(3)
    cells = dict(zip(table.rows, table.cells))["pos_x"]
    assert cells[1:5] == ["0.000", "0.700", "0.820", "0.913"]
    assert cells[5] == f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}] (n=3) *"
    assert any(line.startswith("Audit v2, non-shared factors (simclr): MCR kept more of pos_x; made no detectable "
                               "difference on color") for line in report.verdict)
    text = (tmp_path / "out" / "report.md").read_text()
    assert text.index("## What MCR kept (audit v2)") < text.index("## Comparison tables")


def test_no_audit_table_without_v2_records(tmp_path):
    v1 = [record("simclr", reg, s, 0.5, task="retention", metric="retention.pos_x",
                 protocol={"probe": "ridge-loo", "factor": "pos_x", "role": "non-shared"})
          for reg in ("none", "mcr") for s in range(3)]
    report = build_report([write(tmp_path / "r.jsonl", v1)], tmp_path / "out", formats=("md",))
    assert report.audit == [] and not any(line.startswith("Audit v2") for line in report.verdict)
    assert audit_verdict_tables(pd.DataFrame(), pd.DataFrame(), pd.DataFrame()) == []


@pytest.mark.parametrize("metric,name", [("linear_non_shared_retention", "Linear non-shared retention"),
                                         ("dci_disentanglement", "DCI disentanglement"), ("mig", "MIG")])
def test_v2_summary_columns_have_short_names(metric, name):
    from mcr_eval.reports.headers import short_name

    assert short_name("retention", metric, json.dumps(KERNEL)) == name


@pytest.mark.parametrize("epochs,text", [("30", "30 epochs"), ("1.5384615384615385", "1.54 epochs"), ("60.0", "60 epochs")])
def test_group_titles_have_no_float_artifacts(epochs, text):
    from mcr_eval.reports.headers import group_title

    assert group_title("scenes", "resnet18-cifar-w16", epochs).endswith(f"· {text}")


def test_v2_records_for_some_rows_beside_v1_records_for_all_build_one_report(tmp_path):
    """A report keeps its v1 audit for every row and gains v2 for the rows re-audited (docs/audit.md)."""
    v1 = {"probe": "ridge-loo", "folds": 5, "views": "simclr_cifar"}
    recs = [record(m, reg, s, 0.8, task="retention", metric="non_shared_retention", protocol=v1)
            for m in ("simclr", "byol") for reg in ("none", "mcr") for s in range(3)]
    recs += [record("simclr", reg, s, 0.5 + 0.1 * (reg == "mcr") + 0.01 * s, task="retention",
                    metric="non_shared_retention", protocol=KERNEL) for reg in ("none", "mcr") for s in range(3)]
    report = build_report([write(tmp_path / "r.jsonl", recs)], tmp_path / "out", formats=("md",))
    (headline,) = report.headline
    assert headline.columns == ["Non-shared retention", "Linear retention (v1)"]
    cells = dict(zip(headline.rows, headline.cells))
    assert cells["byol"][0] == "—" and cells["simclr+MCR"][0].startswith("0.610")
