"""Encoder checkpoints: safe loading of our export and foreign layouts, and conversion to other formats."""

from mcr_eval.checkpoints.convert import TARGETS, convert_checkpoint
from mcr_eval.checkpoints.formats import FORMATS, detect_format, infer_arch, strip_prefix, to_torchvision
from mcr_eval.checkpoints.loader import backbone_name, encoder_state, load_encoder, resolve_paths
from mcr_eval.checkpoints.safe_io import atomic_write, file_sha256, read_raw_checkpoint, save_state_dict

__all__ = [
    "FORMATS",
    "TARGETS",
    "atomic_write",
    "backbone_name",
    "convert_checkpoint",
    "detect_format",
    "encoder_state",
    "file_sha256",
    "infer_arch",
    "load_encoder",
    "read_raw_checkpoint",
    "resolve_paths",
    "save_state_dict",
    "strip_prefix",
    "to_torchvision",
]
