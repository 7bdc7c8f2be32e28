# Ablation of the MCR config in _base_: lambda1 grid: lambda1=0.5 (lambda2=1.0).
_base_ = ["../simclr-mcr_resnet18-cifar_1xb128-30e_scenes.py"]
regularizer = dict(lambda1=0.5)
