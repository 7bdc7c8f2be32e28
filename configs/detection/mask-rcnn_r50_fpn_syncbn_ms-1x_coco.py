# Mask R-CNN R50-FPN 1x on COCO (multi-scale train), SSL transfer protocol (MoCo, He et al. 2020;
# MMSelfSup benchmark configs): SyncBN in backbone, FPN and heads (plain BN when not distributed), all
# stages trained, BN statistics updated (norm_eval=False), backbone from a converted encoder
# (`mcr-eval detect` fills in `pretrained`).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mcr_eval.transfer.mmdet_modules'], allow_failed_imports=False)

pretrained = 'checkpoints/encoder_mmdet.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', conv_out_channels=256, norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

# detectron2's multi-scale training used by MoCo: shorter side sampled from 640-800, test at 800
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomChoiceResize', keep_ratio=True,
         scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)]),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

custom_hooks = [
    dict(type='VerifyPretrainedHook', checkpoint=pretrained, targets=[('backbone', True)]),
    dict(type='FiniteLossHook'),
]
transfer_dataset = 'coco'
transfer_split = 'val2017'
