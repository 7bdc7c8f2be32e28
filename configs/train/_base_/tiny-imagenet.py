# Tiny-ImageNet (64 px; train folders plus val/val_annotations.txt); CIFAR stem as for images <= 64 px.
_base_ = ["./default_runtime.py"]
data = dict(
    split="train",
    device_views=False,
    spec="tiny-imagenet:data/tiny-imagenet-200",
    views="simclr_cifar",
    input_size=64,
    batch_size=256,
    num_workers=8,
)
schedule = dict(epochs=800, warmup_epochs=10, warmup_start_factor=0.01, min_lr_ratio=0.0)
backbone = dict(arch="resnet18", stem="cifar", width=64)
checkpoint_interval = 5000
