"""Multinomial logistic regression for the fast linear probe, by L-BFGS with the line search done in logit space.

Objective (scikit-learn's ``LogisticRegression(C=1 / (l2 * n))``, bias not penalized)::

    f(W, b) = mean_i [logsumexp(W x_i + b) - (W x_i + b)_{y_i}] + (l2 / 2) ||W||^2

Every pass over the (n, d) feature matrix is a skinny GEMM, so the solver is built to make as few as possible.
The logits ``A = W X^T + b`` are kept as a (classes, n) matrix. Along a search direction ``D`` the logits move
linearly, ``A + t (D X^T + db)``, so one GEMM gives the direction's logits and every trial step of the line
search (value, slope and curvature of ``f`` along ``D``) costs O(n * classes) and no pass over ``X``. Each
iteration therefore reads ``X`` twice: once for the direction's logits, once for the gradient at the accepted
point. A general-purpose L-BFGS (``torch.optim.LBFGS``, scipy's in scikit-learn) reads it twice per trial step.
The logits are refreshed from ``X`` every ``REFRESH`` iterations and before convergence is declared, so the
stopping test (largest gradient entry below ``tol``, scikit-learn's criterion) is on exact values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

HISTORY = 20  # L-BFGS curvature pairs kept
REFRESH = 10  # iterations between exact recomputations of the accumulated logits
WOLFE_C1, WOLFE_C2 = 1e-4, 0.9  # sufficient decrease and curvature constants of the strong Wolfe conditions
MAX_TRIALS = 25  # line-search trial steps per iteration


@dataclass
class LogisticFit:
    """Result of :func:`fit_multinomial`: weights, convergence state and the work done."""

    weight: torch.Tensor  # (classes, d)
    bias: torch.Tensor  # (classes,)
    loss: float
    max_grad: float
    iterations: int
    feature_passes: int  # GEMMs over the (n, d) feature matrix
    converged: bool
    l2: float = 0.0
    pairs: list[tuple[torch.Tensor, torch.Tensor, float]] = field(default_factory=list, repr=False)  # (s, y, 1/s.y)


def fast_bf16_matmul(device: torch.device) -> bool:
    """Whether bfloat16 GEMMs run on dedicated instructions here (AVX512-BF16 or AMX on CPU); on other CPUs they
    are emulated and slower than float32. CUDA stays in float32: not measured on a GPU yet."""
    if device.type != "cpu":
        return False
    probes = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(probe is not None and probe() for probe in probes)


class _Problem:
    """Loss and gradient of the probe objective for fixed features, with the logits carried between calls.

    With ``bf16_passes`` the passes that only steer the iteration (direction logits, gradients between exact
    checks) read a bfloat16 copy of the features with float32 accumulation, 3-4x faster than float32 on CPUs with
    AVX512-BF16; refreshes and the final convergence test always use the float32 features.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, num_classes: int, l2: float, bf16_passes: bool) -> None:
        self.x, self.l2, self.k = x, l2, num_classes
        self.x_fast = x.to(torch.bfloat16) if bf16_passes and x.dtype == torch.float32 else None
        self.n = x.shape[0]
        self.y_row = y.view(1, -1)
        self.passes = 0

    def exact_only(self) -> None:
        self.x_fast = None

    def logits(self, weight: torch.Tensor, bias: torch.Tensor, exact: bool = True) -> torch.Tensor:
        self.passes += 1
        if exact or self.x_fast is None:
            return torch.addmm(bias.view(1, -1), self.x, weight.t()).t().contiguous()
        return (weight.to(torch.bfloat16) @ self.x_fast.t()).float().add_(bias.view(-1, 1))

    def at(self, logits: torch.Tensor, weight: torch.Tensor) -> tuple[float, torch.Tensor]:
        """(loss, probabilities) at the given (classes, n) logits."""
        top = logits.amax(0, keepdim=True)
        exp = torch.exp(logits - top)
        total = exp.sum(0, keepdim=True)
        nll = (top + total.log() - logits.gather(0, self.y_row)).mean()
        return float(nll) + 0.5 * self.l2 * float(weight.pow(2).sum()), exp.div_(total)

    def gradient(self, probs: torch.Tensor, weight: torch.Tensor,
                 exact: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(dW, db) from the probabilities; ``probs`` is overwritten with the scaled residual."""
        residual = probs.scatter_add_(0, self.y_row, probs.new_full(self.y_row.shape, -1.0)).div_(self.n)
        self.passes += 1
        if exact or self.x_fast is None:
            data_term = residual @ self.x
        else:
            data_term = (residual.to(torch.bfloat16) @ self.x_fast).float()
        return data_term.add_(weight, alpha=self.l2), residual.sum(1)


def _line_search(
    problem: _Problem, logits: torch.Tensor, step_logits: torch.Tensor, weight: torch.Tensor,
    direction: torch.Tensor, loss0: float, slope0: float, t: float,
) -> tuple[float, float, torch.Tensor, torch.Tensor]:
    """Strong-Wolfe step along the direction, found by safeguarded Newton on the slope (the objective is convex
    in ``t``); returns (t, loss, logits, probabilities) at the accepted step."""
    reg_ww, reg_wd, reg_dd = (float(weight.pow(2).sum()), float((weight * direction).sum()),
                              float(direction.pow(2).sum()))
    step_true = step_logits.gather(0, problem.y_row)
    lo, hi = 0.0, float("inf")
    for _ in range(MAX_TRIALS):
        trial = torch.addcmul(logits, step_logits, step_logits.new_tensor(t))
        top = trial.amax(0, keepdim=True)
        probs = torch.exp(trial - top)
        total = probs.sum(0, keepdim=True)
        probs.div_(total)
        nll = float((top + total.log() - trial.gather(0, problem.y_row)).mean())
        loss = nll + 0.5 * problem.l2 * (reg_ww + 2 * t * reg_wd + t * t * reg_dd)
        mean_step = (probs * step_logits).sum(0)
        slope = float((mean_step - step_true[0]).mean()) + problem.l2 * (reg_wd + t * reg_dd)
        if loss <= loss0 + WOLFE_C1 * t * slope0 and abs(slope) <= WOLFE_C2 * abs(slope0):
            return t, loss, trial, probs
        if slope < 0 and loss <= loss0 + WOLFE_C1 * t * slope0:
            lo = t
        else:
            hi = t
        curvature = float(((probs * step_logits.square()).sum(0) - mean_step.square()).mean()) + problem.l2 * reg_dd
        newton = t - slope / curvature if curvature > 0 else float("nan")
        if hi == float("inf"):
            t = newton if newton == newton and newton > t else 2.0 * t
        else:
            t = newton if lo < newton < hi else 0.5 * (lo + hi)
    # No Wolfe point within the budget (flat or noisy objective): fall back to the best sufficient-decrease step.
    trial = torch.addcmul(logits, step_logits, step_logits.new_tensor(lo))
    loss, probs = problem.at(trial, weight + lo * direction)
    return lo, loss, trial, probs


def fit_multinomial(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    l2: float,
    max_iter: int = 500,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    tol: float = 1e-4,
    bf16_passes: bool | None = None,
    previous: LogisticFit | None = None,
) -> LogisticFit:
    """Minimize the probe objective from zero (or ``init``); stop when the largest gradient entry is below ``tol``.

    L-BFGS two-loop recursion (Nocedal & Wright, 2006, Alg. 7.4) with ``HISTORY`` pairs; pairs without positive
    curvature are skipped. ``bf16_passes`` (default: where :func:`fast_bf16_matmul`) steers the iteration with
    bfloat16 passes; if the exact convergence test then fails, the rest of the solve runs in float32.

    ``previous`` (a fit at another ``l2``, e.g. the last point of a regularization path) is the start, and its
    curvature pairs seed this solve's. The data term's Hessian does not depend on ``l2``, so a pair ``(s, y)``
    stays a pair of this objective after ``y += (l2 - previous.l2) s`` on the weight block. On other features
    from the same distribution (the refit on all of train) the pairs are an approximation, which L-BFGS
    tolerates: they only shape the search direction, and the line search and the stopping test are exact.
    """
    if bf16_passes is None:
        bf16_passes = fast_bf16_matmul(x.device)
    problem = _Problem(x, y.to(x.device, torch.int64), num_classes, l2, bf16_passes)
    weight = x.new_zeros(num_classes, x.shape[1])
    bias = x.new_zeros(num_classes)
    pairs: list[tuple[torch.Tensor, torch.Tensor, float]] = []
    if previous is not None:
        init = (previous.weight, previous.bias)
        pairs = _shifted_pairs(previous.pairs, l2 - previous.l2, weight.numel())
    if init is not None:
        weight.copy_(init[0])
        bias.copy_(init[1])
    # A warm start may already be converged, so its first gradient is exact and can end the solve at once;
    # a cold start (W = 0, every logit is the bias: no pass) gets a fast one.
    warm = init is not None
    logits = problem.logits(weight, bias) if warm else bias.view(-1, 1).expand(-1, problem.n).contiguous()
    loss, probs = problem.at(logits, weight)
    grad_w, grad_b = problem.gradient(probs, weight, exact=warm)
    exact_state = warm or problem.x_fast is None
    iteration, converged = 0, False
    while True:
        grad = torch.cat([grad_w.flatten(), grad_b])
        max_grad = float(grad.abs().max())
        if max_grad <= tol and not exact_state:
            # Logits updated in place and fast passes steered the way here; the stopping test itself is exact.
            logits = problem.logits(weight, bias)
            loss, probs = problem.at(logits, weight)
            grad_w, grad_b = problem.gradient(probs, weight)
            grad = torch.cat([grad_w.flatten(), grad_b])
            max_grad = float(grad.abs().max())
            exact_state = True
            if max_grad > tol:
                problem.exact_only()  # the fast passes cannot resolve the gradient any finer
        if max_grad <= tol:
            converged = True
            break
        if iteration >= max_iter:
            break
        direction = _two_loop(grad, pairs)
        slope0 = float(grad @ direction)
        if slope0 >= 0:  # not a descent direction (stale curvature pairs): restart from the gradient
            pairs.clear()
            direction, slope0 = -grad, -float(grad @ grad)
        d_w, d_b = direction[:-num_classes].view_as(weight), direction[-num_classes:]
        step_logits = problem.logits(d_w, d_b, exact=False)
        first = 1.0 if pairs else min(1.0, 1.0 / float(grad.abs().sum()))
        t, new_loss, logits, probs = _line_search(problem, logits, step_logits, weight, d_w, loss, slope0, first)
        weight.add_(d_w, alpha=t)
        bias.add_(d_b, alpha=t)
        iteration += 1
        if iteration % REFRESH == 0:
            logits = problem.logits(weight, bias)
            new_loss, probs = problem.at(logits, weight)
        grad_w, grad_b = problem.gradient(probs, weight, exact=False)
        exact_state = problem.x_fast is None and iteration % REFRESH == 0
        new_grad = torch.cat([grad_w.flatten(), grad_b])
        s_vec, y_vec = direction * t, new_grad - grad
        curvature = float(s_vec @ y_vec)
        if curvature > 1e-10:
            pairs.append((s_vec, y_vec, 1.0 / curvature))
            del pairs[:-HISTORY]
        if abs(new_loss - loss) < 1e-12 * max(1.0, abs(loss)) and t * float(direction.abs().max()) < 1e-12:
            loss = new_loss
            break
        loss = new_loss
    return LogisticFit(weight, bias, loss, max_grad, iteration, problem.passes, converged, l2, pairs)


def _two_loop(grad: torch.Tensor, pairs: list[tuple[torch.Tensor, torch.Tensor, float]]) -> torch.Tensor:
    """The L-BFGS direction ``-H grad`` from the curvature pairs (Nocedal & Wright, 2006, Alg. 7.4)."""
    direction = -grad
    alphas = []
    for s, y, rho in reversed(pairs):
        alpha = rho * float(s @ direction)
        direction.add_(y, alpha=-alpha)
        alphas.append(alpha)
    if pairs:
        s, y, _ = pairs[-1]
        direction.mul_(float(s @ y) / float(y @ y))
    for (s, y, rho), alpha in zip(pairs, reversed(alphas)):
        beta = rho * float(y @ direction)
        direction.add_(s, alpha=alpha - beta)
    return direction


def _shifted_pairs(pairs: list[tuple[torch.Tensor, torch.Tensor, float]], delta_l2: float,
                   n_weights: int) -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """Curvature pairs of the objective at ``l2`` from pairs measured at ``l2 - delta_l2``."""
    shifted = []
    for s, y, _ in pairs:
        y = y.clone()
        y[:n_weights].add_(s[:n_weights], alpha=delta_l2)
        curvature = float(s @ y)
        if curvature > 1e-10:
            shifted.append((s, y, 1.0 / curvature))
    return shifted
