"""The published-study driver: its plans are complete and consistent, and a smoke study runs end to end."""

import json

import pytest
from mmengine.config import Config

from mcr_eval.study import ROOT, STUDIES, is_trained, main, run_dir, scaled_lr, train_command, unique_runs


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_run_has_a_config_and_one_meaning(name):
    study = STUDIES[name]
    configs = {}
    for run in study.runs:
        assert (ROOT / run.config).is_file(), run.config
        assert configs.setdefault(run.name, (run.config, run.options)) == (run.config, run.options), run.name
        if run.home:
            assert any(r.name == run.name and not r.home for r in STUDIES[run.home].runs), run.name


def test_published_grids_pair_every_baseline_with_its_mcr_run_over_three_seeds():
    for name, methods in (("scenes", {"simclr", "byol", "barlowtwins"}), ("fashion-mnist", {"simclr", "byol"})):
        names = {r.name for r in STUDIES[name].runs}
        assert names == {f"{m}-{reg}-s{s}" for m in methods for reg in ("none", "mcr") for s in (0, 1, 2)}


def test_ablation_tables_each_hold_their_baseline_and_default_rows_and_labels_are_unique():
    study = STUDIES["ablations"]
    tables = {}
    for run in study.runs:
        if run.table:
            tables.setdefault(run.table, []).append(run)
    assert len(tables) == 5
    for title, runs in tables.items():
        names = {r.name for r in runs}
        assert {"simclr-none-s0", "simclr-mcr-s0"} <= names, title
        assert len({r.variant for r in runs}) == len(runs) >= 3, title
    borrowed = {r.name for r in study.runs if r.home}
    assert set(study.spread[1]) <= borrowed  # the spread row's seeds come from the scenes study


def test_learning_rate_scales_linearly_with_the_batch():
    config = "configs/train/simclr_resnet18-cifar_1xb128-30e_scenes.py"
    recipe = Config.fromfile(str(ROOT / config))
    assert scaled_lr(ROOT / config, 64) == pytest.approx(recipe.optimizer.lr * 64 / recipe.data.batch_size)
    study = STUDIES["ablations"]
    run = next(r for r in study.runs if r.options)
    command = train_command(study, run, ROOT / "x")
    assert run.options[0] in command and "--max-iters" in command


def test_smoke_study_runs_every_step_and_resumes(tmp_path, capsys):
    out = tmp_path / "smoke"
    assert main(["smoke", "--out", str(out), "--jobs", "2"]) == 0
    study = STUDIES["smoke"]
    for run in unique_runs(study):
        assert is_trained(run_dir(out, study, run), study, run)
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["task"] for r in records} >= {"knn", "linear", "representation", "retention", "attribution"}
    assert {r["regularizer"] for r in records} == {"none", "mcr"}
    html = (out / "index.html").read_text()
    assert "Headline" in html and "python -m mcr_eval.study smoke" in html
    timing = json.loads((out / "timing.json").read_text())
    assert set(timing["pretraining_run_s"]) == {"simclr-none-s0", "simclr-mcr-s0"}
    capsys.readouterr()
    assert main(["smoke", "--out", str(out), "--steps", "pretrain", "evaluate"]) == 0
    assert capsys.readouterr().out.count("already") == 4  # 2 trained + 2 evaluated, nothing redone


def test_evaluate_one_needs_a_known_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["smoke", "--out", str(tmp_path), "--evaluate-one", "nope", "--results", str(tmp_path / "r.jsonl")])
    assert exc.value.code == 2 and "--evaluate-one needs a run of 'smoke'" in capsys.readouterr().err
