"""The study runner: a smoke study runs every step in parts and resumes, runs are never retrained or recomputed
when their records exist, borrowed runs stay with their owner, and the preamble states scale, rebuild and times."""

import json
import sys
from dataclasses import replace

import pytest
import torch

from mcr_eval.commands.study import run as run_command
from mcr_eval.study.curves import COMPACT_LOG, compact_log, read_compact_log
from mcr_eval.study.loader import load_study
from mcr_eval.study.paths import ROOT, run_dir, table_rows, unique_runs
from mcr_eval.study.preamble import preamble
from mcr_eval.study.runner import (
    PLAN_FILE,
    _architecture_of,
    _interrupted_at_same_plan,
    _run_logged,
    evaluate,
    is_trained,
    longest_first,
    pretrain,
    report,
    train_command,
)
from mcr_eval.study.timing import parallel_wall_s, run_seconds, run_span, sitting_count
from mcr_train.errors import ConfigError


def main(argv):
    from mcr_eval.cli import main as eval_main

    return eval_main(["study", *argv])


@pytest.mark.slow
def test_smoke_study_runs_every_step_in_parts_and_resumes(tmp_path, capsys):
    out = tmp_path / "smoke"
    study = load_study("smoke")
    assert main(["smoke", "--out", str(out), "--only", "simclr-mcr-*"]) == 0
    assert not run_dir(out, unique_runs(study, ("simclr-none-s0",))[0]).exists()
    assert "**Not run yet:** simclr-none-s0" in (out / "cache" / "preamble.md").read_text()
    assert main(["smoke", "--out", str(out), "--jobs", "2"]) == 0
    assert "Not run yet" not in (out / "cache" / "preamble.md").read_text()
    for run in unique_runs(study):
        work = run_dir(out, run)
        assert is_trained(work, run)
        # The compact log holds the base SSL loss of every logged step of the launch log it was made from.
        launch = [json.loads(line) for log in work.glob("2*_*/vis_data/scalars.json")
                  for line in log.read_text().splitlines()]
        base = "ssl" if run.regularizer == "mcr" else "loss"
        assert read_compact_log(work).get(base, []) == [(r["step"], pytest.approx(r[base], rel=1e-4))
                                                for r in launch if base in r]
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["task"] for r in records} >= {"knn", "linear", "representation", "retention", "attribution"}
    assert {r["regularizer"] for r in records if r["run"].startswith("simclr")} == {"none", "mcr"}
    # The reference rows, computed once for the study, beside the encoders' records.
    assert {r["run"] for r in records if r.get("variant") == "reference"} == {"random-init", "raw-pixels"}
    assert (out / "results" / "references.jsonl").is_file()
    # A clone keeps encoder.json without weights: an encoder of that architecture stands in for the random-init row.
    clone = tmp_path / "clone"
    clone.mkdir()
    work = run_dir(out, study.runs[0])
    (clone / "encoder.json").write_text((work / "encoder.json").read_text())
    from mcr_eval.checkpoints import load_encoder

    model, meta = load_encoder(_architecture_of(clone, tmp_path / "stand-in"), report=lambda line: None)
    _, trained = load_encoder(work, report=lambda line: None)
    assert (meta["arch"], meta["stem"], meta["width"], meta["feature_dim"]) == (
        trained["arch"], trained["stem"], trained["width"], trained["feature_dim"])
    html = (out / "index.html").read_text()
    assert "Headline" in html and f"mcr-eval study configs/studies/smoke.py --out {out}" in html
    timing = json.loads((out / "timing.json").read_text())
    assert set(timing["pretraining_run_s"]) == {"simclr-none-s0", "simclr-mcr-s0"}
    capsys.readouterr()
    assert main(["smoke", "--out", str(out), "--steps", "pretrain", "evaluate"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("already") == 4 and "references: nothing to do" in printed  # nothing redone


def test_an_interrupted_run_resumes_from_its_checkpoint_to_the_weights_of_an_uninterrupted_one(tmp_path):
    from safetensors.torch import load_file

    smoke = load_study("smoke")
    run = replace(unique_runs(smoke, ("simclr-mcr-s0",))[0], options=("checkpoint_interval=1",))
    study = replace(smoke, runs=(run,))
    work = run_dir(tmp_path, run)
    assert pretrain(study, run, tmp_path).startswith("simclr-mcr-s0: trained in")
    uninterrupted = load_file(work / "encoder.safetensors")
    # Stopped after the first of two iterations: no encoder, the newest checkpoint gone.
    for name in ("encoder.json", "encoder.safetensors", "iter_2.pth"):
        (work / name).unlink()
    (work / "last_checkpoint").write_text(str(work / "iter_1.pth"))
    assert pretrain(study, run, tmp_path).startswith("simclr-mcr-s0: resumed and trained in")
    assert len(list(work.glob("2*_*"))) == 2 and is_trained(work, run)
    resumed = load_file(work / "encoder.safetensors")
    assert resumed.keys() == uninterrupted.keys()
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed)
    # The compact log joins both launches, one value per step.
    steps = [s for s, _ in read_compact_log(work).get("ssl", [])]
    assert steps == sorted(set(steps))
    # Another plan (here, another seed) never continues this run's checkpoint: it starts afresh.
    (work / "encoder.json").unlink()
    other = replace(run, seed=1)
    assert not _interrupted_at_same_plan(work, train_command(study, other, work))
    assert json.loads((work / PLAN_FILE).read_text())[0] == run.config


def test_a_cloned_run_with_results_but_no_weights_is_not_retrained(tmp_path):
    """Weights are not committed; retraining would delete the committed logs to reproduce known results."""
    study = load_study("scenes")
    run = unique_runs(study, ("byol-none-s1",))[0]
    work = run_dir(tmp_path, run)
    work.mkdir(parents=True)
    (work / COMPACT_LOG).write_text('{"step": 10, "loss": 1.0}\n')
    (work / "encoder.json").write_text(json.dumps({"iters": 1860, "seed": 1}))
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / f"{run.name}.jsonl").write_text("{}\n")
    assert pretrain(study, run, tmp_path) == ("byol-none-s1: already trained and evaluated (weights not kept; "
                                              "logs and results are)")
    assert (work / COMPACT_LOG).read_text() == '{"step": 10, "loss": 1.0}\n'


def test_an_evaluation_skipped_as_done_leaves_no_lock_file_behind(tmp_path):
    study = load_study("smoke")
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


def test_jobs_must_be_positive(tmp_path):
    import argparse

    with pytest.raises(ConfigError, match="--jobs must be at least 1, got 0"):
        run_command(argparse.Namespace(config="smoke", out=tmp_path, jobs=0, steps=[], only=(), evaluate_one=None,
                                       results=None))


def test_a_borrowed_run_is_never_retrained_by_the_study_that_borrows_it(tmp_path):
    study = load_study("scenes-matched")
    run = next(r for r in study.runs if r.home == "scenes" and r.name == "simclr-mcr-lr2-2x-s1")
    out = tmp_path / "scenes-matched"
    with pytest.raises(ConfigError, match="belongs to the 'scenes' study and is not trained yet; run "
                                          "`mcr-eval study configs/studies/scenes.py` first"):
        pretrain(study, run, out)
    # The home study's committed logs and results (weights are not committed) stay as they are.
    home = tmp_path / "scenes"
    (home / "runs" / run.name).mkdir(parents=True)
    meta = home / "runs" / run.name / "encoder.json"
    meta.write_text(json.dumps({"iters": 3720, "seed": 1}))
    (home / "results").mkdir()
    (home / "results" / f"{run.name}.jsonl").write_text("{}\n")
    assert pretrain(study, run, out) == "simclr-mcr-lr2-2x-s1: borrowed from the 'scenes' study"
    assert meta.read_text() == json.dumps({"iters": 3720, "seed": 1})


def test_only_selects_runs_by_glob_and_names_the_runs_when_nothing_matches():
    study = load_study("scenes")
    assert {r.name for r in unique_runs(study, ("byol-*-s2",))} == {"byol-none-s2", "byol-mcr-s2"}
    with pytest.raises(ConfigError, match="--only simclr-s9 matches no run of 'scenes'; its runs are simclr-none"):
        unique_runs(study, ("simclr-s9",))


def test_parallel_batches_start_the_mcr_runs_first_and_their_wall_clock_is_the_greedy_makespan():
    runs = longest_first(unique_runs(load_study("scenes"), ("simclr-*-s[012]",)))
    assert [r.regularizer for r in runs] == ["mcr"] * 3 + ["none"] * 3
    assert parallel_wall_s([1, 3, 1, 3, 1, 3], 2) == 6  # 3+3 on one worker, 3+1+1+1 on the other
    assert parallel_wall_s([5], 2) == 5 and parallel_wall_s([2, 2, 2, 2], 2) == 4


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


def test_the_compact_log_joins_launches_and_later_launches_win_on_redone_steps(tmp_path):
    work = tmp_path / "run"
    for stamp, lines in (("20261128_174503", [{"loss": 4.0, "ssl": 4.5, "time": 1.2, "step": 10},
                                              {"loss": 3.0, "step": 20}, {"knn/top1": 0.25, "step": 20}]),
                         ("20261128_180000", [{"loss": 2.5, "step": 20}, {"loss": 2.0, "step": 30}])):
        (work / stamp / "vis_data").mkdir(parents=True)
        (work / stamp / "vis_data" / "scalars.json").write_text("".join(json.dumps(r) + "\n" for r in lines))
    compact_log(work)
    # A regularized step keeps its base loss (``ssl``), not the regularized total; timings are dropped.
    assert [json.loads(line) for line in (work / COMPACT_LOG).read_text().splitlines()] == [
        {"step": 10, "ssl": 4.5}, {"step": 20, "loss": 2.5, "knn/top1": 0.25}, {"step": 30, "loss": 2.0}]


def test_the_preamble_gives_the_rebuild_command_each_part_and_its_time(tmp_path):
    study = load_study("scenes")
    out = tmp_path / "scenes"
    (out / "results").mkdir(parents=True)
    for name in ("simclr-none-lr2-2x-s0", "simclr-mcr-lr2-2x-s0"):
        (out / "results" / f"{name}.jsonl").write_text("")
    timing = {"parts_wall_s": {"simclr-mcr-*-s0 simclr-mcr-*-s1": 3000, "byol-*-s0 byol-*-s1": None},
              "pretraining_run_s": {"byol-none-s0": 980}, "evaluation_sum_s": 600, "cpu_count": 2, "cpu": "X"}
    text = preamble(study, timing, out, "mcr-eval study configs/studies/scenes.py --out reports/scenes")
    assert "**Rebuild.** `mcr-eval study configs/studies/scenes.py --out reports/scenes` (resumable)." in text
    assert "--only 'simclr-mcr-*-s0' 'simclr-mcr-*-s1'`: 50 min" in text
    assert "--only 'byol-*-s0' 'byol-*-s1'`: partly run (1 of 4 runs trained)" in text
    assert text.count("not run yet") == len(study.parts) - 2
    assert "\n\nEvaluation and audit 10 min of single-process time (5 min at 2 jobs)." in text
    assert "methods simclr, seed 0;" in text and "**Not run yet:** barlowtwins-mcr-s0" in text
    assert "trained on 2 CPU cores (X)" in text
    assert "**Chosen learning rates.** SimCLR 2x, SimCLR+MCR 2x the recipe's" in text
    assert "`reports/lr-selection/scenes-full-lr/chosen.json`" in text
    assert study.prose.split("\n")[0][:60] in text  # the prose beside the config
    # Under two minutes the time is given in seconds, never as "0 min".
    short = preamble(study, {**timing, "evaluation_sum_s": 37}, out)
    assert "\n\nEvaluation and audit 37 s of single-process time (18 s at 2 jobs)." in short


def test_a_borrowing_study_names_its_home_and_each_length_of_its_rows(tmp_path):
    study = load_study("scenes-matched")
    text = preamble(study, {}, tmp_path / study.name)
    assert "(resumable, after `mcr-eval study configs/studies/scenes.py`, whose runs it borrows)" in text
    assert "**Budget: unequal on purpose.**" in text


def _knn_record(run: str, seed: int, value: float) -> str:
    return json.dumps({"run": run, "method": "simclr", "regularizer": "mcr" if "-mcr" in run else "none",
                       "backbone": "resnet18-cifar-w16", "pretrain_data": "scenes?n=4000", "epochs": 60, "seed": seed,
                       "task": "knn", "dataset": "scenes?n=2000&n_test=1000", "split": "test",
                       "protocol": {"k": 200, "T": 0.1}, "metric": "top1", "value": value, "n": 1000,
                       "created": "2026-11-29T00:00:00Z", "suite_version": "0.1.0"}) + "\n"


def test_the_report_of_a_part_pairs_the_evaluated_seeds_and_leaves_out_contrasts_of_pending_rows(tmp_path):
    from mcr_eval.reports.tables import fmt_effect, fmt_value

    study = load_study("scenes-matched")
    out = tmp_path / study.name
    knn = {("none", 3720): 0.30, ("mcr", 3720): 0.40}
    for run in study.runs:
        if run.home:  # the home study has evaluated every borrowed run, and kept its compact log
            folder = tmp_path / run.home / "results"
            folder.mkdir(parents=True, exist_ok=True)
            value = knn[(run.regularizer, run.iters)] + run.seed / 100
            (folder / f"{run.name}.jsonl").write_text(_knn_record(run.name, run.seed, value))
            work = tmp_path / run.home / "runs" / run.name
            work.mkdir(parents=True)
            (work / COMPACT_LOG).write_text(f'{{"step": 125, "knn/top1": {value / 2}}}\n'
                                            f'{{"step": 250, "knn/top1": {value}}}\n')
    # No 9,300-iteration run evaluated yet: its row and the two contrasts that name it are left out.
    out.mkdir()
    report(study, out, {})
    text = (out / "report.md").read_text()
    assert "SimCLR, 9,300 iterations |" not in text and fmt_value(0.31, 0.01, 3) in text
    assert text.count("paired by seed (95% t-interval) |") == 1
    # The online kNN curves of the borrowed runs come from their home's compact logs.
    assert (out / "figures" / "curves_knn_top1.png").is_file()
    # Two seeds of the longer baseline evaluated: every row and contrast covers those two seeds only.
    (out / "results").mkdir()
    for seed, value in ((0, 0.65), (1, 0.68)):
        name = f"simclr-none-lr2-2p5x-s{seed}"
        (out / "results" / f"{name}.jsonl").write_text(_knn_record(name, seed, value))
    assert {run.seed for *_, run in table_rows(study, out)} == {0, 1}
    report(study, out, {})
    text = (out / "report.md").read_text()
    assert f"| SimCLR, 9,300 iterations | {fmt_value(0.665, 0.03 / 2 ** 0.5, 2)} |" in text
    # 9,300 − 3,720 for the baseline: 0.65 - 0.30 and 0.68 - 0.31, mean 0.36, half-width t(0.975, 1) * 0.01414 /
    # sqrt(2) = 12.7062 * 0.01 = 0.1271, so the interval excludes 0.
    half = 12.706204736 * 0.01
    assert ("| SimCLR, 9,300 iterations − SimCLR, 3,720 iterations, paired by seed (95% t-interval) | "
            f"{fmt_effect(0.36, 0.36 - half, 0.36 + half, 2, True)} |") in text
    assert text.count("paired by seed (95% t-interval) |") == 3 and "(n=3)" not in text


def test_a_logged_step_creates_its_log_folder_and_a_failure_names_the_log(tmp_path):
    from mcr_train.errors import TrainingError

    log = tmp_path / "results" / "attribution.log"
    _run_logged([sys.executable, "-c", "print('figures written')"], log, "attribution")
    assert log.read_text().strip() == "figures written"
    with pytest.raises(TrainingError, match=r"attribution failed \(exit 3\): boom; full log: .*attribution.log"):
        _run_logged([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], log, "attribution")


def test_train_command_scales_the_rate_to_the_batch_and_appends_the_runs_options():
    from mmengine.config import Config

    from mcr_eval.study.runner import scaled_lr

    config = "configs/train/simclr_resnet18-cifar_1xb128-30e_scenes.py"
    recipe = Config.fromfile(str(ROOT / config))
    assert scaled_lr(ROOT / config, 64) == pytest.approx(recipe.optimizer.lr * 64 / recipe.data.batch_size)
    study = load_study("ablations")
    run = next(r for r in study.runs if r.options)
    command = train_command(study, run, ROOT / "x")
    assert command[-1] == "data.views=simclr_cifar-crop_only"
    assert command[command.index("--max-iters") + 1] == "300"


def test_a_run_shorter_than_the_log_stamps_second_still_has_a_time(tmp_path):
    """mmengine stamps to the second: a run that starts and ends within one second measured 0 s, not unknown."""
    from mcr_eval.study.timing import update_timing

    study = load_study("smoke")
    for run in unique_runs(study):
        work = run_dir(tmp_path, run)
        (work / "20261205_120000").mkdir(parents=True)
        (work / "20261205_120000" / "20261205_120000.log").write_text("2026/12/05 12:00:00 - mmengine - INFO - done\n")
        (work / "encoder.json").write_text("{}")
    timing = update_timing(study, tmp_path, 2, {})
    assert timing["pretraining_run_s"] == {run.name: 0 for run in unique_runs(study)}
