# Ablation of the MCR config in _base_: estimator: first order (xi trained by lambda2 * L_comp only).
_base_ = ["../byol-mcr_resnet18-cifar_1xb128-30e_scenes.py"]
regularizer = dict(hypergrad="first_order")
