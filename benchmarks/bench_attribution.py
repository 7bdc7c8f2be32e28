"""Wall time and peak resident memory of ``mcr-eval attribute`` (IG, all defaults) against ``--n``.

The checkpoint is a plain torchvision ResNet-18 state dict (``torch.save(resnet18().state_dict())``, random
init, seed 0) written to a temporary folder. Each run is a fresh subprocess::

    python -m mcr_eval.cli attribute TV_R18.pth --data 'scenes?size=S' --method ig --n N

and its peak RSS and CPU seconds (user + system, less disturbed by other processes than wall time) are
that one child's, read with ``os.wait4`` (the ``ru_maxrss`` of ``getrusage(RUSAGE_CHILDREN)`` would be
the maximum over all children waited for so far).
The 1-minute load average before and after each run is printed, since other processes share the CPUs.

    .venv/bin/python benchmarks/bench_attribution.py                     # n = 4, 16, 32 at 32 px
    .venv/bin/python benchmarks/bench_attribution.py --size 0 --n 16     # the encoder's own size (224 px)
    .venv/bin/python benchmarks/bench_attribution.py --pythonpath OLD_TREE --n 4   # another copy of the code

``--size 0`` leaves ``--data scenes`` without a size, so scenes are rendered at the encoder's input size
(224 px for an ImageNet-stem checkpoint without ``encoder.json``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_checkpoint(folder: Path) -> Path:
    import torch
    import torchvision

    torch.manual_seed(0)
    path = folder / "TV_R18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return path


def run_once(checkpoint: Path, n: int, size: int, extra: list[str], pythonpath: str | None,
             threads: int | None, timeout: float) -> dict:
    data = f"scenes?size={size}" if size else "scenes"
    cmd = [sys.executable, "-m", "mcr_eval.cli", "attribute", str(checkpoint), "--data", data, "--method", "ig",
           "--n", str(n), *extra]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (pythonpath, str(REPO)) if p))
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    log = checkpoint.parent / f"attribute-n{n}.log"  # a file, not a pipe: a chatty child never blocks
    with open(log, "w") as sink:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
    deadline = start + timeout
    status, usage = 0, None
    while usage is None:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            usage = rusage
        elif time.perf_counter() > deadline:
            proc.kill()
        else:
            time.sleep(0.2)
    wall = time.perf_counter() - start
    output = log.read_text(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    return dict(n=n, size=size or "encoder", wall=wall, cpu=usage.ru_utime + usage.ru_stime,
                rss_mib=usage.ru_maxrss / 1024, code=code,
                load=(load_before, os.getloadavg()[0]), tail=output.strip().splitlines()[-3:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[4, 16, 32])
    parser.add_argument("--size", type=int, default=32, help="scene side in pixels; 0: the encoder's input size")
    parser.add_argument("--pythonpath", default=None, help="put this code tree first (e.g. a copy of older code)")
    parser.add_argument("--threads", type=int, default=None, help="OMP/MKL threads of the child (default: torch's)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a run is killed")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="after '--': more arguments for attribute")
    args = parser.parse_args(argv)
    extra = [a for a in args.extra if a != "--"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = write_checkpoint(Path(tmp))
        for n in args.n:
            row = run_once(checkpoint, n, args.size, extra, args.pythonpath, args.threads, args.timeout)
            rows.append(row)
            print(f"n={n}: {row['wall']:.1f} s ({row['cpu']:.1f} CPU s), {row['rss_mib']:.0f} MiB, exit {row['code']}, "
                  f"load "
                  f"{row['load'][0]:.1f}->{row['load'][1]:.1f}; " + " | ".join(row["tail"])[-300:], flush=True)
    print(f"\nmcr-eval attribute TV_R18.pth --data scenes{f'?size={args.size}' if args.size else ''} --method ig "
          f"{' '.join(extra)}  (cpus: {os.cpu_count()}, code: {args.pythonpath or REPO})")
    print("| --n | size | wall s | CPU s | peak RSS MiB | exit | load 1-min before -> after |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['n']} | {r['size']} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['rss_mib']:.0f} | {r['code']} | "
              f"{r['load'][0]:.1f} -> {r['load'][1]:.1f} |")
    return 0 if all(r["code"] == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
