# Ablation of the MCR config in _base_: bi-level vs joint: one level, all parameters on L_ssl + l1 L_mcr + l2 L_comp.
_base_ = ["../simclr-mcr_resnet18-cifar_1xb128-30e_scenes.py"]
regularizer = dict(optimization="joint")
