"""Study configs as data: the loader rebuilds the run lists the published studies were trained with, chosen rates
come from the selection studies' files, and a run's identity is its fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcr_eval.study.loader import load_study, resolve_config
from mcr_eval.study.lr_selection import choose, chosen_path, read_chosen
from mcr_eval.study.paths import ROOT, default_out, unique_runs
from mcr_eval.study.runner import PLAN_FILE, _plan, scaled_lr, train_command
from mcr_eval.study.types import run_name
from mcr_train.errors import ConfigError

# The plans of the kept studies as the previous (Python-constant) definitions built them, captured once.
PREVIOUS = json.loads((Path(__file__).parent / "fixtures" / "previous_plans.json").read_text())
# Where each kept study's report lives now (the selection studies moved under reports/lr-selection/).
CONFIG = {name: f"lr-selection/{name}" if name.endswith(("-lr", "-lr-byol")) else name for name in PREVIOUS}


def _fields(run) -> tuple:
    return run.name, run.config, run.seed, tuple(run.options), run.lr_factor, run.iters


@pytest.mark.parametrize("name", sorted(PREVIOUS))
def test_the_config_builds_the_run_list_of_the_previous_plan(name):
    before, study = PREVIOUS[name], load_study(CONFIG[name])
    old = {(r["name"], r["config"], r["seed"], tuple(r["options"]), r["lr_factor"], r["iters"])
           for r in before["runs"]}
    assert {_fields(r) for r in study.runs} == old
    assert len(study.runs) == len(old)  # no run twice
    assert (study.train_data, study.eval_data, study.test_data, study.audit) == (
        before["train_data"], before["eval_data"], before["test_data"], before["audit"])
    assert (study.audit_n, study.counterfactuals) == (before["audit_n"], before["counterfactuals"])
    assert study.scale.__dict__ == before["scale"]
    assert list(study.attribution) == before["attribution"]
    assert [list(c) for c in study.contrasts] == before["contrasts"]
    assert [list(p) for p in study.parts if name not in ("scenes", "fashion-mnist")] == before["parts"]
    assert (study.report == "ablation") == before["ablation"]
    rows = {(t.title, label, run) for t in study.tables for label, runs in t.rows for run in runs}
    assert rows == {(r["table"], r["row"], r["name"]) for r in before["runs"] if r["table"]}
    assert (list(study.spread[0:1]) + [list(study.spread[1])] if study.spread else None) == before["spread"]


def test_the_kept_reports_now_own_the_runs_they_borrowed():
    for name in PREVIOUS:
        study = load_study(CONFIG[name])
        borrowed = {r.home for r in study.runs if r.home}
        assert borrowed == ({"scenes"} if name == "scenes-matched" else set()), name
        assert default_out(study) == ROOT / "reports" / CONFIG[name]


def test_a_runs_name_is_derived_from_its_fields():
    assert run_name("simclr", "mcr", 3, "lr2-2x") == "simclr-mcr-lr2-2x-s3"
    assert run_name("byol", "none", 0) == "byol-none-s0"
    for run in load_study("ablations").runs:
        assert run.name == run_name(run.method, run.regularizer, run.seed, run.variant)


def test_each_committed_run_is_what_the_loader_would_train_today(tmp_path):
    """The plan each run was started with is committed beside it; the config must reproduce it exactly."""
    checked = 0
    for name in PREVIOUS:
        study = load_study(CONFIG[name])
        for run in (r for r in study.runs if not r.home):
            plan = ROOT / "reports" / CONFIG[name] / "runs" / run.name / PLAN_FILE
            if plan.is_file():
                assert _plan(train_command(study, run, tmp_path)) == json.loads(plan.read_text()), run.name
                checked += 1
    assert checked >= 30


@pytest.mark.parametrize(("study_name", "selection"), [
    ("scenes", "lr-selection/scenes-full-lr"), ("fashion-mnist", "lr-selection/fashion-mnist-lr"),
    ("fashion-mnist", "lr-selection/fashion-mnist-lr-byol"), ("scenes-matched", "lr-selection/scenes-full-lr")])
def test_each_published_row_trains_at_the_rate_its_selection_chose(study_name, selection):
    chosen = read_chosen(selection)
    # The file agrees with the committed validation results it summarizes.
    sel = load_study(selection)
    assert {c.run.side: c.run.lr_factor for c in choose(sel, default_out(sel))} == chosen
    study = load_study(study_name)
    runs = [r for r in study.runs if r.lr_source == selection]
    assert runs and {r.side for r in runs} <= set(chosen)
    for run in runs:
        assert run.lr_factor == chosen[run.side]
        lr = next(t for t in train_command(study, run, ROOT / "x") if t.startswith("optimizer.lr="))
        assert float(lr.split("=")[1]) == pytest.approx(scaled_lr(ROOT / run.config, study.scale.batch)
                                                        * chosen[run.side])


def test_the_chosen_rate_is_read_from_the_selection_file_not_a_constant(tmp_path, monkeypatch):
    from mcr_eval.study import lr_selection

    monkeypatch.setattr(lr_selection, "ROOT", tmp_path)
    config = tmp_path / "mine.py"
    config.write_text("_base_ = ['%s']\nruns = [dict(methods=['simclr'], seeds=[0], variants=['{lr}'], "
                      "lr_chosen_by='sel')]\n" % (ROOT / "configs/studies/_base_/data_scenes.py"))
    with pytest.raises(ConfigError, match=r"reports/sel/chosen.json does not exist.*mcr-eval study "
                                          r"configs/studies/sel.py` first"):
        load_study(config)
    chosen_path("sel").parent.mkdir(parents=True)
    chosen_path("sel").write_text(json.dumps({"chosen": [
        {"method": "simclr", "regularizer": "none", "lr_factor": 0.5},
        {"method": "simclr", "regularizer": "mcr", "lr_factor": 2.0}]}))
    runs = {r.name: r.lr_factor for r in load_study(config).runs}
    assert runs == {"simclr-none-lr0p5-s0": 0.5, "simclr-mcr-lr2-s0": 2.0}


def test_the_compute_matched_baselines_differ_from_their_twins_only_in_length(tmp_path):
    for name, long_iters, short_iters, epochs in (("scenes-matched", "9300", "3720", ("150", "60")),
                                                  ("fashion-mnist-matched", "4688", "1875", None)):
        study = load_study(name)
        longer = [r for r in study.runs if r.iters == study.scale.iters]
        assert len(longer) == 3 and {r.regularizer for r in longer} == {"none"}
        for run in longer:
            twin = next(r for r in study.runs if r.side == run.side and r.seed == run.seed and r is not run)
            long, short = train_command(study, run, tmp_path), train_command(study, twin, tmp_path)
            changed = ([long_iters], [short_iters]) if epochs is None else (
                [long_iters, f"schedule.epochs={epochs[0]}"], [short_iters, f"schedule.epochs={epochs[1]}"])
            assert ([t for t in long if t not in short], [t for t in short if t not in long]) == changed
            assert len(long) == len(short) and run.lr_factor == twin.lr_factor


@pytest.mark.parametrize("name", ["scenes", "fashion-mnist", "lr-selection/scenes-full-lr",
                                  "lr-selection/fashion-mnist-lr-byol"])
def test_the_parts_of_a_study_train_each_of_its_own_runs_once(name):
    study = load_study(name)
    covered = [r.name for part in study.parts for r in unique_runs(study, part)]
    assert sorted(covered) == sorted(r.name for r in study.runs if not r.home)


def test_every_run_plans_exactly_its_iterations():
    """A run longer than the recipe must plan more epochs: ``--max-iters`` only shortens a schedule."""
    from mmengine.config import Config

    from mcr_train.engine.schedule import plan_schedule

    sizes = {"fashion-mnist": 60000, "fashion-mnist?holdout=10000": 50000}
    for name in CONFIG.values():
        study = load_study(name)
        spec = study.train_data
        n = int(spec.split("n=")[1].split("&")[0]) if "n=" in spec else sizes[spec]
        for run in study.runs:
            schedule = Config.fromfile(str(ROOT / run.config)).schedule
            epochs = float(next((o.split("=")[1] for o in run.options if o.startswith("schedule.epochs=")),
                                schedule.epochs))
            plan = plan_schedule(n, study.scale.batch, epochs, schedule.warmup_epochs, run.iters)
            assert plan.max_iters == run.iters, (name, run.name)


def test_a_config_is_found_by_path_or_name_and_a_wrong_one_lists_the_studies():
    assert resolve_config("scenes") == ROOT / "configs/studies/scenes.py"
    assert resolve_config(str(ROOT / "configs/studies/ablations.py")) == ROOT / "configs/studies/ablations.py"
    with pytest.raises(ConfigError, match="study config nope not found; pass a config file or one of: ablations"):
        resolve_config("nope")


def test_a_selector_that_matches_nothing_and_an_unknown_group_key_are_config_errors(tmp_path):
    base = ROOT / "configs/studies/_base_/data_scenes.py"
    bad = tmp_path / "bad.py"
    bad.write_text(f"_base_ = ['{base}']\nruns = [dict(methods=['simclr'], seeds=[0], seed=[1])]\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['seed'\] in a runs group"):
        load_study(bad)
    bad.write_text(f"_base_ = ['{base}']\nruns = [dict(methods=['simclr'], seeds=[0])]\n"
                   "attribution = [dict(method='byol')]\n")
    with pytest.raises(ConfigError, match=r"bad: attribution: no run matches \{'method': 'byol'\}"):
        load_study(bad)
