# Faster R-CNN R50-C4 on VOC07+12 trainval, 24k iterations, tested on VOC07 test: the MoCo VOC protocol
# (He et al. 2020): multi-scale train 480-800 px, test 800 px, lr 0.02 at batch 16, steps at 18k and 22k.
# Reports AP50 and the COCO-style AP (mean over IoU 0.50:0.05:0.95) and AP75 with the VOC07 11-point
# metric, as detectron2's PascalVOCDetectionEvaluator does. Model overrides as in the COCO C4 config.
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py'
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

train_dataloader = dict(dataset=dict(ignore_keys=['dataset_type']))
max_iter = 24000
train_cfg = dict(max_iters=max_iter, val_interval=max_iter)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_iter, by_epoch=False, milestones=[18000, 22000], gamma=0.1),
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))
val_evaluator = dict(
    type='VOCMetric', metric='mAP', eval_mode='11points',
    iou_thrs=[0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
test_evaluator = val_evaluator

custom_hooks = [
    dict(type='VerifyPretrainedHook', checkpoint=pretrained,
         targets=[('backbone', True), ('roi_head.shared_head', False)]),
    dict(type='FiniteLossHook'),
]
transfer_dataset = 'voc0712'
transfer_split = 'voc07-test'
