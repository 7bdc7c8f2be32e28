# Mask R-CNN R18-FPN on 32 px multi-object factor scenes, for the encoders the CPU recipes pretrain
# (configs/train/_base_/scenes.py: ResNet-18, CIFAR stem, width 16, 32 px). Same protocol and heads as the
# 128 px scenes config; only the image size, the backbone width, the number of sampled RoIs and the test
# score threshold change.
# The backbone stays type='ResNet': `mcr-eval detect` switches it to CifarStemResNet and divides the anchor
# and RoI strides by 4 when the encoder has the CIFAR stem (mcr_eval.transfer.config.set_backbone_stem), so
# feature maps and anchors are then as large, in cells, as the 128 px config's with an ImageNet stem.
# Data: mcr-data scenes --multi --coco --n 400 --size 32 --seed 0 --out data/scenes32/train
#       mcr-data scenes --multi --coco --n 100 --size 32 --seed 1 --out data/scenes32/val
_base_ = './mask-rcnn_r18_fpn_syncbn-1xb4-12e_scenes.py'

width = 16
model = dict(
    backbone=dict(base_channels=width, stem_channels=width),
    neck=dict(in_channels=[width, 2 * width, 4 * width, 8 * width]),
    # 1-5 objects on a 32 px image: fewer proposals and sampled RoIs than at 128 px
    train_cfg=dict(rpn_proposal=dict(nms_pre=500, max_per_img=100), rcnn=dict(sampler=dict(num=64))),
    # score_thr 0: short CPU schedules leave class scores low, and CocoMetric returns nothing without
    # detections. Detections below mmdet's 0.05 rank after all others, so COCO AP can only gain from them.
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=50), rcnn=dict(score_thr=0.0)))

data_root = 'data/scenes32/'
image_scale = (32, 32)
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
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'val/instances.json')
test_evaluator = val_evaluator
transfer_dataset = 'scenes-multi-32px'
