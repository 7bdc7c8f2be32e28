"""``make demo``: the pipeline end to end on CPU, in about ten minutes on 2 cores.

Pretrains SimCLR and SimCLR+MCR (2 seeds each; BYOL too with ``MCR_DEMO_METHODS=simclr,byol``, about twice
as long) on a 5,000-image Fashion-MNIST subset, evaluates every encoder (kNN, fast linear probe,
representation metrics), adds the reference rows (a random-init encoder of the same architecture, the raw
pixels), runs the invariance audit and an attribution, fine-tunes a few-iteration Mask R-CNN R18-FPN on
32 px multi-object scenes from the seed-0 encoders, and writes a report whose verdict, also printed last,
says in plain words what the numbers show. The numbers are whatever these short runs give; nothing is tuned.

The terminal gets one progress line per step; each step's own output (mmengine's banners, COCO evaluation
tables) goes to ``<out>/logs/<step>.log``. Without Fashion-MNIST (Debian ``dataset-fashion-mnist``) the
demo runs on the factor scenes instead, and says so.

Scale: ``MCR_DEMO_SCALE=full`` (default) or ``quick`` (a few iterations on tiny data, for the test suite).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcr_train.errors import ConfigError, cli_errors

SCALES = {
    # iters per pretraining run (batch), Fashion-MNIST subset sizes (train/test), scenes sizes for the fallback,
    # audit and attribution images; det_*: Mask R-CNN iterations (batch 4), warm-up, multi-object train/val scenes
    "full": dict(iters=120, batch=64, train_n=5000, test_n=1000, audit_n=500, attr_n=8, width=16, log_every=10,
                 det_iters=60, det_warmup=15, det_train_n=160, det_val_n=40, det_size=32),
    "quick": dict(iters=2, batch=16, train_n=240, test_n=48, audit_n=48, attr_n=2, width=4, log_every=1,
                  det_iters=2, det_warmup=1, det_train_n=8, det_val_n=4, det_size=32),
}
METHODS = ("simclr", "byol")
DEFAULT_METHODS = ("simclr",)
SEEDS = (0, 1)
FASHION_ROOT = Path("/usr/share/datasets/fashion-mnist")
DETECTION_CONFIG = "configs/detection/mask-rcnn_r18_fpn_syncbn-1xb4-12e_scenes-32px.py"
# Rough relative cost of each kind of step on 2 cores, for the ETA before any step of that kind has run.
COST = {"data": 0.1, "pretrain": 1.0, "pretrain-mcr": 2.6, "evaluate": 0.5, "references": 0.6, "audit": 0.6,
        "attribution": 0.3, "detect": 0.8, "report": 0.3}
PRIOR_SECONDS_PER_COST = 40.0


def config_of(method: str, regularizer: str, data: str = "scenes") -> str:
    return f"configs/train/{method}{'-mcr' if regularizer == 'mcr' else ''}_resnet18-cifar_1xb128-30e_{data}.py"


def parse_methods(text: str) -> tuple[str, ...]:
    """``MCR_DEMO_METHODS`` / ``--methods``: a comma-separated subset of :data:`METHODS`, in the given order."""
    methods = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ConfigError(f"unknown demo method(s) {unknown or [text]}; use a comma-separated subset of "
                          f"{', '.join(METHODS)} (e.g. MCR_DEMO_METHODS=simclr,byol)")
    return methods


class _Switch(io.TextIOBase):
    """A text stream that writes to whichever file the current step logs to (mmengine's loggers keep the
    ``sys.stdout`` they saw when created, so the stream object must stay the same across steps)."""

    def __init__(self, target: Any):
        self.target = target

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.target.write(text)
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return False


@dataclass
class Step:
    title: str
    kind: str
    run: Callable[[], Any]
    log: str


@dataclass
class Progress:
    """Runs steps with their output in log files and prints ``[3/9] title ... 41 s, ETA 6 min`` lines."""

    logs: Path
    terminal: Any = field(default_factory=lambda: sys.stdout)
    done: list[tuple[str, float]] = field(default_factory=list)

    def eta(self, remaining: Sequence[Step]) -> float:
        measured: dict[str, list[float]] = {}
        for kind, seconds in self.done:
            measured.setdefault(kind, []).append(seconds)
        # seconds per unit of cost from the steps run so far (the data step is too short to say anything;
        # before another step has run, a prior for 2 cores); each kind's own mean where measured
        timed = [(k, s) for k, s in self.done if k != "data"]
        rate = sum(s for _, s in timed) / sum(COST[k] for k, _ in timed) if timed else PRIOR_SECONDS_PER_COST
        return sum(sum(measured[s.kind]) / len(measured[s.kind]) if s.kind in measured else COST[s.kind] * rate
                   for s in remaining)

    @contextmanager
    def captured(self, log: Path):
        log.parent.mkdir(parents=True, exist_ok=True)
        switch = _Switch(None)
        old_out, old_err = sys.stdout, sys.stderr
        with open(log, "a", buffering=1) as handle:
            switch.target = handle
            sys.stdout = sys.stderr = switch
            try:
                yield
            finally:
                switch.target = old_err  # a logger that kept this stream writes to the real stderr from now on
                sys.stdout, sys.stderr = old_out, old_err

    def run(self, steps: Sequence[Step]) -> None:
        for i, step in enumerate(steps):
            print(f"[{i + 1}/{len(steps)}] {step.title} ...", end=" ", file=self.terminal, flush=True)
            start = time.perf_counter()
            log = self.logs / f"{i + 1:02d}-{step.log}.log"
            try:
                with self.captured(log):
                    step.run()
            except BaseException:
                print(f"failed after {time.perf_counter() - start:.0f} s; its output: {log}", file=self.terminal,
                      flush=True)
                errors = [line for line in log.read_text().splitlines() if line.startswith("error: ")]
                if errors:  # the step's one-line user error, which went to its log
                    print(errors[-1], file=self.terminal, flush=True)
                raise
            seconds = time.perf_counter() - start
            self.done.append((step.kind, seconds))
            eta = self.eta(steps[i + 1:])
            tail = f", ETA {eta / 60:.0f} min" if i + 1 < len(steps) else ""
            print(f"{seconds:.0f} s{tail}", file=self.terminal, flush=True)


@dataclass
class DemoData:
    """Where the demo trains and evaluates: the Fashion-MNIST subset, or the scenes fallback."""

    name: str
    spec: str
    config_data: str
    audit_spec: str
    note: str


def fashion_subset(root: Path, out: Path, n_train: int, n_test: int) -> Path:
    """The first ``n_train`` training and ``n_test`` test images of Fashion-MNIST, as the same gzipped IDX
    files (the training file is shuffled, so its head is class-balanced)."""
    import gzip
    import struct

    from mcr_train.data.formats.idx import FILES, read_idx

    out.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        for name in FILES[split]:
            array = read_idx(root / name)[:n]
            header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
            with gzip.open(out / name, "wb", compresslevel=1) as f:
                f.write(header + array.tobytes())
    return out


def choose_data(out: Path, scale: dict) -> DemoData:
    if all((FASHION_ROOT / f).is_file() for f in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")):
        root = out / "data" / "fashion-mnist"
        return DemoData("Fashion-MNIST", f"fashion-mnist:{root}", "fashion-mnist", f"fashion-mnist:{root}",
                        f"data: Fashion-MNIST, {scale['train_n']:,} training and {scale['test_n']:,} test images "
                        f"(10 classes, chance 0.100), from {FASHION_ROOT}")
    spec = f"scenes?n={scale['train_n']}&n_test={scale['test_n']}&size=32"
    return DemoData("factor scenes", spec, "scenes", "scenes?size=32",
                    f"data: Fashion-MNIST is not installed ({FASHION_ROOT}; apt-get install -y dataset-fashion-mnist), "
                    "so the demo runs on the factor scenes at 32 px (label: object shape, visible at that size); "
                    "at this length their class task may stay near chance")


def _train(root: Path, config: str, work: Path, seed: int, scale: dict, data: DemoData) -> None:
    from mcr_train.cli import main as train_main

    if work.exists():
        shutil.rmtree(work)
    options = [f"model.backbone.width={scale['width']}", f"data.batch_size={scale['batch']}",
               f"data.spec={data.spec}", "data.num_workers=0", f"log_interval={scale['log_every']}"]
    train_main([str(root / config), "--work-dir", str(work), "--seed", str(seed), "--max-iters", str(scale["iters"]),
                "--cfg-options", *options])


def _evaluate(work: Path, data: DemoData, results: Path, cache: Path) -> None:
    from mcr_eval.cli import main as eval_main

    common = ["--data", data.spec, "--out", str(results), "--quiet", "--cache-dir", str(cache), "--workers", "0"]
    eval_main(["knn", str(work), *common])
    eval_main(["linear", str(work), "--mode", "fast", *common])
    eval_main(["represent", str(work), *common])


def _detect(work: Path, root: Path, out: Path, results: Path, scale: dict) -> None:
    """Mask R-CNN R18-FPN transfer of one seed-0 encoder (docs/transfer.md)."""
    from mcr_eval.cli import main as eval_main
    from mcr_train.data.export import write_multi_scenes

    data = out / "detect" / "data"
    if not (data / "val" / "instances.json").is_file():
        size = scale["det_size"]
        write_multi_scenes(data / "train", scale["det_train_n"], size, seed=0, coco=True, progress=False)
        write_multi_scenes(data / "val", scale["det_val_n"], size, seed=1, coco=True, progress=False)
    width = scale["width"]
    options = [f"model.backbone.base_channels={width}", f"model.backbone.stem_channels={width}",
               f"model.neck.in_channels=[{width},{2 * width},{4 * width},{8 * width}]",
               # set_max_iters caps the config's 500-iteration warm-up at --max-iters, i.e. the whole run; a
               # short warm-up lets these few iterations train at the config's learning rate
               f"param_scheduler.0.end={scale['det_warmup']}"]
    runs = out / "detect" / work.name
    if runs.exists():
        shutil.rmtree(runs)
    eval_main(["detect", str(work), "--config", str(root / DETECTION_CONFIG), "--data-root", str(data),
               "--work-dir", str(runs), "--max-iters", str(scale["det_iters"]), "--workers", "0",
               "--no-checkpoint", "--out", str(results), "--cfg-options", *options])


def plan(root: Path, out: Path, scale: dict, methods: Sequence[str], data: DemoData, state: dict) -> list[Step]:
    """Every step of the demo, in order; ``state`` collects what later steps need (the report)."""
    from mcr_eval.cli import main as eval_main
    from mcr_eval.reference_rows import evaluate_references

    results, cache = out / "results.jsonl", out / "cache"
    runs = [(m, reg, s) for m in methods for reg in ("none", "mcr") for s in SEEDS]
    works = [out / "runs" / f"{m}-{reg}-s{s}" for m, reg, s in runs]

    def prepare() -> None:
        from mcr_train.data.preview import scenes_grid

        results.unlink(missing_ok=True)
        if data.config_data == "fashion-mnist":
            fashion_subset(FASHION_ROOT, out / "data" / "fashion-mnist", scale["train_n"], scale["test_n"])
        scenes_grid(out / "scenes" / "scenes_grid.png")

    steps = [Step(f"prepare data ({data.name})", "data", prepare, "data")]
    for i, ((method, reg, seed), work) in enumerate(zip(runs, works)):
        label = f"{method}{'+MCR' if reg == 'mcr' else ''}"
        config = config_of(method, reg, data.config_data)
        steps.append(Step(f"pretrain {label} seed {seed}, {scale['iters']} iterations (run {i + 1}/{len(runs)})",
                          "pretrain-mcr" if reg == "mcr" else "pretrain",
                          lambda c=config, w=work, s=seed: _train(root, c, w, s, scale, data), f"pretrain-{work.name}"))
    for work in works:
        steps.append(Step(f"evaluate {work.name}: kNN, linear probe, RankMe", "evaluate",
                          lambda w=work: _evaluate(w, data, results, cache), f"evaluate-{work.name}"))
    steps.append(Step("reference rows: random-init encoder, raw pixels", "references",
                      lambda: evaluate_references(data.spec, works[0], results, cache), "references"))
    audit = ["retain", *map(str, works), "--data", data.audit_spec, "--n", str(scale["audit_n"]),
             "--counterfactuals", str(max(scale["audit_n"] // 5, 10)), "--out", str(results),
             "--report", str(out / "audit")]
    steps.append(Step("retention audit of every encoder", "audit", lambda: eval_main(audit), "audit"))
    first = [str(w) for w in works if w.name in (f"{methods[0]}-none-s0", f"{methods[0]}-mcr-s0")]
    attribute = ["attribute", *first, "--n", str(scale["attr_n"]), "--method", "ig", "--target", "view-similarity",
                 "--out", str(results), "--figures", str(out / "attribution")]
    steps.append(Step("attribution (integrated gradients) of the seed-0 pair", "attribution",
                      lambda: eval_main(attribute), "attribution"))
    for work in (w for w in works if w.name.endswith("-s0")):
        steps.append(Step(f"detection transfer {work.name}: Mask R-CNN R18-FPN, {scale['det_iters']} iterations",
                          "detect", lambda w=work: _detect(w, root, out, results, scale), f"detect-{work.name}"))

    def report() -> None:
        from mcr_eval.data import dataset_labels, load_split, num_classes_of
        from mcr_eval.reports.builder import build_report

        test = load_split(data.spec, "test")
        chance = 1.0 / num_classes_of(test, dataset_labels(test))
        state["report"] = build_report([results], out, log_dirs=[out / "runs"],
                                       figure_dirs=[out / "scenes", out / "audit", out / "attribution"],
                                       preamble=_preamble(data, scale, methods), chance=chance)

    steps.append(Step("report", "report", report, "report"))
    return steps


def _preamble(data: DemoData, scale: dict, methods: Sequence[str]) -> str:
    names = " and ".join(f"{m} with and without MCR" for m in methods)
    summary = (f"`make demo`: {names}, {len(SEEDS)} seeds each, {scale['iters']} iterations at batch "
               f"{scale['batch']} on {data.name} (ResNet-18, CIFAR stem, width {scale['width']}), on CPU. "
               "Every number comes from these short runs; nothing was tuned.")
    details = (f"**Data.** {data.note[len('data: '):]}. Evaluation: kNN and the fast linear probe on the same "
               f"split sizes; the reference rows are a seed-0 random-init encoder of the same architecture and the "
               f"raw pixels (flattened, normalized), probed the same way. Detection: Mask R-CNN R18-FPN, "
               f"{scale['det_iters']} iterations on {scale['det_train_n']} multi-object scenes of "
               f"{scale['det_size']} px, from the seed-0 encoders. Logs of every step: `logs/`.")
    return f"{summary}\n\n<!-- details -->\n\n{details}"


@cli_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mcr_eval.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/demo"))
    parser.add_argument("--scale", default=os.environ.get("MCR_DEMO_SCALE", "full"), choices=sorted(SCALES))
    parser.add_argument("--methods", default=os.environ.get("MCR_DEMO_METHODS", ",".join(DEFAULT_METHODS)),
                        help=f"comma-separated subset of {','.join(METHODS)} (default: simclr; env MCR_DEMO_METHODS)")
    args = parser.parse_args(argv)
    methods = parse_methods(args.methods)
    scale, root, out = SCALES[args.scale], Path(__file__).resolve().parents[1], args.out
    out.mkdir(parents=True, exist_ok=True)
    data = choose_data(out, scale)
    t0 = time.perf_counter()
    print(f"mcr demo (scale={args.scale}) -> {out}; every step's output goes to {out / 'logs'}")
    print(data.note)
    state: dict = {}
    if (out / "logs").exists():
        shutil.rmtree(out / "logs")
    Progress(out / "logs").run(plan(root, out, scale, methods, data, state))
    from mcr_eval.reports.tables import to_markdown

    report = state["report"]
    for table in report.headline:
        print("\n" + to_markdown(table))
    print(f"\ndemo finished in {time.perf_counter() - t0:.0f} s. Verdict:")
    for line in report.verdict:
        print(f"  {line}")
    print(f"HTML report: {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
