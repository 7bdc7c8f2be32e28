# mocov2 on cifar10: 1 GPU(s) x 256 images, 1000 epochs (LR scaled linearly from the recipe at batch 256).
_base_ = ["./_base_/cifar10.py"]
model = dict(
    type="mocov2",
    backbone={{_base_.backbone}},
    projector=dict(hidden_dim=2048, out_dim=256, num_layers=2, hidden_bn=False),
    temperature=0.2,
    queue_size=32768,
    momentum=(0.99, 1.0),
    symmetric=True,
)
data = dict(views="mocov2_cifar")
optimizer = dict(type="SGD", lr=0.3, momentum=0.9, weight_decay=0.0001)
