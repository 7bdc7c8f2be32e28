"""Reference rows for every headline: a random-init encoder and the raw pixels, probed like a trained encoder.

A trained encoder's accuracy means little without the floor beside it: the same architecture with random
weights (untrained conv nets already give useful features, Saxe et al., ICML 2011), and the input itself,
flattened (the baseline of linear-probe papers on small images, e.g. Coates et al., AISTATS 2011). Both run
through the very code of ``mcr-eval knn`` and ``mcr-eval linear --mode fast`` (same protocols, same record
schema); their records carry ``variant: "reference"`` and the run names ``random-init`` and ``raw-pixels``, so
the report builder shows them in the headline's "Reference" block instead of as a method.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mcr_eval.checkpoints import load_encoder
from mcr_eval.commands import knn, linear
from mcr_eval.commands._shared import EncoderSession, resolve_normalization
from mcr_eval.data import default_input_size, normalization
from mcr_eval.features import FeatureCache
from mcr_eval.records import append_records, read_records
from mcr_train.models.backbone import build_backbone

REFERENCE_SEED = 0
REFERENCE_VARIANT = "reference"


class RawPixels(nn.Module):
    """The normalized input, flattened: ``(N, C, H, W) -> (N, C*H*W)``."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.reshape(images.shape[0], -1)


class ReferenceSession(EncoderSession):
    """An :class:`EncoderSession` around a model built here instead of one loaded from a checkpoint."""

    def __init__(self, args: argparse.Namespace, model: nn.Module, meta: dict[str, Any], input_size: int):
        self.args = args
        self.model, self.meta = model.eval(), meta
        self.input_size = input_size
        # the like encoder's normalization, resolved as the commands resolve it (encoder.json's mean/std)
        self.mean, self.std, self.norm_source = resolve_normalization(args, meta)
        self.cache = None if args.no_cache else FeatureCache(args.cache_dir)


def _state_sha256(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _reference_meta(like: dict[str, Any], run: str, sha: str, **fields: Any) -> dict[str, Any]:
    """``like``'s metadata with the training-describing fields replaced: nothing was trained."""
    return {**like, "run": run, "method": run, "regularizer": "none", "pretrain_data": "none", "epochs": 0,
            "seed": REFERENCE_SEED, "source_format": run, "checkpoint": None, "checkpoint_sha256": sha, **fields}


def _arguments(add_arguments: Callable[[argparse.ArgumentParser], None], argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def _probe(session_of: Callable[[argparse.Namespace], EncoderSession], common: list[str], out: Path,
           backbone: str) -> list[dict[str, Any]]:
    """kNN and fast-linear records of one reference, through the commands' own ``run``."""
    for module, extra in ((knn, []), (linear, ["--mode", "fast"])):
        args = _arguments(module.add_arguments, ["reference", *common, *extra, "--out", str(out)])
        module.run(args, session=session_of(args))
    records = read_records(out)
    for record in records:
        record.update(backbone=backbone, variant=REFERENCE_VARIANT)
    return records


def evaluate_references(eval_data: str, like_encoder: Path, results: Path, cache_dir: Path | None = None) -> None:
    """Append kNN and fast-linear records of a random-init encoder (``like_encoder``'s architecture, width,
    stem, input size and normalization; seed 0) and of the raw pixels (the flattened normalized input at that
    input size) on ``eval_data`` to ``results``. Run names ``random-init`` and ``raw-pixels``."""
    _, like = load_encoder(like_encoder, report=lambda line: None)
    size = int(default_input_size(like))
    channels = len(normalization(like)[0])
    common = ["--data", eval_data, "--input-size", str(size), "--quiet", "--workers", "0"]
    common += ["--cache-dir", str(cache_dir)] if cache_dir is not None else ["--no-cache"]
    torch.manual_seed(REFERENCE_SEED)
    random_model = build_backbone(like["arch"], like["stem"], int(like["width"]), stem_padding=like.get("stem_padding"))
    random_meta = _reference_meta(like, "random-init", _state_sha256(random_model),
                                  feature_dim=int(random_model.num_features))
    pixels_model = RawPixels(channels * size * size)
    pixels_meta = _reference_meta(like, "raw-pixels", f"raw-pixels-{size}px", arch="raw-pixels", stem="none",
                                  width=0, stem_padding=None, feature_dim=pixels_model.num_features)
    records = []
    with tempfile.TemporaryDirectory(prefix="mcr-references-") as tmp:
        for model, meta, backbone in ((random_model, random_meta, f"{like['arch']}-{like['stem']}-w{like['width']}"),
                                      (pixels_model, pixels_meta, f"raw-pixels-{size}px")):
            records += _probe(lambda args, m=model, md=meta: ReferenceSession(args, m, md, size),
                              common, Path(tmp) / f"{meta['run']}.jsonl", backbone)
    append_records(results, records)
