# Ablation of the MCR config in _base_: L_mcr variant: cosine alignment to Z_hat.
_base_ = ["../byol-mcr_resnet18-cifar_1xb128-30e_scenes.py"]
regularizer = dict(mcr_loss="cosine")
