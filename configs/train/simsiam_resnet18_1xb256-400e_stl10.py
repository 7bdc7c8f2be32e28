# simsiam on stl10: 1 GPU(s) x 256 images, 400 epochs (LR scaled linearly from the recipe at batch 256).
_base_ = ["./_base_/stl10.py"]
model = dict(
    type="simsiam",
    backbone={{_base_.backbone}},
    projector=dict(hidden_dim=2048, out_dim=2048, num_layers=3, last_bn=True),
    predictor=dict(hidden_dim=512, out_dim=2048, num_layers=2),
)
data = dict(views="simsiam")
optimizer = dict(type="SGD", lr=0.5, momentum=0.9, weight_decay=1e-05)
