# barlowtwins on cifar100: 1 GPU(s) x 256 images, 1000 epochs (LR scaled linearly from the recipe at batch 256).
_base_ = ["./_base_/cifar100.py"]
model = dict(
    type="barlowtwins",
    backbone={{_base_.backbone}},
    projector=dict(hidden_dim=2048, out_dim=2048, num_layers=3),
    lambda_offdiag=0.0051,
    scale=0.1,
)
data = dict(views="barlowtwins_cifar")
optimizer = dict(type="LARS", lr=0.3, momentum=0.9, weight_decay=0.0001, eta=0.02, clip_lr=True)
