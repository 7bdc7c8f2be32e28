# ImageNet-100 (ImageNet folders restricted by a class-subset file), 224 px, ResNet-18, 2 GPUs x 128.
_base_ = ["./default_runtime.py"]
data = dict(
    split="train",
    device_views=False,
    spec="imagenet:data/imagenet?classes=data/imagenet100.txt",
    views="simclr",
    input_size=224,
    batch_size=128,
    num_workers=8,
)
schedule = dict(epochs=400, warmup_epochs=10, warmup_start_factor=0.01, min_lr_ratio=0.0)
backbone = dict(arch="resnet18", stem="imagenet", width=64)
amp = "bf16"
sync_bn = True
checkpoint_interval = 5000
