"""Choosing the learning rate on validation results: the best validation kNN per method and side, ties to the
recipe's rate, and only complete groups; the report table shows every factor and the test numbers."""

from __future__ import annotations

import json

from mcr_eval.lr_selection import choose, selection_markdown
from mcr_eval.study import STUDIES


def _write(path, knn: float, linear: float | None = None, k: int = 200) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [dict(task="knn", metric="top1", value=knn, protocol=dict(k=k, T=0.1)),
               dict(task="knn", metric="top1", value=0.99, protocol=dict(k=20, T=0.07))]  # not the selection kNN
    if linear is not None:
        records.append(dict(task="linear", metric="top1", value=linear, protocol={}))
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_choice_is_the_best_validation_knn_per_method_and_side_with_ties_to_the_recipe_rate(tmp_path):
    study = STUDIES["scenes-lr"]
    validation = {"simclr-none": (0.20, 0.18, 0.19), "simclr-mcr": (0.17, 0.21, 0.21),
                  "byol-none": (0.15, 0.15, 0.16)}  # byol-mcr has no results yet: no choice
    for side, scores in validation.items():
        for tag, score in zip(("0p5", "1", "2"), scores, strict=True):
            _write(tmp_path / "results" / f"{side}-lr{tag}-s0.jsonl", score)
    chosen = {f"{c.method}-{c.regularizer}": c for c in choose(study, tmp_path)}
    assert {k: c.run.name for k, c in chosen.items()} == {
        "simclr-none": "simclr-none-lr0p5-s0", "simclr-mcr": "simclr-mcr-lr1-s0", "byol-none": "byol-none-lr2-s0"}
    assert chosen["simclr-mcr"].validation == {0.5: 0.17, 1.0: 0.21, 2.0: 0.21}

    _write(tmp_path / "test" / "simclr-mcr-lr1-s0.jsonl", 0.3125, linear=0.4375)
    table = selection_markdown(study, tmp_path, list(chosen.values()))
    assert "| simclr+MCR | 0.170 / 0.210 / 0.210 | x1 | 0.312 | 0.438 |" in table
    assert "| simclr | 0.200 / 0.180 / 0.190 | x0.5 | — | — |" in table  # chosen, not yet tested
    assert "`scenes?n=2000&n_test=1000`" in table and "`scenes?seed=1&n=2000&n_test=1000`" in table
