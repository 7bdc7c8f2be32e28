# Mask R-CNN R18-FPN for CPU-scale transfer on the embedded multi-object factor scenes (128 px).
# Same protocol as the R50 configs (SyncBN/BN, frozen_stages=-1, norm_eval=False, Pretrained init_cfg),
# with heads slimmed for small images: 128-channel FPN, 16 px base anchors, fewer RoIs.
# Data: mcr-data scenes --multi --coco --n 2000 --size 128 --seed 0 --out data/scenes/train
#       mcr-data scenes --multi --coco --n 500 --size 128 --seed 1 --out data/scenes/val
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mcr_eval.transfer.mmdet_modules'], allow_failed_imports=False)

pretrained = 'checkpoints/encoder_mmdet.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
classes = ('circle', 'square', 'triangle', 'diamond', 'cross', 'star', 'hexagon')
channels = 128
model = dict(
    backbone=dict(
        depth=18, frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=channels, norm_cfg=norm_cfg),
    rpn_head=dict(in_channels=channels, feat_channels=channels, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(in_channels=channels, fc_out_channels=256, num_classes=len(classes)),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(in_channels=channels, conv_out_channels=channels, num_classes=len(classes))),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300), rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100), rcnn=dict(max_per_img=20)))

data_root = 'data/scenes/'
image_scale = (128, 128)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(batch_size=4, dataset=dict(
    data_root=data_root, metainfo=dict(classes=classes), ann_file='train/instances.json',
    data_prefix=dict(img='train/images/'), filter_cfg=dict(filter_empty_gt=True, min_size=16),
    pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    data_root=data_root, metainfo=dict(classes=classes), ann_file='val/instances.json',
    data_prefix=dict(img='val/images/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'val/instances.json')
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(lr=0.005))  # linear scaling of 0.02 @ batch 16 to batch 4

custom_hooks = [
    dict(type='VerifyPretrainedHook', checkpoint=pretrained, targets=[('backbone', True)]),
    dict(type='FiniteLossHook'),
]
transfer_dataset = 'scenes-multi'
transfer_split = 'val'
