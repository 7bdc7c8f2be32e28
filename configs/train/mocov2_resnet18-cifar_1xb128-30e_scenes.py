# mocov2 on scenes: 1 GPU(s) x 128 images, 30 epochs (LR scaled linearly from the recipe at batch 256).
_base_ = ["./_base_/scenes.py"]
model = dict(
    type="mocov2",
    backbone={{_base_.backbone}},
    projector=dict(hidden_dim=512, out_dim=128, num_layers=2, hidden_bn=False),
    temperature=0.2,
    queue_size=4096,
    momentum=(0.99, 1.0),
    symmetric=True,
)
data = dict(views="mocov2_cifar")
optimizer = dict(type="SGD", lr=0.15, momentum=0.9, weight_decay=0.0001)
