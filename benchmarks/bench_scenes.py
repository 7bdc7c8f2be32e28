"""Factor-scene renderer throughput, against decoding the same images from PNG files (the peer).

    .venv/bin/python benchmarks/bench_scenes.py [--n 2000] [--repeats 5]

Reports the median images/s of ``render(sample_factors(seed, i), size)`` and of ``PIL.Image.open`` +
``np.asarray`` on PNGs of the same scenes held in memory, and their ratio (>1: rendering is faster
than reading the images back from disk).
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import time

import numpy as np
from PIL import Image

from mcr_train.data.scenes import render, sample_factors
from mcr_train.data.scenes_multi import multi_scene


def _rate(fn, n: int, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print("| mode | size | render img/s | PNG decode img/s | ratio |")
    print("|---|---|---|---|---|")
    for size in (32, 64, 96, 128):
        pngs = []
        for i in range(args.n):
            buf = io.BytesIO()
            Image.fromarray(render(sample_factors(0, i), size).image).save(buf, format="PNG")
            pngs.append(buf.getvalue())
        ours = _rate(lambda i, s=size: render(sample_factors(0, i), s).image, args.n, args.repeats)
        peer = _rate(lambda i, p=pngs: np.asarray(Image.open(io.BytesIO(p[i])).convert("RGB")), args.n, args.repeats)
        print(f"| single | {size} | {ours:.0f} | {peer:.0f} | {ours / peer:.2f} |")
    for size in (128, 256):
        n = max(args.n // 4, 50)
        ours = _rate(lambda i, s=size: multi_scene(0, i, s).image, n, args.repeats)
        print(f"| multi | {size} | {ours:.0f} | - | - |")


if __name__ == "__main__":
    main()
