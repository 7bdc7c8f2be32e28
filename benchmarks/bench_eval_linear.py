"""Fast linear probe benchmark: mcr_eval's L-BFGS multinomial logistic regression (torch) vs scikit-learn
``LogisticRegression(solver='lbfgs')`` on the same standardized features and the same L2 strength.

Features: a 10-class Gaussian mixture (overlapping classes, so the problem is not separable). Both sides are
warmed up first (imports and first-call set-up are not timed), then single fits at the same C (= 1 / (l2 n))
alternate for ``--rounds`` rounds; medians are reported. A third peer runs in the same rounds: a general-purpose
``torch.optim.LBFGS`` on the same objective (the probe's solver before the logit-space line search).

The whole probe protocol is timed too: our ``fast_linear_probe`` (L2 grid on a stratified held-out 20%,
strong to weak with warm starts, refit on all of train) against the same protocol written with scikit-learn
(same split, grid, warm starts and refit).

    python benchmarks/bench_eval_linear.py --n-train 50000 --n-test 10000 --dim 512 --l2 1e-4
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F


def mixture(n: int, dim: int, classes: int, seed: int, means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(classes, (n,), generator=gen)
    return means[labels] + torch.randn(n, dim, generator=gen), labels


def generic_lbfgs(x: torch.Tensor, y: torch.Tensor, classes: int, l2: float, tol: float = 1e-4) -> int:
    """The same objective through ``torch.optim.LBFGS`` (strong Wolfe, autograd closure): a general-purpose
    L-BFGS that passes over the features for every trial step. Returns the number of evaluations."""
    weight = torch.zeros(classes, x.shape[1], device=x.device, requires_grad=True)
    bias = torch.zeros(classes, device=x.device, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=500, history_size=20, tolerance_grad=tol,
                                  tolerance_change=1e-12, line_search_fn="strong_wolfe")
    evaluations = 0

    def closure() -> torch.Tensor:
        nonlocal evaluations
        evaluations += 1
        optimizer.zero_grad()
        loss = F.cross_entropy(F.linear(x, weight, bias), y) + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return evaluations


def sklearn_probe(train_z: np.ndarray, train_y: np.ndarray, test_z: np.ndarray, test_y: np.ndarray,
                  grid: list[float], fit_idx: np.ndarray, val_idx: np.ndarray) -> tuple[float, float]:
    """The fast probe's protocol with scikit-learn: (test top-1, chosen l2)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(solver="lbfgs", max_iter=1000, warm_start=True)
    best = (-1.0, grid[0], None)
    for l2 in sorted(grid, reverse=True):
        clf.set_params(C=1.0 / (l2 * len(fit_idx)))
        clf.fit(train_z[fit_idx], train_y[fit_idx])
        acc = float(clf.score(train_z[val_idx], train_y[val_idx]))
        if acc > best[0]:
            best = (acc, l2, (clf.coef_.copy(), clf.intercept_.copy()))
    final = LogisticRegression(solver="lbfgs", max_iter=1000, warm_start=True, C=1.0 / (best[1] * len(train_y)))
    final.coef_, final.intercept_ = best[2]
    final.fit(train_z, train_y)
    return float(final.score(test_z, test_y)), best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-train", type=int, default=50000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-grid", action="store_true")
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression

    from mcr_eval.probes.linear import (
        L2_GRID,
        accuracy_topk,
        fast_linear_probe,
        standardize,
        stratified_split,
    )
    from mcr_eval.probes.logistic import LogisticFit, fit_multinomial

    gen = torch.Generator().manual_seed(0)
    means = 0.12 * torch.randn(args.classes, args.dim, generator=gen)
    train_x, train_y = mixture(args.n_train, args.dim, args.classes, 1, means)
    test_x, test_y = mixture(args.n_test, args.dim, args.classes, 2, means)
    train_z, test_z = standardize(train_x, test_x)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x_np, y_np = train_z.numpy(), train_y.numpy()
    C = 1.0 / (args.l2 * args.n_train)

    x_dev, y_dev = train_z.to(device), train_y.to(device)

    def ours() -> LogisticFit:
        out = fit_multinomial(x_dev, y_dev, args.classes, args.l2)
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    fit_multinomial(train_z[:1000], train_y[:1000], args.classes, args.l2)  # warm-ups
    generic_lbfgs(train_z[:1000], train_y[:1000], args.classes, args.l2)
    LogisticRegression(C=C, solver="lbfgs", max_iter=1000).fit(x_np[:1000], y_np[:1000])
    ours_times, generic_times, sk_times = [], [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        fit = ours()
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        generic_evals = generic_lbfgs(x_dev, y_dev, args.classes, args.l2)
        generic_times.append(time.perf_counter() - start)
        clf = LogisticRegression(C=C, solver="lbfgs", max_iter=1000)
        start = time.perf_counter()
        clf.fit(x_np, y_np)
        sk_times.append(time.perf_counter() - start)
    ours_acc = accuracy_topk(F.linear(test_z.to(device), fit.weight, fit.bias).cpu(), test_y, 1)
    sk_acc = float(clf.score(test_z.numpy(), test_y.numpy()))
    ours_s, sk_s = statistics.median(ours_times), statistics.median(sk_times)

    result = {
        "n_train": args.n_train,
        "n_test": args.n_test,
        "dim": args.dim,
        "l2": args.l2,
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "rounds": args.rounds,
        "ours_fit_s": [round(t, 3) for t in ours_times],
        "generic_lbfgs_fit_s": [round(t, 3) for t in generic_times],
        "sklearn_fit_s": [round(t, 3) for t in sk_times],
        "time_ratio_ours_over_sklearn": round(ours_s / sk_s, 3),
        "time_ratio_generic_lbfgs_over_sklearn": round(statistics.median(generic_times) / sk_s, 3),
        "generic_lbfgs_evaluations": generic_evals,
        "ours_top1": round(ours_acc, 4),
        "sklearn_top1": round(sk_acc, 4),
        "accuracy_gap_points": round(100 * abs(ours_acc - sk_acc), 3),
        "sklearn_iterations": int(clf.n_iter_[0]),
        "ours_iterations": fit.iterations,
        "ours_feature_passes": fit.feature_passes,
    }
    if not args.skip_grid:
        start = time.perf_counter()
        full = fast_linear_probe(train_x, train_y, test_x, test_y, args.classes, device=device)
        ours_probe_s = time.perf_counter() - start
        fit_idx, val_idx = stratified_split(y_np, 0.2, 0)
        start = time.perf_counter()
        sk_probe_acc, sk_l2 = sklearn_probe(x_np, y_np, test_z.numpy(), test_y.numpy(), list(L2_GRID), fit_idx,
                                            val_idx)
        sk_probe_s = time.perf_counter() - start
        result.update(
            probe_ours_s=round(ours_probe_s, 3), probe_sklearn_s=round(sk_probe_s, 3),
            probe_time_ratio=round(ours_probe_s / sk_probe_s, 3), probe_ours_top1=full["top1"],
            probe_sklearn_top1=round(sk_probe_acc, 4), probe_ours_l2=full["l2"], probe_sklearn_l2=sk_l2,
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
