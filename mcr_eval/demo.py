"""``make demo``: the embedded pipeline end to end on the factor scenes, CPU-sized.

Pretrains SimCLR and SimCLR+MCR (2 seeds each; BYOL and BYOL+MCR too with ``MCR_DEMO_METHODS=simclr,byol``,
about 13 minutes more) on the scenes, evaluates every encoder (kNN, fast
linear probe, representation metrics, retention audit, attribution), fine-tunes a few-iteration Mask R-CNN
R18-FPN on 32 px multi-object scenes from the seed-0 encoders (``mcr-eval detect``; their CIFAR stem
goes into ``CifarStemResNet``), and writes a comparison report to ``reports/demo/``. The numbers are
whatever these short runs give; nothing is tuned or selected.

Scale: ``MCR_DEMO_SCALE=full`` (default, about 13 minutes on 2 cores) or ``quick`` (a few iterations,
used by the test suite to prove every artefact is produced).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from mcr_train.errors import ConfigError, cli_errors

SCALES = {
    # iters per pretraining run, scenes for training, probe train/test sizes, audit scenes; det_*: Mask R-CNN
    # iterations (batch 4), warm-up iterations, and multi-object train/val scenes of det_size px
    "full": dict(iters=250, batch=64, train_n=4000, probe_n=2000, test_n=1000, audit_n=600, cf=100, attr_n=8,
                 width=16, log_every=5, det_iters=80, det_warmup=20, det_train_n=200, det_val_n=50, det_size=32),
    "quick": dict(iters=3, batch=16, train_n=64, probe_n=120, test_n=60, audit_n=120, cf=20, attr_n=2, width=4,
                  log_every=1, det_iters=2, det_warmup=1, det_train_n=8, det_val_n=4, det_size=32),
}
METHODS = ("simclr", "byol")
# BYOL's four runs add about 13 minutes to the default demo's 12, past its 15-minute budget, so it is opt-in.
DEFAULT_METHODS = ("simclr",)
SEEDS = (0, 1)


def config_of(method: str, regularizer: str) -> str:
    return f"configs/train/{method}{'-mcr' if regularizer == 'mcr' else ''}_resnet18-cifar_1xb128-30e_scenes.py"


def parse_methods(text: str) -> tuple[str, ...]:
    """``MCR_DEMO_METHODS`` / ``--methods``: a comma-separated subset of :data:`METHODS`, in the given order."""
    methods = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ConfigError(f"unknown demo method(s) {unknown or [text]}; use a comma-separated subset of "
                          f"{', '.join(METHODS)} (e.g. MCR_DEMO_METHODS=simclr,byol)")
    return methods
DETECTION_CONFIG = "configs/detection/mask-rcnn_r18_fpn_syncbn-1xb4-12e_scenes-32px.py"


def _step(title: str) -> float:
    print(f"\n=== {title}", flush=True)
    return time.perf_counter()


def pretrain(root: Path, out: Path, scale: dict, methods: Sequence[str] = DEFAULT_METHODS) -> list[Path]:
    from mcr_train.cli import main as train_main

    work_dirs = []
    for method in methods:
        for reg in ("none", "mcr"):
            config = config_of(method, reg)
            for seed in SEEDS:
                work = out / "runs" / f"{method}-{reg}-s{seed}"
                if work.exists():
                    shutil.rmtree(work)
                start = _step(f"pretrain {method}{'+MCR' if reg == 'mcr' else ''} seed {seed} ({scale['iters']} iters)")
                options = [f"model.backbone.width={scale['width']}", f"data.batch_size={scale['batch']}",
                           f"data.spec=scenes?n={scale['train_n']}", "data.num_workers=0",
                           f"log_interval={scale['log_every']}"]
                train_main([str(root / config), "--work-dir", str(work), "--seed", str(seed),
                            "--max-iters", str(scale["iters"]), "--cfg-options", *options])
                print(f"    done in {time.perf_counter() - start:.0f}s -> {work}")
                work_dirs.append(work)
    return work_dirs


def evaluate(work_dirs: list[Path], out: Path, scale: dict) -> Path:
    from mcr_eval.cli import main as eval_main

    results = out / "results.jsonl"
    results.unlink(missing_ok=True)
    data = f"scenes?n={scale['probe_n']}&n_test={scale['test_n']}"
    common = ["--data", data, "--out", str(results), "--quiet", "--cache-dir", str(out / "cache")]
    for work in work_dirs:
        start = _step(f"evaluate {work.name}: kNN, fast linear, representation metrics")
        eval_main(["knn", str(work), *common])
        eval_main(["linear", str(work), "--mode", "fast", *common])
        eval_main(["represent", str(work), *common])
        print(f"    done in {time.perf_counter() - start:.0f}s")
    encoders = [str(w) for w in work_dirs]
    start = _step("retention audit (factor probes, counterfactuals) on every encoder")
    eval_main(["retain", *encoders, "--n", str(scale["audit_n"]), "--counterfactuals", str(scale["cf"]),
               "--out", str(results), "--report", str(out / "audit")])
    print(f"    done in {time.perf_counter() - start:.0f}s")
    start = _step("attribution (integrated gradients, view similarity) on a few scenes")
    # The first method's seed-0 pair: the baseline and MCR encoders side by side.
    first = work_dirs[0].name.split("-")[0]
    pair = [str(w) for w in work_dirs if w.name in (f"{first}-none-s0", f"{first}-mcr-s0")]
    eval_main(["attribute", *pair, "--n", str(scale["attr_n"]),
               "--method", "ig", "--target", "view-similarity", "--out", str(results),
               "--figures", str(out / "attribution")])
    print(f"    done in {time.perf_counter() - start:.0f}s")
    return results


def detect(work_dirs: list[Path], root: Path, out: Path, results: Path, scale: dict) -> None:
    """Mask R-CNN R18-FPN transfer of every seed-0 encoder, with and without MCR (README section 'Transfer')."""
    from mcr_eval.cli import main as eval_main
    from mcr_train.data.export import write_multi_scenes

    data = out / "detect" / "data"
    if data.exists():
        shutil.rmtree(data)
    size = scale["det_size"]
    write_multi_scenes(data / "train", scale["det_train_n"], size, seed=0, coco=True, progress=False)
    write_multi_scenes(data / "val", scale["det_val_n"], size, seed=1, coco=True, progress=False)
    width = scale["width"]
    options = [f"model.backbone.base_channels={width}", f"model.backbone.stem_channels={width}",
               f"model.neck.in_channels=[{width},{2 * width},{4 * width},{8 * width}]",
               # set_max_iters keeps the config's 500-iteration warm-up capped at --max-iters, i.e. the whole
               # run; a short warm-up lets these few iterations train at the config's learning rate
               f"param_scheduler.0.end={scale['det_warmup']}"]
    for work in (w for w in work_dirs if w.name.endswith("-s0")):
        runs = out / "detect" / work.name
        if runs.exists():
            shutil.rmtree(runs)
        start = _step(f"detection transfer {work.name}: Mask R-CNN R18-FPN, {scale['det_iters']} iters on "
                      f"{scale['det_train_n']} scenes of {size} px")
        eval_main(["detect", str(work), "--config", str(root / DETECTION_CONFIG), "--data-root", str(data),
                   "--work-dir", str(runs), "--max-iters", str(scale["det_iters"]), "--workers", "0",
                   "--no-checkpoint", "--out", str(results), "--cfg-options", *options])
        print(f"    done in {time.perf_counter() - start:.0f}s")


@cli_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mcr_eval.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/demo"))
    parser.add_argument("--scale", default=os.environ.get("MCR_DEMO_SCALE", "full"), choices=sorted(SCALES))
    parser.add_argument("--methods", default=os.environ.get("MCR_DEMO_METHODS", ",".join(DEFAULT_METHODS)),
                        help=f"comma-separated subset of {','.join(METHODS)} (default: simclr; env MCR_DEMO_METHODS)")
    args = parser.parse_args(argv)
    methods = parse_methods(args.methods)
    if args.scale not in SCALES:
        raise ConfigError(f"unknown demo scale {args.scale!r}; use one of {sorted(SCALES)}")
    scale, root, out = SCALES[args.scale], Path(__file__).resolve().parents[1], args.out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    from mcr_train.data.preview import scenes_grid

    print(f"scenes and their masks: {scenes_grid(out / 'scenes' / 'scenes_grid.png')}")
    work_dirs = pretrain(root, out, scale, methods)
    results = evaluate(work_dirs, out, scale)
    detect(work_dirs, root, out, results, scale)
    _step("report")
    from mcr_eval.cli import main as eval_main

    eval_main(["report", str(results), "--out", str(out), "--logs", str(out / "runs"),
               "--figures", str(out / "scenes"), str(out / "audit"), str(out / "attribution")])
    print(f"demo finished in {time.perf_counter() - t0:.0f}s (scale={args.scale}); open {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
