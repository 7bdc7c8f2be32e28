"""Table headers that state the exact protocol of every number (DESIGN.md section 6)."""

from __future__ import annotations

import json

TASK_NAMES = {
    "knn": "kNN", "linear": "Linear", "semisup": "Semi-sup.", "detection": "Detection",
    "segmentation": "Segmentation", "retention": "Retention", "attribution": "Attribution",
    "representation": "Representation",
}


def protocol_text(protocol_key: str) -> str:
    params = json.loads(protocol_key)
    return " ".join(f"{k}={v}" for k, v in params.items()) if params else "default protocol"


def column_header(task: str, dataset: str, split: str, metric: str, protocol_key: str) -> str:
    """E.g. ``kNN top1 · scenes/test · k=200 T=0.1``."""
    return f"{TASK_NAMES.get(task, task)} {metric} · {dataset}/{split} · {protocol_text(protocol_key)}"


def row_label(method: str, regularizer: str) -> str:
    return method if regularizer == "none" else f"{method}+{regularizer.upper()}"


def group_title(pretrain_data: str, backbone: str, epochs: str) -> str:
    return f"pretrained on {pretrain_data} · {backbone} · {epochs} epochs"
