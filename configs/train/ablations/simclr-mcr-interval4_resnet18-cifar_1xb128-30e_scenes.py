# Ablation of the MCR config in _base_: level 2 (the hypergradient step of CompMod) every 4th iteration only.
_base_ = ["../simclr-mcr_resnet18-cifar_1xb128-30e_scenes.py"]
regularizer = dict(level2_interval=4)
