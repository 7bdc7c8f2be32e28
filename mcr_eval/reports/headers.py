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
    """E.g. ``kNN top1 · scenes/test · k=200 T=0.1`` (``protocol_key`` may hold only the distinguishing part)."""
    params = json.loads(protocol_key)
    tail = f" · {protocol_text(protocol_key)}" if params else ""
    return f"{TASK_NAMES.get(task, task)} {metric} · {dataset}/{split}{tail}"


def split_protocols(protocol_keys: list[str]) -> tuple[str, list[str]]:
    """The parameters shared by every column (stated once per table) and each column's distinguishing rest."""
    params = [json.loads(k) for k in protocol_keys]
    common = {k: v for k, v in params[0].items() if all(k in p and p[k] == v for p in params)} if params else {}
    distinct = [json.dumps({k: v for k, v in p.items() if k not in common}, sort_keys=True) for p in params]
    return json.dumps(common, sort_keys=True), distinct


def row_label(method: str, regularizer: str) -> str:
    return method if regularizer == "none" else f"{method}+{regularizer.upper()}"


def group_title(pretrain_data: str, backbone: str, epochs: str) -> str:
    return f"pretrained on {pretrain_data} · {backbone} · {epochs} epochs"
