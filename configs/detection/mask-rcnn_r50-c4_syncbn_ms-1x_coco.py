# Mask R-CNN R50-C4 1x on COCO (multi-scale train), SSL transfer protocol (MoCo, He et al. 2020;
# MMSelfSup benchmark configs):
# res2-res4 form the backbone, res5 is the RoI head shared by box and mask branches and is initialized
# from the encoder's layer4, followed by one extra norm (new, like detectron2's Res5ROIHeadsExtraNorm).
# SyncBN (plain BN when not distributed), frozen_stages=-1, norm_eval=False, torchvision ('pytorch') style
# and RGB ImageNet normalization instead of mmdet's caffe defaults.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50-caffe-c4_1x_coco.py'
custom_imports = dict(imports=['mcr_eval.transfer.mmdet_modules'], allow_failed_imports=False)

pretrained = 'checkpoints/encoder_mmdet.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    roi_head=dict(
        shared_head=dict(
            type='ResLayerExtraNorm', norm_cfg=norm_cfg, norm_eval=False, style='pytorch',
            init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'))))

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
    dict(type='VerifyPretrainedHook', checkpoint=pretrained,
         targets=[('backbone', True), ('roi_head.shared_head', False)]),
    dict(type='FiniteLossHook'),
]
transfer_dataset = 'coco'
transfer_split = 'val2017'
