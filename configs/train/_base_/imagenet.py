# ImageNet-1k folders, 224 px, ResNet-50, 8 GPUs x 128 (global batch 1024).
_base_ = ["./default_runtime.py"]
data = dict(
    split="train",
    device_views=False,
    spec="imagenet:data/imagenet",
    views="simclr",
    input_size=224,
    batch_size=128,
    num_workers=10,
)
schedule = dict(epochs=100, warmup_epochs=10, warmup_start_factor=0.01, min_lr_ratio=0.0)
backbone = dict(arch="resnet50", stem="imagenet", width=64)
amp = "bf16"
sync_bn = True
checkpoint_interval = 5000
