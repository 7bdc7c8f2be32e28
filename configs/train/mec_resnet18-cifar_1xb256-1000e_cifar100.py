# mec on cifar100: 1 GPU(s) x 256 images, 1000 epochs (LR scaled linearly from the recipe at batch 256).
_base_ = ["./_base_/cifar100.py"]
model = dict(
    type="mec",
    backbone={{_base_.backbone}},
    projector=dict(hidden_dim=2048, out_dim=2048, num_layers=3, last_bn=True, last_bn_affine=False),
    predictor=dict(hidden_dim=512, out_dim=2048, num_layers=2),
    eps_sq=64.0,
    order=4,
    warmup_epochs=10,
    momentum=(0.996, 1.0),
)
data = dict(views="mec_cifar")
optimizer = dict(type="SGD", lr=0.5, momentum=0.9, weight_decay=1e-05)
