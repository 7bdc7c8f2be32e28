"""Fast linear probe benchmark: mcr_eval's L-BFGS multinomial logistic regression (torch) vs scikit-learn
``LogisticRegression(solver='lbfgs')`` on the same standardized features and the same L2 strength.

Features: a 10-class Gaussian mixture (overlapping classes, so the problem is not separable). Reported:
single-fit wall time of each at the same C (= 1 / (l2 n)), both test accuracies, and the time of the full
fast probe (L2 grid on a held-out 20% + refit).

    python benchmarks/bench_eval_linear.py --n-train 50000 --n-test 10000 --dim 512 --l2 1e-4
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
import torch.nn.functional as F


def mixture(n: int, dim: int, classes: int, seed: int, means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(classes, (n,), generator=gen)
    return means[labels] + torch.randn(n, dim, generator=gen), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-train", type=int, default=50000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--skip-grid", action="store_true")
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression

    from mcr_eval.probes.linear import accuracy_topk, fast_linear_probe, fit_logistic, standardize

    gen = torch.Generator().manual_seed(0)
    means = 0.12 * torch.randn(args.classes, args.dim, generator=gen)
    train_x, train_y = mixture(args.n_train, args.dim, args.classes, 1, means)
    test_x, test_y = mixture(args.n_test, args.dim, args.classes, 2, means)
    train_z, test_z = standardize(train_x, test_x)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    start = time.perf_counter()
    weight, bias = fit_logistic(train_z.to(device), train_y.to(device), args.classes, args.l2)
    if device == "cuda":
        torch.cuda.synchronize()
    ours_s = time.perf_counter() - start
    ours_acc = accuracy_topk(F.linear(test_z.to(device), weight, bias).cpu(), test_y, 1)

    clf = LogisticRegression(C=1.0 / (args.l2 * args.n_train), solver="lbfgs", max_iter=1000)
    start = time.perf_counter()
    clf.fit(train_z.numpy(), train_y.numpy())
    sk_s = time.perf_counter() - start
    sk_acc = float(clf.score(test_z.numpy(), test_y.numpy()))

    result = {
        "n_train": args.n_train,
        "n_test": args.n_test,
        "dim": args.dim,
        "l2": args.l2,
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "ours_fit_s": round(ours_s, 3),
        "sklearn_fit_s": round(sk_s, 3),
        "time_ratio_ours_over_sklearn": round(ours_s / sk_s, 3),
        "ours_top1": round(ours_acc, 4),
        "sklearn_top1": round(sk_acc, 4),
        "accuracy_gap_points": round(100 * abs(ours_acc - sk_acc), 3),
        "sklearn_iterations": int(clf.n_iter_[0]),
    }
    if not args.skip_grid:
        start = time.perf_counter()
        full = fast_linear_probe(train_x, train_y, test_x, test_y, args.classes, device=device)
        result.update(
            full_probe_with_grid_s=round(time.perf_counter() - start, 3),
            full_probe_top1=full["top1"],
            full_probe_l2=full["l2"],
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
