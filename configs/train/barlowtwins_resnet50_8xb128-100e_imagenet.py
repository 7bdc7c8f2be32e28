# barlowtwins on imagenet: 8 GPU(s) x 128 images, 100 epochs (LR scaled linearly from the recipe at batch 256).
_base_ = ["./_base_/imagenet.py"]
model = dict(
    type="barlowtwins",
    backbone={{_base_.backbone}},
    projector=dict(hidden_dim=4096, out_dim=2048, num_layers=3),
    lambda_offdiag=0.0051,
    scale=0.1,
)
data = dict(views="barlowtwins")
optimizer = dict(type="LARS", lr=1.2, momentum=0.9, weight_decay=1.5e-06, eta=0.02, clip_lr=True)
