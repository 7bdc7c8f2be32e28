# simclr + MCR: the baseline plus the MCR block only (options and defaults: docs/mcr.md).
_base_ = ["./simclr_resnet18-cifar_1xb128-30e_scenes.py"]
regularizer = dict(
    type="MCR",
    lambda1=1.0,
    lambda2=1.0,
    fusion="representation",
    mcr_loss="mec_cross",
    hypergrad="exact",
    optimization="bilevel",
    compmod=dict(hidden=256, depth=2, norm="bn"),
)
