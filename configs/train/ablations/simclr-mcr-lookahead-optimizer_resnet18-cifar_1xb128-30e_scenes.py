# Ablation of the MCR config in _base_: lookahead: the LARS-consistent step instead of the plain SGD step.
_base_ = ["../simclr-mcr_resnet18-cifar_1xb128-30e_scenes.py"]
regularizer = dict(lookahead="optimizer")
