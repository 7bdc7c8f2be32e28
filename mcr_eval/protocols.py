"""One-line protocol statements for table headers, built from a result record's ``protocol`` dict.

``docs/evaluation.md`` states each protocol in exactly these words; reports use :func:`protocol_header` so a
table's legend and the docs never drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _pct(fraction: float) -> str:
    return f"{100 * float(fraction):g}%"


def protocol_header(task: str, protocol: Mapping[str, Any], metric: str = "top1") -> str:
    """E.g. ``kNN k=200 T=0.1 top1 (cosine, exp(s/T) votes, center-crop 32px)``."""
    size = protocol.get("input_size", "?")
    if task == "knn":
        return f"kNN k={protocol['k']} T={protocol['T']} {metric} (cosine, exp(s/T) votes, center-crop {size}px)"
    if task == "linear" and protocol.get("mode") == "fast":
        return (
            f"Linear fast {metric} (frozen, BN eval; center-crop {size}px features, standardized; "
            f"multinomial logistic regression, L2 on held-out 20% of train)"
        )
    if task == "linear":
        return (
            f"Linear standard {metric} (frozen, BN eval; SGD, RandomResizedCrop+flip, cosine, "
            f"{protocol.get('epochs', '?')} epochs, last epoch)"
        )
    if task == "semisup":
        return (
            f"Semi-sup {_pct(protocol.get('label_fraction', 0))} {metric} (fine-tuned; class-balanced "
            f"labels, seed {protocol.get('seed', '?')}; {protocol.get('epochs', '?')} epochs, last epoch)"
        )
    if task == "representation":
        return {
            "rankme": "RankMe (Garrido et al. 2023; singular-value entropy, uncentered)",
            "effective_rank": "Effective rank (Roy & Vetterli 2007; centered features)",
            "alignment": "Alignment (Wang & Isola 2020; alpha=2, two RandomResizedCrop+flip views)",
            "uniformity": "Uniformity (Wang & Isola 2020; t=2)",
            "mec_coding_length": f"MEC coding length (eps^2={protocol.get('mec_eps_sq', 64.0):g})",
            "linear_cka": "Linear CKA (Kornblith et al. 2019)",
        }.get(metric, metric)
    return f"{task} {metric}"
