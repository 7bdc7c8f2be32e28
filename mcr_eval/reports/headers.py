"""Short column names, and the full protocol of every column as legend text (docs/reports.md).

A table header carries a short name (``kNN k=200``, ``Linear``, ``RankMe``) and a footnote mark; the protocol
that defines the number is stated once, in the legend under the table. Floats in protocol text are written in
their shortest round-tripping form (``1e-05``, never ``9.999999999999999e-06``): records written by an older
numpy carry the long spelling of the same grid value.
"""

from __future__ import annotations

import json
import math
from typing import Any

TASK_NAMES = {
    "knn": "kNN", "linear": "Linear", "semisup": "Semi-sup.", "detection": "Detection",
    "segmentation": "Segmentation", "retention": "Retention", "attribution": "Attribution",
    "representation": "Representation",
}
REPRESENTATION_NAMES = {"rankme": "RankMe", "effective_rank": "Effective rank", "alignment": "Alignment",
                        "uniformity": "Uniformity", "mec": "MEC coding length"}
DETECTION_NAMES = {"detection": "Box", "segmentation": "Mask"}
SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def short_float(value: float) -> str:
    """The shortest text that reads back as ``value`` rounded to 12 significant digits."""
    if not math.isfinite(value):
        return str(value)
    return repr(float(f"{value:.12g}"))


def clean(value: Any) -> Any:
    """``value`` with every float replaced by its 12-significant-digit rounding (lists and dicts too)."""
    if isinstance(value, float):
        return float(f"{value:.12g}") if math.isfinite(value) else value
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    return value


def value_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return short_float(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def protocol_text(protocol_key: str) -> str:
    """``k=200, T=0.1, ...`` from a canonical protocol key; empty for an empty protocol."""
    params = json.loads(protocol_key)
    return ", ".join(f"{k}={value_text(v)}" for k, v in params.items())


def is_v1_retention(protocol: dict) -> bool:
    """The first retention audit: ridge-probe (linear) decodability relative to raw pixels. Its summary measures
    linear decodability, not information (docs/audit.md), so its column says so."""
    version = str(protocol.get("audit", protocol.get("audit_version", "v1"))).lower().lstrip("v")
    return protocol.get("probe") == "ridge-loo" and version == "1"


def _knn_name(params: dict, metric: str) -> str:
    k = params.get("k")
    name = f"kNN k={k}" if k is not None else "kNN"
    return name if metric == "top1" else f"{name} {metric.replace('top', 'top-')}"


RETENTION_SUMMARIES = {
    "linear_non_shared_retention": "Linear non-shared retention", "linear_shared_retention": "Linear shared retention",
    "dci_disentanglement": "DCI disentanglement", "dci_completeness": "DCI completeness",
    "dci_informativeness": "DCI informativeness", "mig": "MIG", "sap": "SAP",
}


def _retention_name(metric: str, params: dict) -> str:
    v1 = is_v1_retention(params)
    if metric == "non_shared_retention":
        return "Linear retention (v1)" if v1 else "Non-shared retention"
    if metric == "shared_retention":
        return "Shared linear retention (v1)" if v1 else "Shared retention"
    if metric in RETENTION_SUMMARIES:
        return RETENTION_SUMMARIES[metric]
    family, _, factor = metric.partition(".")
    if family == "invariance":
        return f"Invariance: {factor}"
    return f"{family.replace('_', ' ')}: {factor}" if factor else family.replace("_", " ")


def short_name(task: str, metric: str, protocol_key: str) -> str:
    """A column's short name, e.g. ``kNN k=200``, ``Linear``, ``Linear retention (v1)``, ``RankMe``, ``Box AP``."""
    params = json.loads(protocol_key)
    if task == "knn":
        return _knn_name(params, metric)
    if task in ("linear", "semisup"):
        base = TASK_NAMES[task]
        if task == "semisup" and "fraction" in params:
            base += f" {value_text(params['fraction'])}"
        names = {"top1": base, "top5": f"{base} top-5", "selected_l2": f"{base} chosen L2"}
        return names.get(metric, f"{base} {metric}")
    if task == "retention":
        return _retention_name(metric, params)
    if task == "representation":
        return REPRESENTATION_NAMES.get(metric, metric.replace("_", " "))
    if task in DETECTION_NAMES:
        return f"{DETECTION_NAMES[task]} {metric}"
    return f"{TASK_NAMES.get(task, task)} {metric}"


def legend_text(dataset: str, split: str, protocol_key: str) -> str:
    """Where the number was measured and the parameters that define it."""
    params = protocol_text(protocol_key)
    return f"{dataset}, {split} split" + (f"; {params}" if params else "")


def split_protocols(protocol_keys: list[str]) -> tuple[str, list[str]]:
    """The parameters shared by every column (stated once per table) and each column's distinguishing rest."""
    params = [json.loads(k) for k in protocol_keys]
    common = {k: v for k, v in params[0].items() if all(k in p and p[k] == v for p in params)} if params else {}
    distinct = [json.dumps({k: v for k, v in p.items() if k not in common}, sort_keys=True) for p in params]
    return json.dumps(common, sort_keys=True), distinct


def mark(index: int) -> str:
    """Footnote mark ``index`` (1-based) as superscript digits."""
    return str(index).translate(SUPERSCRIPTS)


def row_label(method: str, regularizer: str) -> str:
    return method if regularizer == "none" else f"{method}+{regularizer.upper()}"


def epochs_text(epochs: str) -> str:
    """Epochs as written in a title: whole numbers as they are, a shortened schedule to two decimals."""
    try:
        value = float(epochs)
    except ValueError:
        return epochs
    return str(int(value)) if value.is_integer() else f"{value:.2f}"


def group_title(pretrain_data: str, backbone: str, epochs: str) -> str:
    return f"pretrained on {pretrain_data} · {backbone} · {epochs_text(epochs)} epochs"
