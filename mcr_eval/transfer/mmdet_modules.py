"""MMDetection modules and hooks of the transfer protocol, registered in mmdet's registries.

Configs load them with ``custom_imports = dict(imports=['mcr_eval.transfer.mmdet_modules'])``.

* ``CifarStemResNet``: mmdet's ``ResNet`` with the CIFAR stem of our encoders (3x3 stride-1 conv, norm,
  ReLU, no max-pool; ``mcr_train.models.backbone``), so that CIFAR-stem encoders can be transferred. Its
  parameter names are mmdet ResNet's (``conv1``, ``bn1`` for BN/SyncBN), which are torchvision's and ours.
* ``ResLayerExtraNorm``: the C4 RoI head of the MoCo detection protocol (He et al., 2020, detectron2
  ``Res5ROIHeadsExtraNorm``; MMSelfSup's C4 benchmark configs): the res5 stage shared by the box and mask
  heads, followed by one extra normalization layer. Its ``layer4.*`` weights come from the pretrained
  encoder; ``norm.*`` is new.
* ``VerifyPretrainedHook``: after weight initialization (``before_train``) it proves that the backbone
  (and the C4 shared head) hold exactly the tensors of the converted checkpoint.
* ``FiniteLossHook``: stops training with a one-line :class:`TrainingError` when a loss is NaN/inf
  (CocoMetric would otherwise return an empty metric dict).
* ``CollectMetricsHook``: keeps the last validation/test metrics so the caller can write records.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmdet.models.backbones.resnet import ResNet
from mmdet.models.roi_heads.shared_heads import ResLayer
from mmdet.registry import HOOKS, MODELS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mcr_train.errors import CheckpointError, ConfigError, TrainingError

TRACKED_SUFFIX = "num_batches_tracked"


@MODELS.register_module()
class CifarStemResNet(ResNet):
    """mmdet ``ResNet`` whose stem is the CIFAR stem of ``mcr_train.models.backbone`` (SimCLR appendix B.9).

    Only the stem changes: a 3x3 stride-1 conv (padding 1, no bias), the config's norm, ReLU, and an
    identity in place of the max-pool. The stages are mmdet's, so ``style='pytorch'`` blocks hold the same
    tensors under the same names as our encoder and its outputs are at strides 1, 2, 4, 8 (not 4 ... 32).
    """

    def __init__(self, depth: int, deep_stem: bool = False, **kwargs):
        if deep_stem:
            raise ConfigError("CifarStemResNet has a single 3x3 stem conv and no deep stem; remove deep_stem=True "
                              "from model.backbone")
        super().__init__(depth, deep_stem=False, **kwargs)

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        # Same attribute names as mmdet's plain stem (conv1, norm1_name, relu, maxpool), so that ResNet's
        # forward, _freeze_stages and the Pretrained init keys work unchanged.
        self.conv1 = build_conv_layer(self.conv_cfg, in_channels, stem_channels, kernel_size=3, stride=1,
                                      padding=1, bias=False)
        self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = torch.nn.ReLU(inplace=True)
        self.maxpool = torch.nn.Identity()


@MODELS.register_module()
class ResLayerExtraNorm(ResLayer):
    """mmdet ``ResLayer`` (res5 as the RoI head of a C4 detector) plus a normalization layer after it."""

    def __init__(self, depth: int, stage: int = 3, **kwargs):
        super().__init__(depth, stage=stage, **kwargs)
        block = ResNet.arch_settings[depth][0]
        channels = 64 * 2**stage * block.expansion
        self.add_module("norm", build_norm_layer(self.norm_cfg, channels)[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(getattr(self, f"layer{self.stage + 1}")(x))


def _submodule(model: torch.nn.Module, path: str) -> torch.nn.Module | None:
    module = model
    for part in path.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


def reference_state(path: str, prefix: str) -> dict[str, torch.Tensor]:
    """Tensors under ``prefix`` in the converted checkpoint, prefix removed (read with weights_only)."""
    raw = torch.load(path, map_location="cpu", weights_only=True)
    state = raw.get("state_dict", raw) if isinstance(raw, Mapping) else {}
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix) and isinstance(v, torch.Tensor)}


def compare_to_reference(model: torch.nn.Module, reference: Mapping[str, torch.Tensor],
                         targets: Sequence[tuple[str, bool]]) -> int:
    """Check that the modules in ``targets`` hold ``reference``'s tensors; return how many were compared.

    ``targets`` pairs a submodule path (``backbone``, ``roi_head.shared_head``) with whether every one of
    its tensors must come from the reference (True for the backbone; False for a head with new layers).
    Every reference tensor must be found in some target. Raises :class:`CheckpointError` otherwise.
    """
    used: set[str] = set()
    for path, complete in targets:
        module = _submodule(model, path)
        if module is None:
            raise CheckpointError(f"detector has no '{path}' module to verify; fix the verify targets of the config")
        for name, tensor in module.state_dict().items():
            if name.endswith(TRACKED_SUFFIX):
                continue
            if name not in reference:
                if complete:
                    raise CheckpointError(f"{path}.{name} was not initialized from the pretrained checkpoint; the "
                                          "checkpoint does not cover this backbone, pass an encoder of the config's "
                                          "architecture")
                continue
            if not torch.equal(tensor.detach().cpu(), reference[name].to(tensor.dtype)):
                raise CheckpointError(f"{path}.{name} differs from the pretrained checkpoint after initialization; "
                                      "init_cfg did not load the weights, check model init_cfg checkpoint/prefix")
            used.add(name)
    unused = sorted(k for k in reference if k not in used and not k.endswith(TRACKED_SUFFIX))
    if unused:
        raise CheckpointError(f"{len(unused)} pretrained tensors were never loaded into the detector "
                              f"({', '.join(unused[:3])}, ...); the config's backbone is smaller than the encoder, "
                              "use a config of the encoder's architecture")
    return len(used)


@HOOKS.register_module()
class VerifyPretrainedHook(Hook):
    """Before the first iteration, prove that the backbone holds the pretrained weights (MoCo sanity check)."""

    priority = "VERY_HIGH"

    def __init__(self, checkpoint: str, prefix: str = "backbone.",
                 targets: Sequence[Sequence] = (("backbone", True),)):
        self.checkpoint = checkpoint
        self.prefix = prefix
        self.targets = [(str(path), bool(complete)) for path, complete in targets]
        self.compared = 0

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self.compared = compare_to_reference(model, reference_state(self.checkpoint, self.prefix), self.targets)
        runner.logger.info(f"verified {self.compared} pretrained tensors in {', '.join(p for p, _ in self.targets)}")


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise :class:`TrainingError` as soon as a training loss is not finite."""

    priority = "VERY_HIGH"

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: Mapping | None = None) -> None:
        for name, value in (outputs or {}).items():
            number = float(value.detach().float().mean()) if isinstance(value, torch.Tensor) else float(value)
            if not math.isfinite(number):
                raise TrainingError(f"training loss '{name}' became {number} at iteration {runner.iter + 1}; lower "
                                    "the learning rate (--cfg-options optim_wrapper.optimizer.lr=...), keep "
                                    "norm_eval=False, or check the encoder's normalization mean/std")


@HOOKS.register_module()
class CollectMetricsHook(Hook):
    """Keep the metrics of the last validation or test epoch (``self.metrics``)."""

    priority = "LOWEST"

    def __init__(self):
        self.metrics: dict[str, float] = {}

    def after_val_epoch(self, runner, metrics: Mapping[str, float] | None = None) -> None:
        self.metrics = dict(metrics or {})

    def after_test_epoch(self, runner, metrics: Mapping[str, float] | None = None) -> None:
        self.metrics = dict(metrics or {})
