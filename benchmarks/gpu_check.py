"""GPU acceptance check: training steps, kNN, feature extraction and ResNet-50 throughput on one GPU.

Run through ``benchmarks/gpu_check.sh`` (a few minutes on one H100; well under its 8-minute limit). It
needs torch, torchvision, kornia, mmengine and this suite, and no compiled mmcv ops: training steps are
the methods' own ``train_step`` with an mmengine ``OptimWrapper``, not the Runner. Checks:

* ``train simclr+mcr`` / ``train byol+mcr``: bf16 (``AmpOptimWrapper``) bi-level MCR steps of a
  ResNet-18 (CIFAR stem) with both views drawn on the GPU by ``DeviceTwoViewPreprocessor`` from uint8
  scenes; passes when every logged loss is finite; reports source images/s (two views each);
* ``knn gpu == cpu``: the kNN votes of ``mcr_eval.probes.knn`` for the reported (k, T) settings on the GPU
  and on the CPU from the same features (float32 and float64): top-1 and top-5 class rankings must be
  identical, row for row;
* ``extract / forward``: ``mcr_eval.features.extract_features`` images/s against a bare inference-mode
  forward of the same backbone over the same images already on the GPU;
* ``r50 simclr / fwd+bwd``: SimCLR ``train_step`` (bf16) of a ResNet-50 at 224 px in view images/s against
  a bare bf16 forward+backward+SGD step of the same backbone on the same number of images.

Throughput checks pass above a loose floor (``--min-ratio``): they catch a broken path (a CPU fallback,
a synchronising copy per image), not a few percent. ``--tiny`` shrinks every size so the logic runs on a
CPU in seconds (``--device cpu``; bf16 needs a GPU, so CPU steps are fp32). Exit status: 0 when all checks
pass, 1 when one fails, 2 when the device is missing.

    benchmarks/gpu_check.sh                 # on the GPU
    benchmarks/gpu_check.sh --tiny --device cpu
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def heads(method: str, hidden: int) -> dict:
    if method == "simclr":
        return dict(projector=dict(hidden_dim=hidden, out_dim=128))
    return dict(projector=dict(hidden_dim=hidden, out_dim=256), predictor=dict(hidden_dim=hidden, out_dim=256))


@dataclass(frozen=True)
class Sizes:
    width: int = 64          # ResNet-18 width of the training and extraction checks
    hidden: int = 2048       # projector / predictor hidden width
    batch: int = 256         # source images per training step
    size: int = 32           # scene side, pixels
    steps: int = 30          # timed steps per training check
    warmup: int = 5
    scenes: int = 6000       # rendered scenes: kNN features (5/6 train, 1/6 test)
    extract_n: int = 20000   # images for the extraction throughput
    extract_batch: int = 256
    r50_batch: int = 128     # source images per ResNet-50 step (two views each)
    r50_size: int = 224
    r50_width: int = 64
    r50_steps: int = 15


TINY = Sizes(width=4, hidden=32, batch=8, size=16, steps=2, warmup=1, scenes=120, extract_n=64, extract_batch=16,
             r50_batch=2, r50_size=32, r50_width=4, r50_steps=1)


@dataclass
class Row:
    check: str
    result: str
    reference: str
    passed: bool


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], steps: int, warmup: int, device: torch.device) -> float:
    """Seconds for ``steps`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    sync(device)
    return time.perf_counter() - start


def render_scenes(n: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 scenes (N, 3, S, S) and their shape labels."""
    from mcr_train.data.scenes import CATEGORICAL_FACTORS, render, sample_factors

    factors = [sample_factors(seed, i) for i in range(n)]
    images = np.stack([render(f, size).image for f in factors])
    labels = torch.tensor([CATEGORICAL_FACTORS["shape"].index(f.shape) for f in factors])
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), labels


def optim_wrapper(model: nn.Module, device: torch.device, lr: float = 0.05):
    from mmengine.optim import AmpOptimWrapper, OptimWrapper

    groups = [{k: v for k, v in g.items() if k != "lars_exclude"} for g in model.parameter_groups() if g["params"]]
    optimizer = torch.optim.SGD(groups, lr=lr, momentum=0.9, weight_decay=1e-6)
    if device.type == "cuda":
        return AmpOptimWrapper(optimizer=optimizer, dtype=torch.bfloat16)
    return OptimWrapper(optimizer)


# ---- checks ------------------------------------------------------------------------------------------------
def check_training(method: str, images: torch.Tensor, device: torch.device, sizes: Sizes) -> Row:
    """bf16 MCR steps with device views; every logged loss must be finite."""
    import mcr_train.views.device  # noqa: F401  (registers DeviceTwoViewPreprocessor)
    from mcr_train.mcr import wrap_with_regularizer
    from mcr_train.methods import build_method

    torch.manual_seed(0)
    method_model = build_method(dict(
        type=method, backbone=dict(arch="resnet18", stem="cifar", width=sizes.width), **heads(method, sizes.hidden),
        data_preprocessor=dict(type="DeviceTwoViewPreprocessor", views=f"{method}_cifar", size=sizes.size,
                               mean=list(MEAN), std=list(STD))))
    model = wrap_with_regularizer(method_model, dict(type="MCR")).to(device)
    wrapper = optim_wrapper(model, device)
    batch = images[: sizes.batch]
    data = dict(inputs=batch.pin_memory() if device.type == "cuda" else batch, data_samples=None)
    total = sizes.warmup + sizes.steps
    logs: list[dict] = []
    iteration = [0]

    def step() -> None:
        model.set_progress(iteration[0], total, float(total))
        logs.append(model.train_step(data, wrapper))
        model.after_train_step()
        iteration[0] += 1

    seconds = timed(step, sizes.steps, sizes.warmup, device)
    losses = np.array([[float(v) for k, v in log.items() if k in ("loss", "ssl", "mcr", "comp")] for log in logs])
    finite = bool(np.isfinite(losses).all())
    rate = sizes.batch * sizes.steps / seconds
    first, last = losses[0, 0], losses[-1, 0]
    precision = "bf16" if device.type == "cuda" else "fp32"
    return Row(f"train {method}+mcr {precision}", f"{rate:,.0f} img/s; loss {first:.3f} -> {last:.3f}",
               f"{len(logs)} steps, all losses finite", finite)


def knn_predictions(train: torch.Tensor, labels: torch.Tensor, test: torch.Tensor, device: str) -> list[torch.Tensor]:
    """Top-5 class rankings (-1: no vote) per reported (k, T) setting, computed on ``device``."""
    from mcr_eval.probes.knn import KNN_SETTINGS, knn_scores_multi, ranked_classes

    k_max = len(train)
    settings = tuple((min(k, k_max), t) for k, t in KNN_SETTINGS)
    scores = knn_scores_multi(train, labels, test, settings, int(labels.max()) + 1, device)
    return [ranked_classes(s, 5) for s in scores]


def prediction_mismatches(a: list[torch.Tensor], b: list[torch.Tensor]) -> int:
    """Rows whose top-5 ranking differs in any setting."""
    return sum(int((x != y).any(dim=1).sum()) for x, y in zip(a, b, strict=True))


def check_knn(features: torch.Tensor, labels: torch.Tensor, device: torch.device) -> Row:
    """The same features through the kNN on ``device`` and on the CPU: identical rankings."""
    n_train = len(features) * 5 // 6
    results = []
    for dtype in (torch.float32, torch.float64):
        f = features.to(dtype)
        ours = knn_predictions(f[:n_train], labels[:n_train], f[n_train:], str(device))
        cpu = knn_predictions(f[:n_train], labels[:n_train], f[n_train:], "cpu")
        results.append(prediction_mismatches(ours, cpu))
    n_test = len(features) - n_train
    return Row(f"knn {device.type} == cpu", f"mismatched rows fp32 {results[0]}, fp64 {results[1]} of {n_test}",
               "0 mismatches (top-1..top-5, 3 settings)", results == [0, 0])


def check_extraction(images: torch.Tensor, device: torch.device, sizes: Sizes,
                     min_ratio: float) -> tuple[Row, torch.Tensor]:
    """``extract_features`` against a bare forward; also returns the features of ``images``."""
    from torch.utils.data import TensorDataset

    from mcr_eval.features import extract_features
    from mcr_train.models.backbone import build_backbone

    torch.manual_seed(0)
    model = build_backbone("resnet18", "cifar", sizes.width)
    pixels = (images.float() / 255.0 - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    repeats = math.ceil(sizes.extract_n / len(pixels))
    bulk = pixels.repeat(repeats, 1, 1, 1)[: sizes.extract_n].contiguous()
    dataset = TensorDataset(bulk, torch.zeros(len(bulk), dtype=torch.int64))

    def extract() -> torch.Tensor:
        return extract_features(model, dataset, batch_size=sizes.extract_batch, device=device, progress=False).features

    extract()  # warm-up: weights to the device, channels_last, cudnn autotuning
    sync(device)
    start = time.perf_counter()
    extract()
    sync(device)
    extract_rate = len(bulk) / (time.perf_counter() - start)

    on_device = bulk.to(device).contiguous(memory_format=torch.channels_last)
    model.eval()

    def forward() -> None:
        with torch.inference_mode():
            for i in range(0, len(on_device), sizes.extract_batch):
                model(on_device[i:i + sizes.extract_batch])

    seconds = timed(forward, 1, 1, device)
    forward_rate = len(bulk) / seconds
    features = extract_features(model, TensorDataset(pixels, torch.zeros(len(pixels))), batch_size=256,
                                device=device, progress=False).features
    ratio = extract_rate / forward_rate
    return Row("extract / forward", f"{extract_rate:,.0f} / {forward_rate:,.0f} img/s = {ratio:.2f}",
               f">= {min_ratio:.2f}", ratio >= min_ratio), features


def check_resnet50(device: torch.device, sizes: Sizes, min_ratio: float) -> Row:
    """SimCLR train_step of a ResNet-50 against a bare forward+backward+SGD step of its backbone."""
    from mcr_train.methods import build_method
    from mcr_train.models.backbone import build_backbone

    torch.manual_seed(0)
    model = build_method(dict(type="simclr", backbone=dict(arch="resnet50", stem="imagenet", width=sizes.r50_width),
                              **heads("simclr", sizes.hidden))).to(device)
    wrapper = optim_wrapper(model, device)
    gen = torch.Generator().manual_seed(1)
    views = [torch.randn(sizes.r50_batch, 3, sizes.r50_size, sizes.r50_size, generator=gen).to(device)
             for _ in range(2)]
    data = dict(inputs=views, data_samples=None)
    simclr_s = timed(lambda: model.train_step(data, wrapper), sizes.r50_steps, 2, device)

    torch.manual_seed(0)
    backbone = build_backbone("resnet50", "imagenet", sizes.r50_width).to(device).train()
    optimizer = torch.optim.SGD(backbone.parameters(), lr=0.01, momentum=0.9)
    both = torch.cat(views)
    amp = device.type == "cuda"

    def bare() -> None:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            loss = backbone(both).float().pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    bare_s = timed(bare, sizes.r50_steps, 2, device)
    images = 2 * sizes.r50_batch * sizes.r50_steps
    simclr_rate, bare_rate = images / simclr_s, images / bare_s
    ratio = simclr_rate / bare_rate
    return Row(f"r50 simclr / fwd+bwd {sizes.r50_size}px",
               f"{simclr_rate:,.0f} / {bare_rate:,.0f} view img/s = {ratio:.2f}", f">= {min_ratio:.2f}",
               ratio >= min_ratio)


def run_check(name: str, fn: Callable[[], Row]) -> Row:
    try:
        return fn()
    except Exception as exc:  # a failing check is reported in the table; the others still run
        traceback.print_exc()
        return Row(name, f"error: {type(exc).__name__}: {exc}"[:100], "runs", False)


def print_table(rows: list[Row], header: str) -> None:
    widths = [max(len(c), *(len(getattr(r, a)) for r in rows)) for c, a in
              (("check", "check"), ("result", "result"), ("pass when", "reference"))]
    print(header)
    line = f"| {'check':<{widths[0]}} | {'result':<{widths[1]}} | {'pass when':<{widths[2]}} | status |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|--------|")
    for r in rows:
        print(f"| {r.check:<{widths[0]}} | {r.result:<{widths[1]}} | {r.reference:<{widths[2]}} | "
              f"{'PASS' if r.passed else 'FAIL':<6} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (with --tiny)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: checks the logic on a CPU in seconds")
    parser.add_argument("--min-ratio", type=float, default=None,
                        help="throughput ratio floor (default 0.3; 0 with --tiny, where overheads dominate)")
    parser.add_argument("--only", nargs="+", choices=("train", "knn", "extract", "r50"), default=None)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device is visible to torch; run on a GPU machine, or pass --tiny --device cpu",
              file=sys.stderr)
        return 2
    sizes = TINY if args.tiny else Sizes()
    if args.min_ratio is None:
        args.min_ratio = 0.0 if args.tiny else 0.3
    only = set(args.only or ("train", "knn", "extract", "r50"))
    start = time.perf_counter()
    images, labels = render_scenes(max(sizes.scenes, sizes.batch), sizes.size)
    rows: list[Row] = []
    if "train" in only:
        for method in ("simclr", "byol"):
            rows.append(run_check(f"train {method}+mcr", lambda m=method: check_training(m, images, device, sizes)))
    features = None
    if only & {"extract", "knn"}:
        def extraction() -> Row:
            nonlocal features
            row, features = check_extraction(images, device, sizes, args.min_ratio)
            return row
        row = run_check("extract / forward", extraction)
        if "extract" in only:
            rows.append(row)
    if "knn" in only:
        rows.append(run_check(f"knn {device.type} == cpu", lambda: check_knn(features, labels, device)))
    if "r50" in only:
        rows.append(run_check("r50 simclr / fwd+bwd", lambda: check_resnet50(device, sizes, args.min_ratio)))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print_table(rows, f"\ngpu_check on {name} ({'tiny' if args.tiny else 'full'} sizes, torch {torch.__version__}, "
                      f"{time.perf_counter() - start:.0f} s)")
    return 0 if rows and all(r.passed for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
