# STL-10 (official binaries; pretraining on train + the 100k unlabeled images); 96 px, ImageNet stem.
_base_ = ["./default_runtime.py"]
data = dict(
    device_views=False,
    spec="stl10:data/stl10_binary",
    split="train+unlabeled",
    views="simclr",
    input_size=96,
    batch_size=256,
    num_workers=8,
)
schedule = dict(epochs=400, warmup_epochs=10, warmup_start_factor=0.01, min_lr_ratio=0.0)
backbone = dict(arch="resnet18", stem="imagenet", width=64)
checkpoint_interval = 5000
