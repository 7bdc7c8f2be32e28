# Ablation of the MCR config in _base_: fusion space: CompMod fuses concat(z1, z2) instead of concat(h1, h2).
_base_ = ["../simclr-mcr_resnet18-cifar_1xb128-30e_scenes.py"]
regularizer = dict(fusion="embedding")
