"""Mask R-CNN R50-FPN transfer speed: seconds per training iteration and peak memory on factor scenes.

Runs exactly what ``mcr-eval detect`` runs (config ``configs/detection/mask-rcnn_r50_fpn_syncbn_ms-1x_coco.py``,
converted encoder, weight verification, mmengine Runner) on multi-object factor scenes rendered here,
with the network input at ``--size`` px. The encoder is a randomly initialized R50 written in our export
format, so nothing is downloaded. Validation is skipped; the first ``--warmup`` iterations are not timed.

    .venv/bin/python benchmarks/bench_detect.py --iters 200 --size 512 --n-images 64        # GPU run
    .venv/bin/python benchmarks/bench_detect.py --iters 4 --warmup 1 --size 128 --n-images 4  # CPU smoke
    ... --results benchmarks/RESULTS.md   # also append a Markdown row there
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from mmengine.hooks import Hook
from safetensors.torch import save_file

from mcr_train.data.export import write_multi_scenes
from mcr_train.data.scenes import SHAPES
from mcr_train.models.backbone import build_backbone

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "detection" / "mask-rcnn_r50_fpn_syncbn_ms-1x_coco.py"


class IterTimes(Hook):
    """Wall time of every training iteration (synchronized on GPU)."""

    priority = "LOWEST"

    def __init__(self):
        self.times: list[float] = []
        self._start = 0.0

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self._start)


def write_encoder(folder: Path) -> Path:
    model = build_backbone("resnet50", "imagenet", 64)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("fc.")}
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / "encoder.safetensors"))
    meta = {"format": "mcr-encoder/1", "method": "random-r50", "arch": "resnet50", "stem": "imagenet", "width": 64,
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    (folder / "encoder.json").write_text(json.dumps(meta))
    return folder


def scene_options(size: int, batch: int) -> dict:
    """Point the COCO config at the scenes (7 shape classes) with inputs of ``size`` px."""
    classes = tuple(SHAPES)
    options = {"train_dataloader.batch_size": batch,
               "model.roi_head.bbox_head.num_classes": len(classes),
               "model.roi_head.mask_head.num_classes": len(classes),
               # the config's data_root, replaced by --data-root like every other annotation path
               "val_evaluator.ann_file": "data/coco/train/instances.json",
               "test_evaluator.ann_file": "data/coco/train/instances.json"}
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        options.update({f"{loader}.dataset.metainfo": {"classes": classes},
                        f"{loader}.dataset.ann_file": "train/instances.json",
                        f"{loader}.dataset.data_prefix": {"img": "train/images/"}})
    return options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--n-images", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--results", default=None, help="append a Markdown row to this file")
    args = parser.parse_args()

    from mmengine.runner import Runner

    from mcr_eval.transfer.run import DetectOptions, build_run_config

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        write_multi_scenes(root / "scenes" / "train", n=args.n_images, size=args.size, seed=0, coco=True,
                           progress=False)
        render_s = time.perf_counter() - start
        options = DetectOptions(checkpoint=str(write_encoder(root / "encoder")), config=str(CONFIG),
                                work_dir=str(root / "work"), max_iters=args.iters, data_root=str(root / "scenes"),
                                workers=args.workers, save_checkpoints=False,
                                cfg_options=scene_options(args.size, args.batch))
        cfg, _ = build_run_config(options, None, seed=0, work_dir=root / "work")
        cfg.train_dataloader.dataset.pipeline[2] = dict(type="Resize", scale=(args.size, args.size), keep_ratio=True)
        cfg.val_evaluator = cfg.test_evaluator = None
        cfg.val_dataloader = cfg.test_dataloader = cfg.val_cfg = cfg.test_cfg = None
        cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=args.iters, val_interval=args.iters + 1)
        cfg.default_hooks.logger.interval = max(1, args.iters // 10)
        runner = Runner.from_cfg(cfg)
        timer = IterTimes()
        runner.register_hook(timer)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        runner.train()

    timed = timer.times[args.warmup:] or timer.times
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({platform.processor() or 'x86'})"
    peak_gib = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    result = {"benchmark": "mask-rcnn_r50_fpn train iteration", "device": device, "size": args.size,
              "batch": args.batch, "iters": args.iters, "timed_iters": len(timed),
              "s_per_iter_median": statistics.median(timed), "s_per_iter_mean": statistics.fmean(timed),
              "peak_memory_gib": None if peak_gib is None else round(peak_gib, 2), "render_s": round(render_s, 2),
              "torch": torch.__version__}
    print(json.dumps(result))
    row = (f"| bench_detect (Mask R-CNN R50-FPN, scenes {args.size} px, batch {args.batch}) | {device} | "
           f"{result['s_per_iter_median']:.3f} s/iter (median of {len(timed)}) | "
           f"peak {'n/a' if peak_gib is None else f'{peak_gib:.2f} GiB'} |")
    print(row)
    if args.results:
        with open(args.results, "a") as handle:
            handle.write(row + "\n")


if __name__ == "__main__":
    main()
