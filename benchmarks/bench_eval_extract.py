"""Feature-extraction throughput: ``mcr_eval.features.extract_features`` with the full data pipeline
(dataset decode -> center-crop transform -> DataLoader workers -> model) divided by bare forward
throughput (the same model on ready-made tensors of the same batch shape, same inference settings).

    python benchmarks/bench_eval_extract.py --data 'scenes?n=4096&size=32' --width 64 --batch-size 256 --workers 2
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="scenes?n=4096&size=32")
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--input-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from mcr_eval.data import IMAGENET_MEAN, IMAGENET_STD, center_crop_transform, load_split
    from mcr_eval.features import extract_features, pick_device
    from mcr_train.models.backbone import build_backbone

    device = pick_device()
    model = build_backbone(args.arch, "cifar", args.width).eval()
    dataset = load_split(args.data, "train", center_crop_transform(args.input_size, IMAGENET_MEAN, IMAGENET_STD))
    n = len(dataset)
    # Warm-up (allocator, cuDNN/oneDNN kernel choice) on one batch.
    extract_features(
        model, torch.utils.data.Subset(dataset, range(args.batch_size)), args.batch_size, 0, device, progress=False
    )

    start = time.perf_counter()
    feats = extract_features(model, dataset, args.batch_size, args.workers, device, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    pipeline_s = time.perf_counter() - start

    batch = torch.randn(args.batch_size, 3, args.input_size, args.input_size)
    batch = batch.to(device).contiguous(memory_format=torch.channels_last)
    model.to(device, memory_format=torch.channels_last)
    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, n, args.batch_size):
            model(batch[: min(args.batch_size, n - first)]).float().cpu()
    if device.type == "cuda":
        torch.cuda.synchronize()
    bare_s = time.perf_counter() - start
    print(
        json.dumps(
            {
                "data": args.data,
                "n": n,
                "arch": f"{args.arch}-cifar-w{args.width}",
                "input_size": args.input_size,
                "batch_size": args.batch_size,
                "workers": args.workers,
                "device": str(device),
                "torch_threads": torch.get_num_threads(),
                "machine": platform.processor() or platform.machine(),
                "features": list(feats.features.shape),
                "pipeline_img_per_s": round(n / pipeline_s, 1),
                "bare_forward_img_per_s": round(n / bare_s, 1),
                "ratio": round(bare_s / pipeline_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
