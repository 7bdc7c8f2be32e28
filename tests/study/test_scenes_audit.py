"""The audit re-measurement (reports/scenes-audit): its committed float16 encoders are the ones its records
were measured on, and each run is the scenes study's run of the same name."""

from __future__ import annotations

import json

from safetensors import safe_open

from mcr_eval.cli import main as eval_main
from mcr_eval.study.loader import load_study
from mcr_eval.study.paths import default_out
from mcr_eval.study.runner import PLAN_FILE, _plan, train_command

STUDY = "scenes-audit"


def _committed_value(run: str, task: str, metric: str, **protocol) -> float:
    path = default_out(load_study(STUDY)) / "results" / f"{run}.jsonl"
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if r["task"] == task and r["metric"] == metric and all(r["protocol"].get(k) == v for k, v in protocol.items()):
            return r["value"]
    raise AssertionError(f"no {task}/{metric} record for {run}")


def test_each_run_is_the_scenes_run_of_that_name_trained_with_its_committed_plan(tmp_path):
    study, scenes = load_study(STUDY), load_study("scenes")
    published = {r.name: r for r in scenes.runs}
    assert {r.name for r in study.runs} == {f"simclr-{reg}-lr2-2x-s{s}" for reg in ("none", "mcr") for s in range(3)}
    for run in study.runs:
        plan = _plan(train_command(study, run, tmp_path))
        assert plan == _plan(train_command(scenes, published[run.name], tmp_path)), run.name
        assert plan == json.loads((default_out(study) / "runs" / run.name / PLAN_FILE).read_text()), run.name


def test_every_committed_encoder_is_float16_and_reproduces_its_knn_record(tmp_path):
    runs = default_out(load_study(STUDY)) / "runs"
    for folder in sorted(p for p in runs.iterdir() if p.is_dir()):
        with safe_open(str(folder / "encoder.safetensors"), framework="pt") as f:
            dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}  # noqa: SIM118 (a safe_open handle is not iterable)
        assert "F16" in dtypes and "F32" not in dtypes, folder.name
    run = "simclr-mcr-lr2-2x-s0"
    out = tmp_path / "knn.jsonl"
    assert eval_main(["knn", str(runs / run), "--data", "scenes?n=2000&n_test=1000", "--out", str(out), "--quiet",
                      "--workers", "0"]) in (0, None)
    fresh = {(r["metric"], r["protocol"]["k"]): r["value"] for r in map(json.loads, out.read_text().splitlines())}
    assert abs(fresh[("top1", 200)] - _committed_value(run, "knn", "top1", k=200)) < 1e-6
