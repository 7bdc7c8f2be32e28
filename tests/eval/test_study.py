"""The published-study driver: its plans are complete and consistent, and a smoke study runs end to end."""

import json
from dataclasses import replace

import pytest
import torch
from mmengine.config import Config

from mcr_eval.study import (
    ROOT,
    STUDIES,
    _run_logged,
    evaluate,
    evaluation_commands,
    is_trained,
    longest_first,
    main,
    pretrain,
    run_dir,
    scaled_lr,
    train_command,
    unique_runs,
)
from mcr_eval.study_plans import DOUBLE_SEEDS, table_runs
from mcr_eval.study_preamble import parallel_wall_s, preamble, run_seconds, run_span, sitting_count
from mcr_train.errors import ConfigError


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
    three = {"simclr", "byol", "barlowtwins"}
    two = {"simclr", "byol"}
    for name, methods in (("scenes-300", three), ("scenes-full", three), ("fashion-mnist-300", two),
                          ("fashion-mnist-1875", two)):
        names = {r.name for r in STUDIES[name].runs}
        grid = {f"{m}-{reg}-s{s}" for m in methods for reg in ("none", "mcr") for s in (0, 1, 2)}
        extra = {f"simclr-{reg}-s{s}" for reg in ("none", "mcr") for s in (3, 4)} if name == "scenes-full" else set()
        assert names == grid | extra


def test_the_published_scenes_study_borrows_each_method_at_the_length_where_its_knn_flattened(tmp_path):
    study = STUDIES["scenes"]
    assert all(r.home for r in study.runs)
    by_method: dict[str, set[tuple[str, int, str]]] = {}
    for run in study.runs:
        home = STUDIES[run.home]
        twin = next(r for r in home.runs if r.name == run.name and not r.home)
        assert (twin.config, twin.seed, twin.options, twin.lr_factor) == \
            (run.config, run.seed, run.options, run.lr_factor), run.name
        method, reg = run.name.split("-")[:2]
        by_method.setdefault(method, set()).add((reg, run.seed, f"{home.scale.iters}"))
    # Both sides of a method share seeds and length: the paired MCR rows compare like with like.
    assert by_method["simclr"] == {(reg, s, "3720") for reg in ("none", "mcr") for s in range(5)}
    # SimCLR's rows are at the rate validation chose at their length, the same for both sides.
    from mcr_eval.study_lr_plans import CHOSEN_FULL_LR

    assert {(r.name.split("-")[1], r.lr_factor) for r in study.runs if r.name.startswith("simclr")} == \
        {(reg, CHOSEN_FULL_LR[("simclr", reg)]) for reg in ("none", "mcr")}
    assert {r.home for r in study.runs if r.name.startswith("simclr")} == {"scenes-full-chosen-lr"}
    assert set(study.attribution) <= {r.name for r in study.runs if r.home == "scenes-full-chosen-lr"}
    for method in ("byol", "barlowtwins"):
        assert by_method[method] == {(reg, s, "1860") for reg in ("none", "mcr") for s in range(3)}
    text = preamble(study, {}, tmp_path / "scenes")
    assert "The rows borrowed from `reports/scenes-full/` were trained for that study's 1860 iterations." in text
    assert "This study trains and evaluates nothing itself: every row is borrowed." in text
    assert "then `python -m mcr_eval.study scenes --out reports/scenes`, which computes the attribution" in text
    assert "**Same budget for the two sides of each method, not across methods.**" in text


def test_the_published_fashion_study_borrows_each_side_at_the_rate_validation_chose_for_it(tmp_path):
    from mcr_eval.study_lr_plans import CHOSEN_FASHION_LR, CHOSEN_FASHION_LR_BYOL

    study, grid = STUDIES["fashion-mnist"], STUDIES["fashion-mnist-1875"]
    chosen = {**CHOSEN_FASHION_LR, **CHOSEN_FASHION_LR_BYOL}
    assert sorted((*r.name.split("-")[:2], r.seed, r.lr_factor) for r in study.runs) == sorted(
        (m, reg, s, factor) for (m, reg), factor in chosen.items() for s in (0, 1, 2))
    assert {r.home for r in study.runs} == {"fashion-mnist-chosen-lr", "fashion-mnist-chosen-lr-byol"}
    for run in study.runs:  # the very runs the chosen-rate studies trained, never retrained here
        twin = next(r for r in STUDIES[run.home].runs if r.name == run.name and not r.home)
        assert replace(twin, home=run.home) == run
    assert study.scale == grid.scale and study.scale.iters == 1875
    assert (study.train_spec, study.eval_data, study.audit) == (grid.train_spec, grid.eval_data, grid.audit)
    text = preamble(study, {}, tmp_path / "fashion-mnist")
    assert "This study trains and evaluates nothing itself: every row is borrowed." in text
    assert ("Run `python -m mcr_eval.study fashion-mnist-chosen-lr`, `python -m mcr_eval.study "
            "fashion-mnist-chosen-lr-byol` first") in text
    assert "BYOL 2x, BYOL+MCR 0.5x" in text and "were trained for that study's" not in text


def test_the_compute_matched_fashion_baseline_differs_from_its_1875_iteration_twin_only_in_length(tmp_path):
    study, home = STUDIES["fashion-mnist-matched"], STUDIES["fashion-mnist-1875"]
    assert study.scale.iters == 4688 and study.scale.iters / home.scale.iters == pytest.approx(2.5, abs=1e-3)
    trained = [r for r in study.runs if not r.home]
    assert sorted(r.name for r in trained) == [f"simclr-none-2p5x-s{s}" for s in (0, 1, 2)]
    for run in trained:
        twin = next(r for r in home.runs if r.name == f"simclr-none-s{run.seed}")
        long, short = train_command(study, run, tmp_path / "a"), train_command(home, twin, tmp_path / "a")
        at = long.index("--max-iters") + 1
        assert (long[at], short[at]) == ("4688", "1875")
        assert long[:at] + long[at + 1:] == short[:at] + short[at + 1:]  # same config, seed, views, rate, monitor
    # Both 1,875-iteration sides of every seed are borrowed, so each row pairs over seeds 0-2.
    seeds = {}
    for run in study.runs:
        seeds.setdefault(run.variant, set()).add(run.seed)
    assert seeds == {v: {0, 1, 2} for v in ("SimCLR, 1,875 iterations", "SimCLR+MCR, 1,875 iterations",
                                            "SimCLR, 4,688 iterations")}
    assert all(set(c) <= set(seeds) for c in study.contrasts)
    text = preamble(study, {}, tmp_path / study.name)
    assert "**Budget: unequal on purpose.**" in text
    assert "The rows borrowed from `reports/fashion-mnist-1875/` were trained for that study's 1875 iterations." in text


def test_the_compute_matched_scenes_baseline_differs_from_its_chosen_rate_twin_only_in_length(tmp_path):
    study, home = STUDIES["scenes-matched"], STUDIES["scenes-full-chosen-lr"]
    assert study.scale.iters == 9300 and study.scale.iters / home.scale.iters == pytest.approx(2.5)
    trained = [r for r in study.runs if not r.home]
    assert sorted(r.name for r in trained) == [f"simclr-none-lr2-2p5x-s{s}" for s in (0, 1, 2)]
    for run in trained:
        twin = next(r for r in home.runs if r.name == f"simclr-none-lr2-2x-s{run.seed}")
        long, short = train_command(study, run, tmp_path / "a"), train_command(home, twin, tmp_path / "a")
        # Only the length differs: 9,300 iterations planned as 150 epochs, against 3,720 as 60.
        assert [t for t in long if t not in short] == ["9300", "schedule.epochs=150"]
        assert [t for t in short if t not in long] == ["3720", "schedule.epochs=60"]
        assert len(long) == len(short)
    seeds = {}
    for run in study.runs:
        if run.home:  # the borrowed pairs are the chosen-rate study's own runs
            assert replace(next(r for r in home.runs if r.name == run.name), home=run.home, table=run.table,
                           variant=run.variant) == run
        seeds.setdefault(run.variant, set()).add(run.seed)
    assert seeds == {v: {0, 1, 2} for v in ("SimCLR, 3,720 iterations", "SimCLR+MCR, 3,720 iterations",
                                            "SimCLR, 9,300 iterations")}
    assert all(set(c) <= set(seeds) for c in study.contrasts)
    text = preamble(study, {}, tmp_path / study.name)
    assert "**Budget: unequal on purpose.**" in text
    assert "The rows borrowed from `reports/scenes-full-chosen-lr/` were trained for that study's 3720 iterations." \
        in text


@pytest.mark.parametrize("name", sorted(n for n, s in STUDIES.items() if s.parts))
def test_the_parts_of_a_study_train_each_of_its_own_runs_once(name):
    study = STUDIES[name]
    covered = [r.name for part in study.parts for r in unique_runs(study, part)]
    assert sorted(covered) == sorted(r.name for r in unique_runs(study) if not r.home)


def test_the_plateau_study_is_the_scenes_grid_at_twice_the_schedule_training_only_byol_and_barlow_twins():
    study = STUDIES["scenes-2x"]
    grid = {f"{m}-{reg}-2x-s{s}" for m in ("simclr", "byol", "barlowtwins") for reg in ("none", "mcr")
            for s in (0, 1, 2)}
    assert {r.name for r in study.runs} == grid and study.scale.iters == 3720
    assert {r.name.split("-")[0] for r in study.runs if not r.home} == {"byol", "barlowtwins"}
    # Each borrowed SimCLR run is the one its home study trains at the same scale, not a look-alike.
    for run in (r for r in study.runs if r.home):
        home = STUDIES[run.home]
        assert home.scale == study.scale
        assert next(r for r in home.runs if r.name == run.name and not r.home).options == run.options


def test_the_views_diagnosis_changes_only_the_views_and_watches_the_validation_scenes():
    from mcr_eval.study_plans import VALIDATION_SCENES

    study = STUDIES["scenes-2x-views"]
    borrowed = {r.name.split("-")[0]: r for r in study.runs if r.home}
    trained = [r for r in study.runs if not r.home]
    assert sorted(r.name for r in trained) == ["barlowtwins-none-simclrviews-2x-s0", "byol-none-simclrviews-2x-s0",
                                               "simclr-none-byolviews-2x-s0", "vicreg-none-2x-s0"]
    vicreg = trained.pop()
    assert vicreg.options == ("knn_monitor.interval=125", f"knn_monitor.data={VALIDATION_SCENES}", "schedule.epochs=60")
    for run in trained:
        peer = borrowed[run.name.split("-")[0]]
        assert (run.config, run.seed, run.lr_factor) == (peer.config, peer.seed, peer.lr_factor)
        home = STUDIES[peer.home]
        assert home.scale == study.scale
        assert next(r for r in home.runs if r.name == peer.name and not r.home).options == peer.options
        swapped = "byol_cifar" if run.name.startswith("simclr") else "simclr_cifar"
        expected = [o.replace("knn_monitor.data=scenes?n=2000&n_test=1000", f"knn_monitor.data={VALIDATION_SCENES}")
                    for o in peer.options] + [f"data.views={swapped}"]
        assert list(run.options) == expected


def test_preamble_of_a_study_in_parts_gives_each_part_command_and_its_time(tmp_path):
    study = STUDIES["scenes-full"]
    (tmp_path / "results").mkdir()
    for name in ("simclr-none-s0", "simclr-mcr-s0"):
        (tmp_path / "results" / f"{name}.jsonl").write_text("")
    timing = {"parts_wall_s": {"simclr-*-s0 simclr-*-s1": 3000, "simclr-*-s2 byol-*-s0": None},
              "pretraining_run_s": {"simclr-none-s2": 980, "simclr-mcr-s2": 2950, "byol-none-s0": None},
              "evaluation_sum_s": 600}
    text = preamble(study, timing, tmp_path)
    assert "`python -m mcr_eval.study scenes-full --out reports/scenes-full --only 'simclr-*-s0' 'simclr-*-s1'`: " \
           "50 min" in text
    assert "--only 'simclr-*-s2' 'byol-*-s0'`: partly run (2 of 4 runs trained)" in text
    assert "sittings" not in text
    assert text.count("not run yet") == len(study.parts) - 2
    assert "\n\nEvaluation and audit 10 min of single-process time (5 min at 2 jobs)." in text
    assert "methods simclr, seed 0;" in text and "**Not run yet:** barlowtwins-mcr-s0" in text
    # A part whose run was stopped and resumed says its time sums the sittings.
    resumed = preamble(study, {**timing, "pretraining_sittings": {"simclr-mcr-s1": 3}}, tmp_path)
    assert "'simclr-*-s1'`: 50 min (summed over the sittings of simclr-mcr-s1, stopped and resumed: 3 sittings;" \
        in resumed
    # Under two minutes the time is given in seconds, never as "0 min".
    short = preamble(study, {**timing, "evaluation_sum_s": 37}, tmp_path)
    assert "\n\nEvaluation and audit 37 s of single-process time (18 s at 2 jobs)." in short


def test_preamble_quotes_the_span_only_when_the_runs_were_trained_in_one_sitting(tmp_path):
    study = STUDIES["ablations"]
    runs = {"simclr-mcr-fd-s0": 600, "simclr-mcr-joint-s0": 200, "simclr-mcr-lambda1-0p1-s0": 500}
    one_sitting = preamble(study, {"pretraining_run_s": runs, "pretraining_span_s": 840, "pretrain_jobs": 2}, tmp_path)
    assert "pretraining 14 min wall-clock with 2 single-threaded runs at a time" in one_sitting
    later = preamble(study, {"pretraining_run_s": runs, "pretraining_span_s": 45000, "pretrain_jobs": 1}, tmp_path)
    # Greedy makespan at 2 jobs: 600 | 500 + 200 = 700 s.
    assert "pretraining about 12 min at 2 single-threaded jobs, computed from the measured per-run times" in later
    assert "750 min" not in later


def test_only_selects_runs_by_glob_and_names_the_runs_when_nothing_matches():
    study = STUDIES["scenes-300"]
    assert {r.name for r in unique_runs(study, ("byol-*-s2",))} == {"byol-none-s2", "byol-mcr-s2"}
    with pytest.raises(ConfigError,
                       match="--only simclr-s9 matches no run of 'scenes-300'; its runs are simclr-none-s0"):
        unique_runs(study, ("simclr-s9",))


def test_parallel_batches_start_the_mcr_runs_first_and_their_wall_clock_is_the_greedy_makespan():
    runs = longest_first(unique_runs(STUDIES["scenes-300"], ("simclr-*",)))
    assert [r.name.split("-")[1] for r in runs] == ["mcr"] * 3 + ["none"] * 3
    assert parallel_wall_s([1, 3, 1, 3, 1, 3], 2) == 6  # 3+3 on one worker, 3+1+1+1 on the other
    assert parallel_wall_s([5], 2) == 5 and parallel_wall_s([2, 2, 2, 2], 2) == 4


def test_ablation_tables_each_hold_their_baseline_and_default_rows_and_labels_are_unique():
    study = STUDIES["ablations"]
    tables = {}
    for run in study.runs:
        if run.table:
            tables.setdefault(run.table, []).append(run)
    assert len(tables) == 7
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



def test_learning_rate_selection_tries_each_rate_on_both_sides_and_evaluates_off_the_test_split():
    study = STUDIES["scenes-lr"]
    rates = {}
    for run in study.runs:
        lr = float(train_command(study, run, ROOT / "x")[-1].split("=")[1])
        assert lr == pytest.approx(scaled_lr(ROOT / run.config, 64) * run.lr_factor)
        rates.setdefault(run.name.split("-")[0], {}).setdefault(run.name.split("-")[1], set()).add(run.lr_factor)
    assert all(sides["none"] == sides["mcr"] == {0.5, 1.0, 2.0} for sides in rates.values())
    commands = evaluation_commands(study, study.runs[0], ROOT / "o", ROOT / "r.jsonl")
    assert [c[0] for c in commands] == ["knn", "linear", "represent"]  # no audit on the selection split
    assert all("seed=1" in c[c.index("--data") + 1] for c in commands)


def test_full_length_rate_selection_is_the_published_simclr_run_at_three_rates_watched_on_validation():
    from mcr_eval.study_plans import DOUBLE_SIMCLR_HOMES, VALIDATION_SCENES

    # The recipe's-rate SimCLR pairs at the published length: the runs this selection varies the rate of.
    study, published = STUDIES["scenes-full-lr"], STUDIES["scenes-full-2x-mcr"]
    assert (study.train_spec, study.eval_data, study.test_data) == (published.train_spec, VALIDATION_SCENES,
                                                                    published.eval_data)
    assert study.scale == published.scale and study.audit == "none" and not any(r.home for r in study.runs)
    assert {(r.name.split("-")[1], r.lr_factor) for r in study.runs} == {
        (reg, f) for reg in ("none", "mcr") for f in (0.5, 1.0, 2.0)}
    for run in study.runs:
        reg = run.name.split("-")[1]
        twin = next(r for r in published.runs if r.name == f"simclr-{reg}-2x-s0")
        assert (twin.home or published.name) == DOUBLE_SIMCLR_HOMES[reg]
        theirs = _with_rate_scaled(train_command(published, twin, ROOT / "x"), run.lr_factor)
        watched = [t.replace(published.eval_data, VALIDATION_SCENES) if t.startswith("knn_monitor.data=") else t
                   for t in theirs]
        assert train_command(study, run, ROOT / "x") == watched  # only the rate and the watched split differ
    commands = evaluation_commands(study, study.runs[0], ROOT / "o", ROOT / "r.jsonl")
    assert [c[0] for c in commands] == ["knn", "linear", "represent"]
    assert {c[c.index("--data") + 1] for c in commands} == {VALIDATION_SCENES}


@pytest.mark.parametrize(("name", "method"), [("fashion-mnist-lr", "simclr"), ("fashion-mnist-lr-byol", "byol")])
def test_fashion_learning_rate_selection_is_the_published_run_on_a_held_out_tenth_at_three_rates(name, method):
    from mcr_eval.study_plans import VALIDATION_FASHION

    study, published = STUDIES[name], STUDIES["fashion-mnist-1875"]
    assert (study.train_spec, study.eval_data, study.test_data) == (VALIDATION_FASHION, VALIDATION_FASHION,
                                                                    "fashion-mnist")
    assert study.scale == published.scale and study.audit == "none"
    assert {(r.name.split("-")[1], r.lr_factor) for r in study.runs} == {
        (reg, f) for reg in ("none", "mcr") for f in (0.5, 1.0, 2.0)}
    for run in study.runs:
        assert run.name.startswith(f"{method}-")
        twin = next(r for r in published.runs if r.name == f"{method}-{run.name.split('-')[1]}-s0")
        mine, theirs = train_command(study, run, ROOT / "x"), train_command(published, twin, ROOT / "x")
        recipe = next(t for t in theirs if t.startswith("optimizer.lr="))
        swapped = [t.replace("fashion-mnist", VALIDATION_FASHION) if t.startswith(("data.spec=", "knn_monitor.data="))
                   else f"optimizer.lr={float(recipe.split('=')[1]) * run.lr_factor!r}" if t == recipe else t
                   for t in theirs]
        assert mine == swapped  # only the rate and the held-out data differ from the published run
    commands = evaluation_commands(study, study.runs[0], ROOT / "o", ROOT / "r.jsonl")
    assert [c[0] for c in commands] == ["knn", "linear", "represent"]
    assert {c[c.index("--data") + 1] for c in commands} == {"fashion-mnist?holdout=10000"}


def test_smoke_study_runs_every_step_in_parts_and_resumes(tmp_path, capsys):
    out = tmp_path / "smoke"
    study = STUDIES["smoke"]
    assert main(["smoke", "--out", str(out), "--only", "simclr-mcr-*"]) == 0
    assert not run_dir(out, study, unique_runs(study, ("simclr-none-s0",))[0]).exists()
    assert "**Not run yet:** simclr-none-s0" in (out / "preamble.md").read_text()
    assert main(["smoke", "--out", str(out), "--jobs", "2"]) == 0
    assert "Not run yet" not in (out / "preamble.md").read_text()
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


def test_run_span_comes_from_the_log_not_from_file_times(tmp_path):
    """A fresh clone gives every file the checkout's time; the span must survive that."""
    work = tmp_path / "run"
    (work / "20261128_174503").mkdir(parents=True)
    (work / "20261128_174503" / "20261128_174503.log").write_text(
        "2026/11/28 17:45:04 - mmengine - INFO - Config:\n  continued line without a stamp\n"
        "2026/11/28 17:47:50 - mmengine - INFO - Saving checkpoint at 300 iterations\n")
    assert run_span(work) is None  # not exported yet
    (work / "encoder.json").write_text("{}")
    start, end = run_span(work)
    assert end - start == 2 * 60 + 47
    (work / "20261128_180000").mkdir()  # a resumed run: start from the first folder, end in the last
    (work / "20261128_180000" / "20261128_180000.log").write_text(
        "2026/11/28 18:00:01 - mmengine - INFO - resumed\n2026/11/28 18:10:00 - mmengine - INFO - done\n")
    assert run_span(work)[1] - start == 24 * 60 + 57
    # Its training time leaves out the 12 min 10 s between the two launches.
    assert run_seconds(work) == 2 * 60 + 47 + 10 * 60
    assert sitting_count(work) == 2


def test_an_interrupted_run_resumes_from_its_checkpoint_to_the_weights_of_an_uninterrupted_one(tmp_path):
    from dataclasses import replace

    from safetensors.torch import load_file

    from mcr_eval.study import PLAN_FILE, _interrupted_at_same_plan

    smoke = STUDIES["smoke"]
    run = replace(unique_runs(smoke, ("simclr-mcr-s0",))[0], options=("checkpoint_interval=1",))
    study = replace(smoke, runs=(run,))
    work = run_dir(tmp_path, study, run)
    assert pretrain(study, run, tmp_path).startswith("simclr-mcr-s0: trained in")
    uninterrupted = load_file(work / "encoder.safetensors")
    # Stopped after the first of two iterations: no encoder, the newest checkpoint gone.
    for name in ("encoder.json", "encoder.safetensors", "iter_2.pth"):
        (work / name).unlink()
    (work / "last_checkpoint").write_text(str(work / "iter_1.pth"))
    assert pretrain(study, run, tmp_path).startswith("simclr-mcr-s0: resumed and trained in")
    assert len(list(work.glob("2*_*"))) == 2 and is_trained(work, study, run)
    resumed = load_file(work / "encoder.safetensors")
    assert resumed.keys() == uninterrupted.keys()
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed)
    # Another plan (here, another seed) never continues this run's checkpoint: it starts afresh.
    (work / "encoder.json").unlink()
    other = replace(run, seed=1)
    assert not _interrupted_at_same_plan(work, train_command(study, other, work))
    assert json.loads((work / PLAN_FILE).read_text())[0] == run.config


def test_a_cloned_run_with_results_but_no_weights_is_not_retrained(tmp_path):
    """Weights are not committed; retraining would delete the committed logs to reproduce known results."""
    study = STUDIES["scenes-full"]
    run = unique_runs(study, ("byol-none-s1",))[0]
    work = run_dir(tmp_path, study, run)
    (work / "20261128_183214").mkdir(parents=True)
    (work / "encoder.json").write_text(json.dumps({"iters": study.scale.iters, "seed": run.seed}))
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / f"{run.name}.jsonl").write_text("{}\n")
    assert pretrain(study, run, tmp_path) == ("byol-none-s1: already trained and evaluated (weights not kept; "
                                              "logs and results are)")
    assert (work / "20261128_183214").is_dir()


def test_an_evaluation_skipped_as_done_leaves_no_lock_file_behind(tmp_path):
    study = STUDIES["smoke"]
    run = study.runs[0]
    final = tmp_path / "results" / f"{run.name}.jsonl"
    final.parent.mkdir()
    final.write_text("{}\n")
    assert evaluate(study, run, tmp_path) == f"{run.name}: already evaluated"
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]


def test_evaluate_one_needs_a_known_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["smoke", "--out", str(tmp_path), "--evaluate-one", "nope", "--results", str(tmp_path / "r.jsonl")])
    assert exc.value.code == 2 and "--evaluate-one needs a run of 'smoke'" in capsys.readouterr().err


def test_a_borrowed_run_is_never_retrained_by_the_study_that_borrows_it(tmp_path):
    study = STUDIES["scenes-full-interval"]
    run = next(r for r in study.runs if r.home == "scenes-full" and r.name == "simclr-mcr-s1")
    out = tmp_path / "scenes-full-interval"
    with pytest.raises(ConfigError, match="belongs to the 'scenes-full' study and is not trained yet; run "
                                          "`python -m mcr_eval.study scenes-full` first"):
        pretrain(study, run, out)
    # The home study's committed logs and results (weights are not committed) stay as they are.
    home = tmp_path / "scenes-full"
    (home / "runs" / run.name).mkdir(parents=True)
    meta = home / "runs" / run.name / "encoder.json"
    meta.write_text(json.dumps({"iters": 1860, "seed": 1}))
    (home / "results").mkdir()
    (home / "results" / f"{run.name}.jsonl").write_text("{}\n")
    assert pretrain(study, run, out) == "simclr-mcr-s1: borrowed from the 'scenes-full' study"
    assert meta.read_text() == json.dumps({"iters": 1860, "seed": 1})


def test_the_chosen_rate_study_uses_the_rates_validation_chose_and_borrows_only_recipe_rate_runs():
    from mcr_eval.lr_selection import choose
    from mcr_eval.study_lr_plans import CHOSEN_LR

    chosen = {(c.method, c.regularizer): c.run.lr_factor
              for c in choose(STUDIES["scenes-lr"], ROOT / "reports" / "scenes-lr")}
    assert chosen == CHOSEN_LR
    for run in STUDIES["scenes-chosen-lr"].runs:
        method, reg = run.name.split("-")[:2]
        assert run.lr_factor == CHOSEN_LR[(method, reg)]
        assert (run.home == "scenes-300") == (run.lr_factor == 1.0), run.name


def _with_rate_scaled(command: list[str], factor: float) -> list[str]:
    """A published training command with only its ``optimizer.lr=`` override multiplied by ``factor``."""
    recipe = next(t for t in command if t.startswith("optimizer.lr="))
    return [f"optimizer.lr={float(recipe.split('=')[1]) * factor!r}" if t == recipe else t for t in command]


@pytest.mark.parametrize("name,selection,rates,published,seeds,suffix", [
    ("fashion-mnist-chosen-lr", "fashion-mnist-lr", "CHOSEN_FASHION_LR", "fashion-mnist-1875", (0, 1, 2), ""),
    ("fashion-mnist-chosen-lr-byol", "fashion-mnist-lr-byol", "CHOSEN_FASHION_LR_BYOL", "fashion-mnist-1875",
     (0, 1, 2), ""),
    ("scenes-full-chosen-lr", "scenes-full-lr", "CHOSEN_FULL_LR", "scenes-full-2x-mcr", (0, 1, 2, 3, 4), "-2x")])
def test_the_chosen_rate_study_is_the_published_run_at_the_rate_validation_chose_for_each_side(
        name, selection, rates, published, seeds, suffix):
    from mcr_eval import study_lr_plans
    from mcr_eval.lr_selection import choose

    rates = getattr(study_lr_plans, rates)
    chosen = {(c.method, c.regularizer): c.run.lr_factor
              for c in choose(STUDIES[selection], ROOT / "reports" / selection)}
    assert chosen == rates
    study, published = STUDIES[name], STUDIES[published]
    assert (study.train_spec, study.eval_data, study.audit, study.scale) == (
        published.train_spec, published.eval_data, published.audit, published.scale)
    assert sorted((r.name.split("-")[0], r.name.split("-")[1], r.seed) for r in study.runs) == sorted(
        (m, reg, s) for m, reg in rates for s in seeds)
    for run in study.runs:
        method, reg = run.name.split("-")[:2]
        factor = rates[(method, reg)]
        twin = next(r for r in published.runs if r.name == f"{method}-{reg}{suffix}-s{run.seed}")
        if factor == 1.0:  # the recipe's rate: the published run itself, borrowed from the study that trained it
            assert run.home == (twin.home or published.name) and run.name == twin.name
            continue
        mine, theirs = train_command(study, run, ROOT / "x"), train_command(published, twin, ROOT / "x")
        assert mine == _with_rate_scaled(theirs, factor)  # only the rate differs from the published run


def test_the_byol_same_rate_check_trains_only_the_baseline_at_mcrs_chosen_rate_and_borrows_mcrs_runs():
    study, chosen, published = (STUDIES[n] for n in ("fashion-mnist-byol-same-rate", "fashion-mnist-chosen-lr-byol",
                                                    "fashion-mnist-1875"))
    assert (study.train_spec, study.eval_data, study.audit, study.scale) == (
        chosen.train_spec, chosen.eval_data, chosen.audit, chosen.scale)
    mine = {r.name: r for r in study.runs}
    for run in chosen.runs:
        if run.name.startswith("byol-mcr-"):  # the very runs of the chosen-rate study, never retrained here
            assert mine[run.name] == replace(run, home="fashion-mnist-chosen-lr-byol")
    baselines = [r for r in study.runs if not r.home]
    assert sorted(r.name for r in baselines) == [f"byol-none-lr0p5-s{s}" for s in (0, 1, 2)]
    for run in baselines:
        twin = next(r for r in published.runs if r.name == f"byol-none-s{run.seed}")
        theirs = train_command(published, twin, ROOT / "x")
        assert train_command(study, run, ROOT / "x") == _with_rate_scaled(theirs, 0.5)
    assert "sensitivity check" in study.budget and "not the protocol's" in study.budget


def test_the_chosen_rate_preamble_names_each_sides_rate_and_where_it_was_chosen(tmp_path):
    text = preamble(STUDIES["scenes-chosen-lr"], {}, tmp_path)
    assert ("each side trains at the learning rate `reports/scenes-lr` chose for it on its validation split "
            "(byol 0.5x, byol+MCR 1x, simclr 0.5x, simclr+MCR 0.5x the recipe's") in text
    assert "is tried on both sides" not in text


def test_every_run_a_study_trains_plans_exactly_the_studys_iterations():
    """A study longer than the recipe must plan more epochs: ``--max-iters`` only shortens a schedule."""
    from mcr_train.engine.schedule import plan_schedule

    train_sizes = {"fashion-mnist": 60000, "fashion-mnist?holdout=10000": 50000}
    for study in STUDIES.values():
        spec = study.train_spec
        n = int(spec.split("n=")[1].split("&")[0]) if "n=" in spec else train_sizes[spec]
        for run in unique_runs(study):
            if run.home:
                continue
            schedule = Config.fromfile(str(ROOT / run.config)).schedule
            epochs = float(next((o.split("=")[1] for o in run.options if o.startswith("schedule.epochs=")),
                                schedule.epochs))
            plan = plan_schedule(n, study.scale.batch, epochs, schedule.warmup_epochs, study.scale.iters)
            assert plan.max_iters == study.scale.iters, (study.name, run.name)
    assert "schedule.epochs=60" in unique_runs(STUDIES["scenes-full-2x"], ("simclr-none-2x-s0",))[0].options


def test_the_double_schedule_preamble_states_the_unequal_budget_and_the_borrowed_rows_scale(tmp_path):
    text = preamble(STUDIES["scenes-full-2x"], {}, tmp_path / "scenes-full-2x")
    assert "3720 iterations at batch 64" in text
    assert "The rows borrowed from `reports/scenes-full/` were trained for that study's 1860 iterations." in text
    assert "**Budget: unequal on purpose.**" in text and "nothing was tuned for either side" not in text
    assert "(resumable, after `python -m mcr_eval.study scenes-full`, whose runs it borrows; every part" in text
    assert ("(resumable, after `python -m mcr_eval.study scenes-300`, whose runs it borrows). Measured here"
            in preamble(STUDIES["scenes-chosen-lr"], {}, tmp_path / "y"))
    # A study that borrows runs at its own scale says nothing about a different scale.
    assert "were trained for that study's" not in preamble(STUDIES["scenes-chosen-lr"], {}, tmp_path / "x")


def test_a_study_borrowing_from_two_studies_names_both_in_order_and_states_equal_iterations(tmp_path):
    study = STUDIES["scenes-full-2x-mcr"]
    text = preamble(study, {}, tmp_path / study.name)
    assert ("(resumable, after `python -m mcr_eval.study scenes-full` and `python -m mcr_eval.study scenes-full-2x`, "
            "whose runs it borrows; every part") in text
    assert "**Same iterations for both sides at each length.**" in text
    # The like-for-like rows: every seed has both sides at both lengths, and only the MCR 2x runs train here.
    by_variant = {}
    for run in study.runs:
        by_variant.setdefault(run.variant, set()).add(run.seed)
    assert len(by_variant) == 4 and all(seeds == set(DOUBLE_SEEDS) for seeds in by_variant.values())
    assert {r.name for r in study.runs if not r.home} == {f"simclr-mcr-2x-s{s}" for s in DOUBLE_SEEDS}
    assert {r.name for p in study.parts for r in unique_runs(study, p)} == {f"simclr-mcr-2x-s{s}" for s in DOUBLE_SEEDS}


def test_a_part_of_a_study_tables_only_the_seeds_every_row_has(tmp_path):
    study = STUDIES["scenes-full-2x-mcr"]
    out = tmp_path / study.name
    for run in study.runs:  # the homes have evaluated every borrowed run
        if run.home:
            (tmp_path / run.home / "results").mkdir(parents=True, exist_ok=True)
            (tmp_path / run.home / "results" / f"{run.name}.jsonl").write_text("{}\n")
    assert {r.seed for r in table_runs(study, out)} == set(DOUBLE_SEEDS)  # the pending row is left out, not the seeds
    assert "Its tables keep only" not in preamble(study, {}, out)
    (out / "results").mkdir(parents=True)
    for seed in (0, 1):
        (out / "results" / f"simclr-mcr-2x-s{seed}.jsonl").write_text("{}\n")
    shown = table_runs(study, out)
    assert len(shown) == 8 and {r.seed for r in shown} == {0, 1}
    assert {r.variant for r in shown} == {r.variant for r in study.runs}
    text = preamble(study, {}, out)
    assert "seeds 0, 1;" in text and "Its tables keep only the seeds every row of a table has (0, 1)" in text
    assert "**Not run yet:** simclr-mcr-2x-s2, simclr-mcr-2x-s3, simclr-mcr-2x-s4;" in text
    # One seed per row (the ablations study): a pending variant drops its own row only.
    ablations = STUDIES["ablations"]
    own = [r for r in ablations.runs if r.table and not r.home]
    for run in own[1:]:
        (tmp_path / "ablations" / "results").mkdir(parents=True, exist_ok=True)
        (tmp_path / "ablations" / "results" / f"{run.name}.jsonl").write_text("{}\n")
    shown = {r.name for r in table_runs(ablations, tmp_path / "ablations")}
    assert own[0].name not in shown and {r.name for r in own[1:]} <= shown


def _knn_record(run: str, seed: int, value: float) -> str:
    return json.dumps({"run": run, "method": "simclr", "regularizer": "mcr" if "-mcr" in run else "none",
                       "backbone": "resnet18-cifar-w16", "pretrain_data": "scenes?n=4000", "epochs": 30, "seed": seed,
                       "task": "knn", "dataset": "scenes?n=2000&n_test=1000", "split": "test",
                       "protocol": {"k": 200, "T": 0.1}, "metric": "top1", "value": value, "n": 1000,
                       "created": "2026-11-29T00:00:00Z", "suite_version": "0.1.0"}) + "\n"


def test_the_report_of_a_part_pairs_the_evaluated_seeds_and_leaves_out_contrasts_of_pending_rows(tmp_path):
    from mcr_eval.study import report

    study = STUDIES["scenes-full-2x-mcr"]
    out = tmp_path / study.name
    knn = {"simclr-none-s": 0.30, "simclr-mcr-s": 0.40, "simclr-none-2x-s": 0.66}
    for run in study.runs:
        if run.home:
            folder = tmp_path / run.home / "results"
            folder.mkdir(parents=True, exist_ok=True)
            value = knn[run.name[:-1]] + run.seed / 100
            (folder / f"{run.name}.jsonl").write_text(_knn_record(run.name, run.seed, value))
    # No MCR 2x run evaluated yet: its row and the two contrasts that name it are left out.
    out.mkdir()
    report(study, out, {})
    text = (out / "report.md").read_text()
    assert "SimCLR+MCR, 3,720 iterations |" not in text and "0.6800 ± 0.0158 (n=5)" in text
    assert text.count("paired by seed (95% t-interval) |") == 2
    # Part 1 evaluated (seeds 0 and 1): every row and contrast covers those two seeds only.
    (out / "results").mkdir()
    for seed, value in ((0, 0.65), (1, 0.68)):
        (out / "results" / f"simclr-mcr-2x-s{seed}.jsonl").write_text(
            _knn_record(f"simclr-mcr-2x-s{seed}", seed, value))
    report(study, out, {})
    text = (out / "report.md").read_text()
    assert "| SimCLR, 3,720 iterations | 0.6650 ± 0.0071 (n=2) |" in text
    # MCR − baseline at 3,720: 0.65 - 0.66 and 0.68 - 0.67, mean 0, t(0.975, 1) * 0.01414 / sqrt(2) = 0.1271.
    assert ("| SimCLR+MCR, 3,720 iterations − SimCLR, 3,720 iterations, paired by seed (95% t-interval) | "
            "+0.0000 [-0.1271, +0.1271] (n=2) |") in text
    assert text.count("paired by seed (95% t-interval) |") == 4 and "(n=5)" not in text


def test_a_grid_report_plots_the_curves_of_its_borrowed_runs_from_their_home_and_no_other(tmp_path, monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    from mcr_eval.reports import plots
    from mcr_eval.study import report

    study = STUDIES["scenes-2x"]
    out = tmp_path / study.name
    out.mkdir()
    # The homes' committed results and logs; scenes-full-2x also holds a seed this study does not cover.
    for run in [r for r in study.runs if r.home] + [unique_runs(STUDIES["scenes-full-2x"], ("*-2x-s4",))[0]]:
        home = tmp_path / (run.home or "scenes-full-2x")
        (home / "results").mkdir(parents=True, exist_ok=True)
        value = 0.66 + run.seed / 100 - 0.01 * ("-mcr" in run.name)
        (home / "results" / f"{run.name}.jsonl").write_text(_knn_record(run.name, run.seed, value))
        writer = SummaryWriter(str(home / "runs" / run.name / "20261129_000000" / "vis_data"))
        for step in (125, 250):
            writer.add_scalar("knn/top1", value * step / 250, step)
        writer.close()
    plotted = []
    original = plots._plot_curves
    monkeypatch.setattr(plots, "_plot_curves", lambda curves, *a, **k: plotted.append(sorted(curves))
                        or original(curves, *a, **k))
    report(study, out, {})
    simclr = sorted(r.name for r in study.runs if r.home)
    assert plotted == [simclr] and (out / "figures" / "curves_knn_top1.png").is_file()
    text = (out / "report.md").read_text()
    # The SimCLR rows over seeds 0-2, and the paired effect -0.01 on every seed (a zero-width interval).
    assert "0.6700 ± 0.0100 (n=3)" in text and "0.6600 ± 0.0100 (n=3)" in text
    assert "-0.0100 [-0.0100, -0.0100] (n=3)" in text


def test_a_study_borrowing_a_grid_reports_the_runs_its_home_has_evaluated_and_names_the_pending_ones(tmp_path):
    from mcr_eval.study import report

    study = STUDIES["fashion-mnist"]
    out = tmp_path / study.name
    out.mkdir()
    for run in study.runs:  # only the SimCLR home has evaluated its runs
        if run.name.startswith("simclr"):
            folder = tmp_path / run.home / "results"
            folder.mkdir(parents=True, exist_ok=True)
            value = 0.82 + run.seed / 100 + 0.005 * ("-mcr" in run.name)
            (folder / f"{run.name}.jsonl").write_text(_knn_record(run.name, run.seed, value))
    report(study, out, {})
    text = (out / "report.md").read_text()
    assert ("**Not run yet:** byol-mcr-lr0p5-s0, byol-mcr-lr0p5-s1, byol-mcr-lr0p5-s2, byol-none-lr2-s0, "
            "byol-none-lr2-s1, byol-none-lr2-s2") in text
    assert "0.8300 ± 0.0100 (n=3)" in text and "+0.0050 [+0.0050, +0.0050] (n=3)" in text
    assert "byol" not in (out / "summary.csv").read_text()


def test_a_logged_step_creates_its_log_folder_and_a_failure_names_the_log(tmp_path):
    # A study that borrows every run has no results/ folder when its attribution step starts.
    import sys

    from mcr_train.errors import TrainingError

    log = tmp_path / "results" / "attribution.log"
    _run_logged([sys.executable, "-c", "print('figures written')"], log, "attribution")
    assert log.read_text().strip() == "figures written"
    with pytest.raises(TrainingError, match=r"attribution failed \(exit 3\): boom; full log: .*attribution.log"):
        _run_logged([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], log, "attribution")
