# Ablation of the MCR config in _base_: lambda2 grid: lambda2=2.0 (lambda1=1.0).
_base_ = ["../byol-mcr_resnet18-cifar_1xb128-30e_scenes.py"]
regularizer = dict(lambda2=2.0)
