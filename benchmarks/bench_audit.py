"""Wall time of the audit v2 (``mcr-eval retain`` on the factor scenes), split by step, with a peer.

One ResNet-18 encoder (CIFAR stem, width 16 as in the published scenes studies; random init unless
``--checkpoint`` names a trained one) is audited on ``--n`` scenes at 32 px with both probe families, the
supervised reference, DCI/MIG/SAP and 200 counterfactuals per factor. The shared setup (scenes, ceilings,
supervised reference) is paid once per audit command, whatever the number of encoders; the per-encoder steps
are paid per encoder. ``--fresh`` trains the supervised reference instead of loading it from the cache.

Peer: the same kernel probe built from scikit-learn parts, ``Nystroem(rbf, 500 components)`` and
``RidgeClassifierCV``/``RidgeCV`` (efficient leave-one-out over the same penalties) inside a grid over the same
kernel widths, 5-fold, on the encoder's features for every factor. The ratio compares that step only.

    .venv/bin/python benchmarks/bench_audit.py                   # 1,000 scenes, cached supervised reference
    .venv/bin/python benchmarks/bench_audit.py --fresh           # the first audit on a machine
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def sklearn_kernel_probe(features: np.ndarray, labels, folds: int = 5, seed: int = 0) -> float:
    """Seconds for the scikit-learn peer of the kernel probe on every factor."""
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import RidgeClassifierCV, RidgeCV
    from sklearn.model_selection import KFold

    from mcr_eval.audit.kernel_probe import GAMMA_FACTORS, LANDMARKS
    from mcr_eval.audit.ridge import ALPHAS

    start = time.perf_counter()
    x_all = features - features.mean(0)
    x_all = x_all / np.sqrt(np.mean((x_all * x_all).sum(1)))
    for name in labels.names:
        index = labels.eligible(name)
        x, y = x_all[index], labels.values[name][index]
        for train, test in KFold(folds, shuffle=True, random_state=seed).split(x):
            sub = x[train][:LANDMARKS]
            d = ((sub[:, None, :] - sub[None, :, :]) ** 2).sum(-1)
            median = float(np.median(d[~np.eye(len(sub), dtype=bool)]))
            best = None
            for factor in GAMMA_FACTORS:
                mapper = Nystroem(gamma=factor / median, n_components=min(LANDMARKS, len(train)), random_state=seed)
                phi = mapper.fit_transform(x[train])
                model = (RidgeCV(alphas=ALPHAS) if labels.is_continuous(name) else
                         RidgeClassifierCV(alphas=ALPHAS)).fit(phi, y[train])
                score = model.best_score_
                if best is None or score > best[0]:
                    best = (score, mapper, model)
            best[2].score(best[1].transform(x[test]), y[test])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--checkpoint", default=None, help="a trained encoder (default: random-init ResNet-18 w16)")
    parser.add_argument("--fresh", action="store_true", help="train the supervised reference (empty cache)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.fresh:
        os.environ["MCR_CACHE"] = tempfile.mkdtemp(prefix="bench-audit-")

    from mcr_eval.audit.factors import destroyed_from_views
    from mcr_eval.audit.runner import AuditedEncoder, SceneAudit, load_audited
    from mcr_eval.audit.scene_inputs import PixelSpaceEncoder
    from mcr_train.models.backbone import build_backbone

    if args.checkpoint:
        encoder = load_audited(args.checkpoint)
    else:
        torch.manual_seed(0)
        meta = {"run": "random-init-w16", "arch": "resnet18", "stem": "cifar", "width": 16}
        model = PixelSpaceEncoder(build_backbone("resnet18", "cifar", 16), [0.5] * 3, [0.25] * 3)
        encoder = AuditedEncoder(meta["run"], model, meta, destroyed_from_views("simclr_cifar"), "simclr_cifar")
    load = os.getloadavg()[0]
    start = time.perf_counter()
    audit = SceneAudit(n=args.n, size=32)
    setup = time.perf_counter() - start
    result = audit.run(encoder)
    total = time.perf_counter() - start
    print(f"audit v2 of {encoder.name} on {args.n} scenes, {args.threads} threads, load before {load:.2f}, "
          f"after {os.getloadavg()[0]:.2f}")
    print("| step | seconds |\n|---|---|")
    for step, seconds in audit.timings.items():
        print(f"| {step} | {seconds:.1f} |")
    print(f"| **shared setup** (once per command) | {setup:.1f} |")
    print(f"| **per encoder** | {total - setup:.1f} |")
    print(f"| **total** | {total:.1f} |")
    ours = audit.timings["encoder: kernel probe"]
    feats = encoder.featurize(audit.pixels)
    peer = sklearn_kernel_probe(feats, audit.labels)
    print(f"\nkernel probe on the encoder's features: ours {ours:.1f} s, scikit-learn Nystroem + RidgeCV "
          f"{peer:.1f} s, ratio {peer / ours:.1f}x")
    print(f"non-shared retention {result.non_shared_retention:.3f}")
    if args.fresh:
        import shutil

        shutil.rmtree(Path(os.environ["MCR_CACHE"]), ignore_errors=True)


if __name__ == "__main__":
    main()
