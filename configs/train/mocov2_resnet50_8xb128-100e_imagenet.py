# mocov2 on imagenet: 8 GPU(s) x 128 images, 100 epochs (LR scaled linearly from the recipe at batch 256).
_base_ = ["./_base_/imagenet.py"]
model = dict(
    type="mocov2",
    backbone={{_base_.backbone}},
    projector=dict(hidden_dim=2048, out_dim=256, num_layers=2, hidden_bn=False),
    temperature=0.2,
    queue_size=65536,
    momentum=(0.99, 1.0),
    symmetric=True,
)
data = dict(views="mocov2")
optimizer = dict(type="SGD", lr=1.2, momentum=0.9, weight_decay=3e-05)
