"""Foundation demo: render a real sample of the embedded factor scenes and describe it.

Writes a PNG grid (scenes, object masks, detail masks, multi-object instances), a multi-object COCO
set validated with pycocotools, and prints dataset statistics and the renderer's speed.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from mcr_train.errors import cli_errors


def _render_rate(size: int, n: int = 2000) -> float:
    from mcr_train.data.scenes import render, sample_factors

    start = time.perf_counter()
    for i in range(n):
        render(sample_factors(0, i), size)
    return n / (time.perf_counter() - start)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    from pycocotools.coco import COCO

    from mcr_train.data.export import write_multi_scenes
    from mcr_train.data.preview import scenes_grid
    from mcr_train.data.scenes import FACTOR_NAMES
    from mcr_train.data.spec import build_dataset, dataset_stats

    parser = argparse.ArgumentParser(prog="python -m mcr_train.data.demo")
    parser.add_argument("--out", default="reports/demo")
    parser.add_argument("--n-coco", type=int, default=32)
    args = parser.parse_args(argv)
    out = Path(args.out)

    grid = scenes_grid(out / "scenes_grid.png")
    print(f"grid of scenes and masks: {grid}")
    coco_dir = out / "scenes_coco"
    write_multi_scenes(coco_dir, args.n_coco, 128, seed=0, coco=True, progress=False)
    coco = COCO(str(coco_dir / "instances.json"))
    per_cat = Counter(coco.cats[a["category_id"]]["name"] for a in coco.anns.values())
    print(f"COCO instances: {coco_dir / 'instances.json'}: {len(coco.imgs)} images, {len(coco.anns)} "
          f"instances; per category: {dict(sorted(per_cat.items()))}")

    train, test = build_dataset("scenes", "train"), build_dataset("scenes", "test")
    mean, std = dataset_stats("scenes")
    print(f"dataset 'scenes': train {len(train)}, test {len(test)} images of 32 px, {len(train.classes)} "
          f"classes (label = shape); mean {list(mean)} std {list(std)}")
    table = train.factor_table()
    for name in FACTOR_NAMES:
        values = table[name]
        if isinstance(values[0], float):
            print(f"  {name:15s} continuous in [{min(values):.2f}, {max(values):.2f}]")
        else:
            counts = Counter(values)
            print(f"  {name:15s} " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items(), key=str)))
    for size in (32, 64, 96):
        print(f"renderer: {_render_rate(size, 1000):.0f} images/s at {size} px (one process, 1 core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
