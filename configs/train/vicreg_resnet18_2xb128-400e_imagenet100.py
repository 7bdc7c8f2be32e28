# vicreg on imagenet100: 2 GPU(s) x 128 images, 400 epochs (LR scaled linearly from the recipe at batch 256).
_base_ = ["./_base_/imagenet100.py"]
model = dict(
    type="vicreg",
    backbone={{_base_.backbone}},
    projector=dict(hidden_dim=2048, out_dim=2048, num_layers=3),
    sim_weight=25.0,
    var_weight=25.0,
    cov_weight=1.0,
)
data = dict(views="vicreg")
optimizer = dict(type="LARS", lr=0.3, momentum=0.9, weight_decay=0.0001, eta=0.02, clip_lr=True)
