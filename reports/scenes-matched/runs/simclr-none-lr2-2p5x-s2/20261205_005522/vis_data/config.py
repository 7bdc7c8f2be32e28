amp = None
backbone = dict(arch='resnet18', stem='cifar', width=16)
checkpoint_interval = 500
clip_grad = None
custom_hooks = []
custom_imports = dict(
    allow_failed_imports=True, imports=[
        'mcr_eval.hooks',
    ])
data = dict(
    batch_size=64,
    device_views=False,
    input_size=32,
    num_workers=0,
    spec='scenes?n=4000',
    split='train',
    views='simclr_cifar')
deterministic = False
knn_monitor = dict(
    data='scenes?n=2000&n_test=1000',
    interval=125,
    k=200,
    max_test=1000,
    max_train=2000,
    temperature=0.1)
log_interval = 10
max_keep_ckpts = 2
model = dict(
    backbone=dict(arch='resnet18', stem='cifar', width=16),
    projector=dict(hidden_dim=512, num_layers=2, out_dim=128),
    temperature=0.2,
    type='simclr')
model_wrapper_cfg = dict(
    broadcast_buffers=False,
    find_unused_parameters=False,
    type='DeviceAwareDDP')
optimizer = dict(
    clip_lr=True,
    eta=0.02,
    lr=0.2,
    momentum=0.9,
    type='LARS',
    weight_decay=1e-05)
schedule = dict(
    epochs=150, min_lr_ratio=0.0, warmup_epochs=2, warmup_start_factor=0.01)
seed = 2
tensorboard = True
