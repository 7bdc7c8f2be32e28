"""kNN benchmark: mcr_eval's chunked weighted kNN vs scikit-learn and vs a bare matmul + top-k.

Features: a 10-class Gaussian mixture in 512 dims (class means on the sphere plus isotropic noise), so
neighbours are meaningful and ties are absent. Reported: wall time of each, the speed-up over
scikit-learn ``KNeighborsClassifier(algorithm='brute', metric='cosine')`` with exp(s/T) weights, the
ratio to a bare ``normalize -> matmul -> topk`` pass over the same chunks, and how many predictions differ.

    python benchmarks/bench_eval_knn.py --n-train 50000 --n-test 10000 --dim 512 --k 200 --temperature 0.1
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F


def mixture(n: int, dim: int, classes: int, seed: int, means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(classes, (n,), generator=gen)
    return means[labels] + 0.4 * torch.randn(n, dim, generator=gen), labels


def bare_matmul_topk(train: torch.Tensor, test: torch.Tensor, k: int, rows: int) -> None:
    train = F.normalize(train, dim=1)
    for start in range(0, test.shape[0], rows):
        (F.normalize(test[start : start + rows], dim=1) @ train.T).topk(k, dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-train", type=int, default=50000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--k", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--skip-sklearn", action="store_true")
    args = parser.parse_args()

    from mcr_eval.probes.knn import _chunk_rows, knn_scores, ranked_classes

    means = F.normalize(torch.randn(args.classes, args.dim, generator=torch.Generator().manual_seed(0)), dim=1)
    train_x, train_y = mixture(args.n_train, args.dim, args.classes, 1, means)
    test_x, test_y = mixture(args.n_test, args.dim, args.classes, 2, means)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = _chunk_rows(args.n_train, 1 << 30)

    def timed(fn):
        best, out = float("inf"), None
        for _ in range(2):  # best of two, after a warm-up, so first-touch allocation is not counted
            start = time.perf_counter()
            out = fn()
            if device == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        return best, out

    knn_scores(train_x[:1000], train_y[:1000], test_x[:100], args.k, args.temperature, args.classes, device)
    ours_s, scores = timed(lambda: knn_scores(train_x, train_y, test_x, args.k, args.temperature, args.classes, device))
    ours = ranked_classes(scores, 1)[:, 0].numpy()
    bare_s, _ = timed(lambda: bare_matmul_topk(train_x.to(device), test_x.to(device), args.k, rows))

    result = {
        "n_train": args.n_train,
        "n_test": args.n_test,
        "dim": args.dim,
        "k": args.k,
        "T": args.temperature,
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "ours_s": round(ours_s, 3),
        "bare_matmul_topk_s": round(bare_s, 3),
        "ours_over_bare": round(ours_s / bare_s, 3),
        "top1": float((ours == test_y.numpy()).mean()),
    }
    if not args.skip_sklearn:
        from sklearn.neighbors import KNeighborsClassifier

        temperature = args.temperature
        clf = KNeighborsClassifier(
            n_neighbors=args.k, algorithm="brute", metric="cosine", weights=lambda d: np.exp((1.0 - d) / temperature)
        )
        start = time.perf_counter()
        clf.fit(train_x.numpy(), train_y.numpy())
        reference = clf.predict(test_x.numpy())
        sk_s = time.perf_counter() - start
        result.update(
            sklearn_s=round(sk_s, 3),
            speedup_vs_sklearn=round(sk_s / ours_s, 2),
            predictions_differing=int((reference != ours).sum()),
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
