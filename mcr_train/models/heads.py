"""Projector and predictor MLPs for self-supervised methods.

One builder covers the heads of the published recipes:

* SimCLR (Chen et al., 2020): ``Linear -> BN -> ReLU -> Linear``.
* MoCo v2 (Chen et al., 2020b): the same without BN.
* BYOL (Grill et al., 2020) projector and predictor: ``Linear -> BN -> ReLU -> Linear``.
* SimSiam (Chen & He, 2021): 3-layer projector ending in BN, 2-layer bottleneck predictor.
* Barlow Twins (Zbontar et al., 2021) and VICReg (Bardes et al., 2022): 3-layer expander with BN.
"""

from __future__ import annotations

from torch import Tensor, nn

from mcr_train.errors import ConfigError


class MLPHead(nn.Module):
    """``num_layers`` linear layers; hidden layers are ``Linear -> [BN] -> ReLU``.

    Args:
        in_dim: input size.
        hidden_dim: width of every hidden layer.
        out_dim: output size.
        num_layers: number of linear layers (>= 1).
        hidden_bn: BatchNorm after every hidden linear layer (its linear then has no bias).
        last_bn: BatchNorm after the output layer (SimSiam's projector; MEC's teacher/student).
        last_bn_affine: whether that last BN learns scale and shift.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int = 2,
        hidden_bn: bool = True,
        last_bn: bool = False,
        last_bn_affine: bool = True,
    ):
        super().__init__()
        if num_layers < 1:
            raise ConfigError(f"an MLP head needs at least 1 layer, got num_layers={num_layers}")
        for name, value in (("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"MLP head {name} must be a positive integer, got {value!r}")
        layers: list[nn.Module] = []
        dim = in_dim
        for _ in range(num_layers - 1):
            layers.append(nn.Linear(dim, hidden_dim, bias=not hidden_bn))
            if hidden_bn:
                layers.append(nn.BatchNorm1d(hidden_dim))
            layers.append(nn.ReLU(inplace=True))
            dim = hidden_dim
        layers.append(nn.Linear(dim, out_dim, bias=not last_bn))
        if last_bn:
            layers.append(nn.BatchNorm1d(out_dim, affine=last_bn_affine))
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def build_head(in_dim: int, cfg: dict) -> MLPHead:
    """Build an :class:`MLPHead` from a config dict (``hidden_dim``, ``out_dim``, ``num_layers``, ...)."""
    allowed = {"hidden_dim", "out_dim", "num_layers", "hidden_bn", "last_bn", "last_bn_affine"}
    unknown = set(cfg) - allowed
    if unknown:
        raise ConfigError(f"unknown head option(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return MLPHead(in_dim, **cfg)
