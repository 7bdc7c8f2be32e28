"""The mandated stack is installed and mmcv's compiled ops give correct answers on CPU."""

import torch


def test_mmcv_nms_hand_case():
    from mmcv.ops import nms

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    # box 3 (0.95) suppresses boxes 0 (IoU 0.9) and 1 (IoU 0.64 with box 3); box 2 is disjoint.
    assert keep.tolist() == [3, 2]
    assert torch.allclose(dets[:, 4], torch.tensor([0.95, 0.7]))


def test_mmcv_batched_nms_keeps_classes_apart():
    from mmcv.ops import batched_nms

    boxes = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=torch.float32)
    _, keep = batched_nms(boxes, torch.tensor([0.9, 0.8]), torch.tensor([0, 1]), dict(type="nms", iou_threshold=0.5))
    assert sorted(keep.tolist()) == [0, 1]


def test_mmcv_roi_align_constant_and_ramp():
    from mmcv.ops import RoIAlign
    from torchvision.ops import roi_align as tv_roi_align

    # On a linear ramp f(x, y) = x, bilinear RoIAlign returns the mean x of each bin exactly.
    feat = torch.arange(16, dtype=torch.float32).repeat(16, 1)[None, None]
    rois = torch.tensor([[0, 2.0, 3.0, 10.0, 11.0]])
    op = RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    out = op(feat, rois)
    assert torch.allclose(out[0, 0], torch.tensor([[3.5, 7.5], [3.5, 7.5]]), atol=1e-5)
    ref = tv_roi_align(feat, rois, (2, 2), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    assert torch.equal(out, ref)


def test_imports_of_the_mandated_stack():
    import captum
    import mmdet
    import mmengine
    import pandas
    import sklearn

    assert mmdet.__version__ == "3.3.0"
    assert mmengine.__version__ == "0.10.7"
    assert captum.__version__ and pandas.__version__ and sklearn.__version__
