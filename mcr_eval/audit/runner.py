"""End-to-end retention audit of one or more encoders on the factor scenes and on real images.

The scene set, its labels, the ceilings (each probe family on the input pixels, :mod:`.retention`) and the
reference probes are computed once and shared by every audited encoder (the random-init reference once per
architecture), so several checkpoints are compared on the same samples. Each encoder also gets the
disentanglement metrics DCI, MIG and SAP (:mod:`.disentanglement`) against its ground-truth factors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mcr_eval.audit.disentanglement import dci, mig, sap
from mcr_eval.audit.factors import (
    DETAIL_DEPENDENT,
    FactorLabels,
    destroyed_from_views,
    expand_destroyed,
    factor_labels,
    factor_roles,
)
from mcr_eval.audit.interventions import intervention_scores
from mcr_eval.audit.invariance import invariance_scores
from mcr_eval.audit.planted import PLANTED, planted_meta
from mcr_eval.audit.probes import DEFAULT_FOLDS, ProbeScore, probe_all
from mcr_eval.audit.retention import FAMILIES, RetentionAudit, audit_from_probes
from mcr_eval.audit.scene_inputs import (
    PixelSpaceEncoder,
    encode,
    random_init_reference,
    raw_pixel_features,
    render_scenes,
)
from mcr_eval.audit.supervised_reference import reference_features, supervised_reference
from mcr_train.data.scenes import FACTOR_NAMES, sample_factors
from mcr_train.errors import CheckpointError, ConfigError

PLANTED_PREFIX = "planted:"
#: Random-init reference for encoders without a ResNet architecture (planted ones): arch, stem, width,
#: and the normalization it is fed with.
#: Seed of the random-init reference (fixed, and unlike the usual 0, so an exported seed-0 init is not it).
RANDOM_REFERENCE_SEED = 20240
FALLBACK_REFERENCE = {"arch": "resnet18", "stem": "cifar", "width": 16, "mean": [0.5] * 3, "std": [0.25] * 3}
#: Factors visible in every scene: the columns the disentanglement metrics score (a detail's kind and corner
#: exist only where a detail is drawn).
ALWAYS_VISIBLE = tuple(f for f in FACTOR_NAMES if f not in DETAIL_DEPENDENT)


def disentanglement_scores(features: np.ndarray, labels: FactorLabels, seed: int = 0) -> dict[str, float]:
    """DCI (lasso importances), MIG and SAP of ``features`` against the always-visible scene factors."""
    table = np.stack([labels.values[f] for f in ALWAYS_VISIBLE], axis=1)
    kinds = ["continuous" if labels.is_continuous(f) else "discrete" for f in ALWAYS_VISIBLE]
    result = dci(features, table, estimator="lasso", factor_kinds=kinds, seed=seed)
    return {"dci_disentanglement": result.disentanglement, "dci_completeness": result.completeness,
            "dci_informativeness": result.informativeness_test,
            "mig": mig(features, table, factor_kinds=kinds).score,
            "sap": sap(features, table, factor_kinds=kinds, seed=seed).score}


@dataclass
class AuditedEncoder:
    """An encoder in pixel space with its metadata and the factors its training views destroy."""

    name: str
    model: PixelSpaceEncoder
    meta: dict[str, Any]
    destroyed: list[str] | None
    views: str | None

    def featurize(self, pixels: torch.Tensor, batch_size: int = 256, device: str = "cpu") -> np.ndarray:
        return encode(self.model, pixels, batch_size, device)


def training_views(meta: dict[str, Any], views: str | None) -> tuple[list[str] | None, str | None]:
    """(destroyed names, views label): ``--views`` wins, then ``destroyed_factors``, then ``views``."""
    if views:
        return destroyed_from_views(views), views
    if meta.get("destroyed_factors") is not None:
        return list(meta["destroyed_factors"]), meta.get("views")
    if meta.get("views"):
        return destroyed_from_views(str(meta["views"])), str(meta["views"])
    return None, None


def load_audited(path: str, views: str | None = None, **load_kwargs: Any) -> AuditedEncoder:
    """Our export or a foreign checkpoint (``mcr_eval.checkpoints.load_encoder``), or ``planted:NAME``."""
    if path.startswith(PLANTED_PREFIX):
        name = path[len(PLANTED_PREFIX):]
        if name not in PLANTED:
            raise CheckpointError(f"unknown planted encoder '{name}'; choose one of "
                                  f"{', '.join(PLANTED_PREFIX + n for n in PLANTED)}")
        meta = planted_meta(name)
        model = PixelSpaceEncoder(PLANTED[name](), meta["mean"], meta["std"])
    else:
        from mcr_eval.checkpoints import load_encoder
        from mcr_eval.data import normalization

        encoder, meta = load_encoder(path, **load_kwargs)
        model = PixelSpaceEncoder(encoder, *normalization(meta))
    destroyed, label = training_views(meta, views)
    return AuditedEncoder(str(meta.get("run", path)), model, meta, destroyed, label)


def require_views(encoder: AuditedEncoder) -> None:
    """Refuse an encoder whose training views are unknown (its factors cannot be labelled shared or not)."""
    if encoder.destroyed is None:
        raise ConfigError(f"encoder '{encoder.name}' does not say which training views it used (no views or "
                          "destroyed_factors in encoder.json); pass --views NAME (e.g. simclr_cifar or "
                          "crop,flip,jitter) to label factors shared / non-shared")


def resize_pixels(pixels: torch.Tensor, size: int) -> torch.Tensor:
    if pixels.shape[-1] == size and pixels.shape[-2] == size:
        return pixels
    return F.interpolate(pixels, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


@dataclass
class SceneAudit:
    """``n`` audit scenes (test stream of ``seed``) at ``size`` px with labels and shared references."""

    n: int = 1000
    size: int = 32
    seed: int = 0
    folds: int = DEFAULT_FOLDS
    counterfactuals: int = 200
    batch_size: int = 256
    device: str = "cpu"
    families: tuple[str, ...] = FAMILIES
    disentanglement: bool = True
    supervised: bool = True
    cache_dir: Path | None = None
    supervised_training: dict[str, int] = field(default_factory=dict)  # n, epochs, seed of the reference
    _random_refs: dict[str, dict[str, ProbeScore]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n < 10 * self.folds:
            raise ConfigError(f"--n {self.n} scenes is too few for {self.folds}-fold probes; use --n >= "
                              f"{10 * self.folds} (a few hundred or more for stable numbers)")
        self.timings: dict[str, float] = {}
        self.factors = [sample_factors(self.seed, i, stream=1) for i in range(self.n)]
        self.pixels = self._timed("render scenes", render_scenes, self.factors, self.size)
        self.labels = factor_labels(self.factors)
        self.raw_reference = self._timed("raw-pixel reference (linear)", probe_all,
                                         raw_pixel_features(self.pixels), self.labels, self.folds, self.seed)
        # The input itself holds everything there is to keep: each family's probe on it is that family's 1.0.
        inputs = self.pixels.flatten(1).double().numpy()
        self.ceilings = {family: self._timed(f"ceiling: {family} probe on the input", probe_all, inputs,
                                             self.labels, self.folds, self.seed, family)
                         for family in self.families}
        self.supervised_scores: dict[str, dict[str, ProbeScore]] = {}
        if self.supervised:
            model = self._timed("supervised reference: train or load", supervised_reference, self.size,
                                self.cache_dir, **self.supervised_training)
            learned = reference_features(model, self.pixels)
            self.supervised_scores = {family: self._timed(f"supervised reference: {family} probe", probe_all,
                                                          learned, self.labels, self.folds, self.seed, family)
                                      for family in self.families}

    def _timed(self, step: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, its wall-clock seconds added to ``timings[step]``."""
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.timings[step] = self.timings.get(step, 0.0) + time.perf_counter() - start

    def references(self, encoder: AuditedEncoder) -> dict[str, dict[str, ProbeScore]]:
        refs = {"raw_pixels": self.raw_reference}
        meta = encoder.meta if encoder.meta.get("arch") else FALLBACK_REFERENCE
        mean = meta.get("mean") if meta is FALLBACK_REFERENCE else encoder.model.mean.flatten().tolist()
        std = meta.get("std") if meta is FALLBACK_REFERENCE else encoder.model.std.flatten().tolist()
        key = f"{meta.get('arch')}-{meta.get('stem')}-{meta.get('width')}-{mean}-{std}"
        if key not in self._random_refs:
            reference = random_init_reference(meta, mean, std, seed=RANDOM_REFERENCE_SEED)
            if reference is not None:
                feats = encode(reference, self.pixels, self.batch_size, self.device)
                self._random_refs[key] = probe_all(feats, self.labels, self.folds, self.seed)
        if key in self._random_refs:
            refs["random_init"] = self._random_refs[key]
        return refs

    def run(self, encoder: AuditedEncoder) -> RetentionAudit:
        require_views(encoder)
        feats = self._timed("encoder: features", encoder.featurize, self.pixels, self.batch_size, self.device)
        references = self._timed("random-init reference (linear)", self.references, encoder)
        probes = {family: self._timed(f"encoder: {family} probe", probe_all, feats, self.labels, self.folds,
                                      self.seed, family) for family in self.families}
        audit = audit_from_probes(probes, self.labels, factor_roles(encoder.destroyed), references, self.ceilings,
                                  expand_destroyed(encoder.destroyed), encoder.views, self.folds, self.size,
                                  self.supervised_scores)
        if self.disentanglement:
            audit.disentanglement = self._timed("encoder: DCI, MIG, SAP", disentanglement_scores, feats,
                                                self.labels, self.seed)
        if self.counterfactuals > 0:
            audit.interventions = self._timed(
                "encoder: counterfactuals", intervention_scores, self.factors, feats, self.labels,
                lambda fs: encoder.featurize(render_scenes(fs, self.size), self.batch_size, self.device),
                n=self.counterfactuals, seed=self.seed)
        return audit


def real_image_invariance(encoders: Sequence[AuditedEncoder], pixels: torch.Tensor, seed: int = 0,
                          batch_size: int = 256, device: str = "cpu") -> dict[str, dict[str, float]]:
    """``encoder name -> transform -> invariance`` on the same real images."""
    return {e.name: invariance_scores(pixels, lambda x, e=e: e.featurize(x, batch_size, device), seed=seed)
            for e in encoders}
