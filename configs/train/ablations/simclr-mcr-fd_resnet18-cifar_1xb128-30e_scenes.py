# Ablation of the MCR config in _base_: estimator: DARTS finite-difference hypergradient.
_base_ = ["../simclr-mcr_resnet18-cifar_1xb128-30e_scenes.py"]
regularizer = dict(hypergrad="finite_difference")
