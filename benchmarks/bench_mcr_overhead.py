"""Step time and peak memory of method + MCR relative to the method alone (same batch, same backbone).

Usage::

    python benchmarks/bench_mcr_overhead.py [--methods simclr byol] [--batch 32] [--size 32] [--width 16]
                                            [--rounds 8] [--device cpu] [--amp bf16]

Times are medians (means for ``NAME/k``) over ``--rounds`` steps after one warm-up; variants are
interleaved round-robin so that machine load hits all of them alike. On a shared CPU the default clock
is the process CPU time (``--clock cpu``, best with ``--threads 1``: OpenMP threads spin while they
wait), which other users' load disturbs far less than elapsed time; on a GPU use ``--clock wall``.
Peak memory is, on CPU, the kernel's high-water mark of resident memory (``VmHWM``, reset before the
steps) of a fresh subprocess per variant over 4 steps, minus its resident memory after building the
model and batch: what the steps need on top of weights and data, optimizer state included. On a GPU it
is ``torch.cuda.max_memory_allocated`` above the allocation before the steps. Variants:

* ``base``: the method's own ``train_step``;
* ``exact``, ``finite_difference``, ``first_order``: the bi-level MCR step with that estimator;
* ``NAME/k`` (e.g. ``fd/4``, ``exact/4``): that estimator with level 2 every k-th iteration
  (``level2_interval=k``), summarized by the mean over the rounds (use a multiple of k);
* ``NAME+recompute`` (e.g. ``exact+recompute``): that estimator with the momentum-branch reuse switched
  off, so the lookahead recomputes BYOL's target (MoCo's keys, MEC's teacher) as it did before the reuse;
* ``joint``: the single-level ablation;
* ``naive``: what a straightforward implementation does: level 1 once for the real step, then the
  level-1 forward/backward again with ``create_graph=True`` and a double backward through the
  unrolled lookahead (:func:`mcr_train.mcr.reference.naive_exact_hypergradient`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mcr_train.mcr import wrap_with_regularizer
from mcr_train.mcr.reference import naive_exact_hypergradient
from mcr_train.methods import build_method

VARIANTS = ("base", "exact", "finite_difference", "first_order", "exact/4", "fd/4", "joint", "naive")
HEADS = dict(simclr=dict(projector=dict(hidden_dim=512, out_dim=128)),
             byol=dict(projector=dict(hidden_dim=512, out_dim=128), predictor=dict(hidden_dim=512, out_dim=128)))


def build(method: str, variant: str, args) -> tuple[torch.nn.Module, OptimWrapper]:
    torch.manual_seed(0)
    variant, recompute = variant.removesuffix("+recompute"), variant.endswith("+recompute")
    model = build_method(dict(type=method, backbone=dict(arch=args.arch, stem=args.stem, width=args.width),
                              **HEADS[method]))
    if variant != "base":
        name, _, every = variant.partition("/")
        estimator = {"fd": "finite_difference", "joint": "exact", "naive": "exact"}.get(name, name)
        model = wrap_with_regularizer(model, dict(
            type="MCR", hypergrad=estimator, optimization="joint" if variant == "joint" else "bilevel",
            level2_interval=int(every or 1), compmod=dict(hidden=512)))
        if recompute:
            model.method.reusing_momentum_branch = contextlib.nullcontext
    model = model.to(args.device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    groups = [{k: v for k, v in g.items() if k != "lars_exclude"} for g in model.parameter_groups() if g["params"]]
    optimizer = torch.optim.SGD(groups, lr=0.05, momentum=0.9)
    if args.amp:
        return model, AmpOptimWrapper(optimizer=optimizer, dtype=torch.bfloat16)
    return model, OptimWrapper(optimizer)


def naive_step(model, data, optim_wrapper) -> None:
    """Level-1 step plus the hypergradient through the unrolled lookahead (recomputes level 1)."""
    views = [v.to(next(model.parameters()).device) for v in data["inputs"]]
    alpha = optim_wrapper.optimizer.param_groups[0]["lr"]
    hyper = naive_exact_hypergradient(model, views, alpha)
    out = model.level_one(views)
    names, w = model.method_parameters()
    grads = torch.autograd.grad(out["ssl"] + out["mcr"], w, allow_unused=True)
    for p, g in zip(w, grads, strict=True):
        p.grad = g
    optim_wrapper.step()
    for p in w:
        p.grad = None
    for p, h in zip(model.compmod.parameters(), hyper, strict=True):
        p.grad = h
    optim_wrapper.step()
    optim_wrapper.zero_grad()


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    """VmHWM: the resident high-water mark since the last reset through ``/proc/self/clear_refs``."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def make_batch(args) -> dict:
    gen = torch.Generator().manual_seed(1)
    views = [torch.rand(args.batch, 3, args.size, args.size, generator=gen).to(args.device) for _ in range(2)]
    if args.channels_last:
        views = [v.contiguous(memory_format=torch.channels_last) for v in views]
    return dict(inputs=views, data_samples=torch.zeros(args.batch))


def one_step(model, optim, data, variant: str, iteration: int) -> float:
    model.set_progress(iteration, 1000, 100.0)
    if args_global.device == "cuda":
        torch.cuda.synchronize()
    start = time.process_time() if args_global.clock == "cpu" else time.perf_counter()
    if variant == "naive":
        naive_step(model, data, optim)
    else:
        model.train_step(data, optim)
    if args_global.device == "cuda":
        torch.cuda.synchronize()
    model.after_train_step()
    return (time.process_time() if args_global.clock == "cpu" else time.perf_counter()) - start


def time_all(method: str, args) -> dict[str, float]:
    data = make_batch(args)
    built = {v: build(method, v, args) for v in args.variants}
    times: dict[str, list[float]] = {v: [] for v in args.variants}
    for v, (model, optim) in built.items():
        one_step(model, optim, data, v, 0)  # warm-up
    for r in range(args.rounds):
        for v, (model, optim) in built.items():
            times[v].append(one_step(model, optim, data, v, r + 1))
    # Amortized variants (level 2 every k-th step) are summarized by their mean, the others by the median.
    return {v: statistics.mean(t) if "/" in v else statistics.median(t) for v, t in times.items()}


def peak_memory(method: str, variant: str, args) -> float:
    """MiB: CUDA peak allocation here, or on CPU the resident high-water mark of a fresh subprocess over 4
    steps above its resident memory before them."""
    if args.device == "cuda":
        model, optim = build(method, variant, args)
        data = make_batch(args)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        for i in range(4):
            one_step(model, optim, data, variant, i)
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    cmd = [sys.executable, __file__, "--memory-probe", method, variant, *sys.argv[1:]]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", nargs="+", default=["simclr", "byol"])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--stem", default="cifar")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", choices=["bf16"], default=None)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                   help="cpu: process CPU time (robust on a shared machine); wall: elapsed time")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--memory-probe", nargs=2, metavar=("METHOD", "VARIANT"))
    return p.parse_args(argv)


if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--memory-probe" in argv:
        i = argv.index("--memory-probe")
        probe, argv = argv[i + 1:i + 3], argv[:i] + argv[i + 3:]
        argv = [a for a in argv if a != "--memory-probe"]
        args_global = parse(argv)
        torch.set_num_threads(args_global.threads)
        model, optim = build(probe[0], probe[1], args_global)
        data = make_batch(args_global)
        # A high-water mark cannot miss a short-lived peak, unlike sampling; it is reset here so that the
        # imports and the model build (and, after fork/exec, the parent) do not count.
        before = rss_mib()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        for step in range(4):
            one_step(model, optim, data, probe[1], step)
        print(peak_rss_mib() - before)
        raise SystemExit(0)
    args_global = parse(argv)
    torch.set_num_threads(args_global.threads)
    results = {}
    for method in args_global.methods:
        medians = time_all(method, args_global)
        memory = {} if args_global.no_memory else {v: peak_memory(method, v, args_global) for v in args_global.variants}
        rows = {v: dict(step_s=round(t, 4), ratio=round(t / medians["base"], 3),
                        peak_mib=round(memory[v], 1) if v in memory else None) for v, t in medians.items()}
        results[method] = rows
        print(f"## {method}")
        print(f"| variant | step ({args_global.clock} s; mean for NAME/k) | ratio to base | step peak memory (MiB) |")
        print("|---|---|---|---|")
        for v, row in rows.items():
            print(f"| {v} | {row['step_s']} | {row['ratio']} | {row['peak_mib']} |")
        sys.stdout.flush()
    print(json.dumps(results))
