"""Fast linear probe on features of trained encoders: ours against the same protocol written with scikit-learn.

The synthetic benchmark (``bench_eval_linear.py``) has isotropic features; trained encoders give strongly
correlated, nearly separable ones, where plain L-BFGS (ours before preconditioning, and scikit-learn's) needs
hundreds of iterations at weak ``l2``. This script reads every (train, test) pair of a feature cache written by
``mcr-eval`` (``--cache-dir``; a study keeps its cache in ``reports/<study>/cache``), runs the whole fast-probe
protocol on both sides (L2 grid on a stratified held-out 20%, strong to weak with warm starts, refit on all of
train), and reports times, accuracies, chosen ``l2`` and whether each refit converged.

    python benchmarks/bench_eval_linear_cached.py reports/scenes-full/cache
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from bench_eval_linear import sklearn_probe
from safetensors import safe_open
from safetensors.torch import load_file


def feature_pairs(cache: Path) -> list[tuple[str, Path, Path]]:
    """(checkpoint hash, train file, test file) for every encoder with both splits cached."""
    splits: dict[str, dict[str, Path]] = {}
    for path in sorted(cache.glob("*.safetensors")):
        with safe_open(str(path), "pt") as handle:
            parts = json.loads(handle.metadata()["parts"])
        key = json.dumps({k: v for k, v in parts.items() if k != "split"}, sort_keys=True)
        splits.setdefault(key, {"sha": parts.get("checkpoint_sha256", "?")[:8]})[parts.get("split")] = path
    return [(s["sha"], s["train"], s["test"]) for s in splits.values() if "train" in s and "test" in s]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path)
    args = parser.parse_args()

    from sklearn.exceptions import ConvergenceWarning

    from mcr_eval.probes.linear import L2_GRID, fast_linear_probe, standardize, stratified_split

    rows = []
    for sha, train_path, test_path in feature_pairs(args.cache):
        train, test = load_file(str(train_path)), load_file(str(test_path))
        start = time.perf_counter()
        ours = fast_linear_probe(train["features"], train["labels"], test["features"], test["labels"], device="cpu")
        ours_s = time.perf_counter() - start
        train_z, test_z = standardize(train["features"].float(), test["features"].float())
        fit_idx, val_idx = stratified_split(train["labels"].numpy(), 0.2, 0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            start = time.perf_counter()
            sk_acc, sk_l2 = sklearn_probe(train_z.numpy(), train["labels"].numpy(), test_z.numpy(),
                                          test["labels"].numpy(), list(L2_GRID), fit_idx, val_idx)
            sk_s = time.perf_counter() - start
        rows.append({
            "encoder": sha, "n_train": len(train["labels"]), "dim": int(train["features"].shape[1]),
            "ours_s": round(ours_s, 3), "sklearn_s": round(sk_s, 3), "ratio": round(ours_s / sk_s, 3),
            "ours_top1": round(ours["top1"], 4), "sklearn_top1": round(sk_acc, 4),
            "ours_l2": ours["l2"], "sklearn_l2": sk_l2, "ours_refit_iterations": ours["iterations"],
            "ours_refit_converged": ours["converged"],
            "sklearn_convergence_warnings": sum(issubclass(w.category, ConvergenceWarning) for w in caught),
        })
        print(json.dumps(rows[-1]), flush=True)
    if rows:
        ratios = sorted(r["ratio"] for r in rows)
        gaps = [abs(r["ours_top1"] - r["sklearn_top1"]) * 100 for r in rows]
        print(json.dumps({"encoders": len(rows), "median_ratio": ratios[len(ratios) // 2],
                          "max_gap_points": round(max(gaps), 2)}))


if __name__ == "__main__":
    main()
