# mec + MCR: the baseline plus the MCR block only (options and defaults: docs/mcr.md).
_base_ = ["./mec_resnet18_2xb128-400e_imagenet100.py"]
regularizer = dict(
    type="MCR",
    lambda1=1.0,
    lambda2=1.0,
    fusion="representation",
    mcr_loss="mec_cross",
    hypergrad="exact",
    optimization="bilevel",
    compmod=dict(hidden=512, depth=2, norm="bn"),
)
