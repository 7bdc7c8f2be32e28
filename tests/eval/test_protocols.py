"""docs/evaluation.md states each protocol in the words table headers use."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcr_eval.protocols import protocol_header

DOC = Path(__file__).resolve().parents[2] / "docs" / "evaluation.md"

DEFAULTS = [
    ("knn", {"k": 5, "T": 0.07, "input_size": 32}, "top1"),
    ("knn", {"k": 20, "T": 0.07, "input_size": 32}, "top1"),
    ("knn", {"k": 200, "T": 0.1, "input_size": 32}, "top1"),
    ("linear", {"mode": "fast", "input_size": 32}, "top1"),
    ("linear", {"mode": "standard", "epochs": 100, "input_size": 32}, "top1"),
    ("semisup", {"label_fraction": 0.01, "seed": 0, "epochs": 20}, "top1"),
    ("semisup", {"label_fraction": 0.1, "seed": 0, "epochs": 20}, "top1"),
    *[
        ("representation", {"mec_eps_sq": 64.0}, m)
        for m in ("rankme", "effective_rank", "alignment", "uniformity", "mec_coding_length", "linear_cka")
    ],
]


@pytest.mark.parametrize(("task", "protocol", "metric"), DEFAULTS)
def test_doc_states_every_header(task, protocol, metric):
    assert f"`{protocol_header(task, protocol, metric)}`" in DOC.read_text()


def test_header_reflects_record_parameters():
    assert protocol_header("knn", {"k": 200, "T": 0.1, "input_size": 224}, "top5") == (
        "kNN k=200 T=0.1 top5 (cosine, exp(s/T) votes, center-crop 224px)"
    )
    assert "300 epochs" in protocol_header("linear", {"mode": "standard", "epochs": 300})
