"""Choosing the learning rate on validation results: the best validation kNN per method and side, ties to the
recipe's rate, and only complete groups; the choice file the chosen-rate studies read; the report table."""

from __future__ import annotations

import json

import pytest

from mcr_eval.study.loader import load_study
from mcr_eval.study.lr_selection import choose, chosen_path, read_chosen, selection_markdown, write_chosen
from mcr_eval.study.paths import default_out

SELECTIONS = ["lr-selection/scenes-full-lr", "lr-selection/fashion-mnist-lr", "lr-selection/fashion-mnist-lr-byol"]


def _write(path, knn: float, linear: float | None = None, k: int = 200) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [dict(task="knn", metric="top1", value=knn, protocol=dict(k=k, T=0.1)),
               dict(task="knn", metric="top1", value=0.99, protocol=dict(k=20, T=0.07))]  # not the selection kNN
    if linear is not None:
        records.append(dict(task="linear", metric="top1", value=linear, protocol={}))
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_choice_is_the_best_validation_knn_per_side_with_ties_to_the_recipe_rate(tmp_path):
    study = load_study("lr-selection/scenes-full-lr")
    validation = {"simclr-none": (0.20, 0.18, 0.19)}  # simclr-mcr has no results yet: no choice
    for side, scores in validation.items():
        for tag, score in zip(("0p5", "1", "2"), scores, strict=True):
            _write(tmp_path / "results" / f"{side}-lr{tag}-s0.jsonl", score)
    assert [c.run.name for c in choose(study, tmp_path)] == ["simclr-none-lr0p5-s0"]
    assert write_chosen(study, tmp_path, choose(study, tmp_path)) is None  # incomplete: no choice file yet
    for tag, score in zip(("0p5", "1", "2"), (0.17, 0.21, 0.21), strict=True):
        _write(tmp_path / "results" / f"simclr-mcr-lr{tag}-s0.jsonl", score)
    chosen = {c.run.side: c for c in choose(study, tmp_path)}
    assert {side: c.run.name for side, c in chosen.items()} == {
        ("simclr", "none"): "simclr-none-lr0p5-s0", ("simclr", "mcr"): "simclr-mcr-lr1-s0"}  # 0.21 tie -> 1x
    assert chosen[("simclr", "mcr")].validation == {0.5: 0.17, 1.0: 0.21, 2.0: 0.21}
    path = write_chosen(study, tmp_path, list(chosen.values()))
    payload = json.loads(path.read_text())
    assert payload["selected_on"] == "scenes?seed=1&n=2000&n_test=1000"
    assert {(c["method"], c["regularizer"], c["lr_factor"]) for c in payload["chosen"]} == {
        ("simclr", "none", 0.5), ("simclr", "mcr", 1.0)}

    _write(tmp_path / "test" / "simclr-mcr-lr1-s0.jsonl", 0.3125, linear=0.4375)
    table = selection_markdown(study, tmp_path, list(chosen.values()))
    assert "| simclr+MCR | 0.170 / 0.210 / 0.210 | x1 | 0.312 | 0.438 |" in table
    assert "| simclr | 0.200 / 0.180 / 0.190 | x0.5 | — | — |" in table  # chosen, not yet tested
    assert "`scenes?n=2000&n_test=1000`" in table and "`scenes?seed=1&n=2000&n_test=1000`" in table


@pytest.mark.parametrize("name", SELECTIONS)
def test_each_committed_choice_file_is_what_its_validation_results_choose(name):
    study = load_study(name)
    out = default_out(study)
    assert chosen_path(name) == out / "chosen.json"
    choices = choose(study, out)
    assert {c.run.side: c.run.lr_factor for c in choices} == read_chosen(name)
    # Each chosen run was evaluated once on the test split, and only the chosen ones.
    assert sorted(p.stem for p in (out / "test").glob("*.jsonl")) == sorted(c.run.name for c in choices)


def test_the_published_choices():
    """The rates the published comparisons train at, as their selections chose them."""
    assert read_chosen("lr-selection/scenes-full-lr") == {("simclr", "none"): 2.0, ("simclr", "mcr"): 2.0}
    assert read_chosen("lr-selection/fashion-mnist-lr") == {("simclr", "none"): 0.5, ("simclr", "mcr"): 0.5}
    assert read_chosen("lr-selection/fashion-mnist-lr-byol") == {("byol", "none"): 2.0, ("byol", "mcr"): 0.5}
