# Fashion-MNIST (Debian package dataset-fashion-mnist, or fashion-mnist:ROOT with the four IDX files):
# 60k 28x28 grayscale training images, replicated to 3 channels; ResNet-18 (CIFAR stem) at width 16.
_base_ = ["./default_runtime.py"]
data = dict(
    split="train", device_views=False, spec="fashion-mnist", views="simclr_cifar", input_size=28, batch_size=128,
    num_workers=2
)
schedule = dict(epochs=30, warmup_epochs=2, warmup_start_factor=0.01, min_lr_ratio=0.0)
backbone = dict(arch="resnet18", stem="cifar", width=16)
checkpoint_interval = 500
