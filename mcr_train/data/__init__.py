"""Datasets shared by training and evaluation: the embedded factor scenes and local-path loaders."""

from mcr_train.data.spec import DataSpec, build_dataset, dataset_stats, parse_spec

__all__ = ["DataSpec", "build_dataset", "dataset_stats", "parse_spec"]
