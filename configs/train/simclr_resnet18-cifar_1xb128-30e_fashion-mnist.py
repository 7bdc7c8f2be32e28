# simclr on Fashion-MNIST: 1 GPU(s) x 128 images, 30 epochs (LR scaled linearly from the recipe at batch 256).
_base_ = ["./_base_/fashion-mnist.py"]
model = dict(
    type="simclr",
    backbone={{_base_.backbone}},
    projector=dict(hidden_dim=512, out_dim=128, num_layers=2),
    temperature=0.2,
)
data = dict(views="simclr_cifar")
optimizer = dict(type="LARS", lr=0.2, momentum=0.9, weight_decay=1e-05, eta=0.02, clip_lr=True)
