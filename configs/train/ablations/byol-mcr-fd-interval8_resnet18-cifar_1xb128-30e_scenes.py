# Ablation of the finite-difference ablation in _base_: its level 2 every 8th iteration only.
_base_ = ["./byol-mcr-fd_resnet18-cifar_1xb128-30e_scenes.py"]
regularizer = dict(level2_interval=8)
