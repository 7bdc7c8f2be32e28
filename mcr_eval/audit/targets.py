"""One scalar per example for Captum: what an attribution explains.

``ScalarTarget(pixels, aux)`` runs the encoder in pixel space (:class:`PixelSpaceEncoder`, BN in eval mode)
and reduces its embedding ``z`` to a scalar. ``aux`` is per-example and is passed through Captum's
``additional_forward_args``, so Captum's internal expansion (integration steps, noise samples, perturbation
batches) keeps it aligned with its image:

* ``view-similarity``: cosine similarity of ``z`` to ``aux``, the embedding of another view of the same
  image (a horizontal flip by default) or any reference embedding;
* ``probe-logit``: the logit of class ``aux`` of a linear probe fitted on frozen features (for a factor of
  the scenes or the dataset's class labels);
* ``direction``: the projection ``<z, aux>`` on a chosen embedding direction (by default the first principal
  component of the features).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mcr_eval.audit.ridge import RidgeProbe
from mcr_eval.audit.scene_inputs import PixelSpaceEncoder, encode
from mcr_train.errors import ConfigError

TARGETS = ("view-similarity", "probe-logit", "direction")


def check_target(kind: str) -> str:
    if kind not in TARGETS:
        raise ConfigError(f"unknown --target '{kind}'; choose one of {', '.join(TARGETS)}")
    return kind


class ScalarTarget(nn.Module):
    """``forward(pixels, aux) -> (N,)`` for one of :data:`TARGETS`; ``head`` is the probe for probe-logit."""

    def __init__(self, encoder: PixelSpaceEncoder, kind: str, head: nn.Linear | None = None):
        super().__init__()
        self.encoder, self.kind, self.head = encoder, check_target(kind), head
        if kind == "probe-logit" and head is None:
            raise ConfigError("target probe-logit needs a fitted linear probe head")

    def train(self, mode: bool = True) -> ScalarTarget:  # BN stays in eval mode
        return super().train(False)

    def forward(self, pixels: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        z = self.encoder(pixels)
        if self.kind == "view-similarity":
            return F.cosine_similarity(z, aux.to(z.dtype), dim=1, eps=1e-8)
        if self.kind == "probe-logit":
            return self.head(z).gather(1, aux.long().view(-1, 1)).squeeze(1)
        return (z * aux.to(z.dtype)).sum(1)


def probe_head(probe: RidgeProbe) -> nn.Linear:
    """The ridge probe ``((z - mean) / scale) @ W + b`` as an equivalent ``nn.Linear`` on raw features."""
    weight = probe.weight / probe.scale[:, None]
    bias = probe.bias - (probe.mean / probe.scale) @ probe.weight
    head = nn.Linear(weight.shape[0], weight.shape[1])
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weight.T).float())
        head.bias.copy_(torch.from_numpy(np.asarray(bias)).float())
    return head.eval()


def flip_view(pixels: torch.Tensor) -> torch.Tensor:
    """The default other view: a horizontal flip."""
    return torch.flip(pixels, dims=(3,))


def view_references(encoder: PixelSpaceEncoder, pixels: torch.Tensor) -> torch.Tensor:
    """Embeddings of the other view of each image (the ``aux`` of ``view-similarity``)."""
    return torch.from_numpy(encode(encoder, flip_view(pixels))).float()


def principal_direction(features: np.ndarray) -> torch.Tensor:
    """Unit first principal component of ``features`` (sign: positive mean projection)."""
    centred = features - features.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    direction = vt[0] * np.sign(features.mean(0) @ vt[0] or 1.0)
    return torch.from_numpy(direction / np.linalg.norm(direction)).float()
