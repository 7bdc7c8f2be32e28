"""The ``mcr-eval`` argument lists a study runs on one encoder: kNN, fast linear probe, representation metrics
and the retention audit (protocols in docs/evaluation.md and docs/audit.md). Pure functions: nothing here runs
a model."""

from __future__ import annotations

from pathlib import Path

from mcr_eval.study.paths import run_dir
from mcr_eval.study.types import Run, Study


def evaluation_commands(study: Study, run: Run, out: Path, results: Path, eval_data: str | None = None,
                        audit: bool = True) -> list[list[str]]:
    """The ``mcr-eval`` commands for one encoder, on ``eval_data`` (default: the study's), into ``results``."""
    data = eval_data or study.eval_data
    work = str(run_dir(out, run))
    common = ["--data", data, "--out", str(results), "--quiet", "--workers", "0", "--cache-dir", str(out / "cache")]
    probes = [["knn", work, *common], ["linear", work, "--mode", "fast", *common], ["represent", work, *common]]
    if study.audit == "none" or not audit:
        return probes
    # The factor audit needs the generator's factors, so it always runs on scenes; real images get invariances.
    audit_data = data if study.audit == "invariance" else "scenes"
    return probes + [["retain", work, "--data", audit_data, "--n", str(study.audit_n), "--counterfactuals",
                      str(study.counterfactuals), "--out", str(results)]]
