# CIFAR-100 (python pickle batches); point data.spec at your copy, e.g.
#   --cfg-options data.spec=cifar100:/data/cifar-100-python
_base_ = ["./default_runtime.py"]
data = dict(
    split="train",
    device_views=False,
    spec="cifar100:data/cifar10",
    views="simclr_cifar",
    input_size=32,
    batch_size=256,
    num_workers=4,
)
schedule = dict(epochs=1000, warmup_epochs=10, warmup_start_factor=0.01, min_lr_ratio=0.0)
backbone = dict(arch="resnet18", stem="cifar", width=64)
checkpoint_interval = 5000
