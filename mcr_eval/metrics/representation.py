"""Representation metrics on a feature matrix ``Z`` (n samples x d dims).

* :func:`rankme` -- RankMe (Garrido et al., ICML 2023): ``exp(-sum_k p_k log p_k)`` with
  ``p_k = s_k / ||s||_1 + eps`` over the singular values ``s`` of ``Z`` (not centered), ``eps = 1e-7``.
* :func:`effective_rank` -- effective rank (Roy & Vetterli, 2007) of the *centered* features: the same
  entropy formula on the singular values of ``Z - mean(Z)``, so it measures the spread around the mean.
* :func:`alignment` / :func:`uniformity` -- Wang & Isola (ICML 2020) on l2-normalized features:
  ``E ||f(x) - f(y)||^alpha`` over positive pairs (alpha = 2) and ``log E exp(-t ||f(x) - f(y)||^2)``
  over all distinct pairs (t = 2).
* :func:`mec_coding_length` -- the coding length of Maximum Entropy Coding (Liu et al., NeurIPS 2022):
  ``mu * logdet(I_n + lam Z Z^T)`` on l2-normalized rows, ``mu = (n + d) / 2``, ``lam = d / (n eps^2)``,
  computed exactly (``slogdet``), ``eps^2 = 64`` by default, the suite's L_comp setting (docs/mcr.md).
* :func:`linear_cka` -- linear CKA (Kornblith et al., ICML 2019):
  ``||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` for column-centered ``X``, ``Y`` with matched rows.

All inputs are tensors; computation is in float64 for stable spectra. Where a metric has no value on
degenerate features it raises :class:`UndefinedMetric` saying why, instead of returning NaN or failing in
LAPACK: every feature zero (RankMe: no spectrum), every sample the same vector (effective rank, CKA: no
spread around the mean), all-zero rows (alignment, uniformity, MEC: no direction to l2-normalize), fewer than
two samples (uniformity: no pair).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

#: Spread or scale below this fraction of the features' own scale is float rounding, not signal.
RELATIVE_TOL = 1e-9


class UndefinedMetric(ValueError):
    """The metric has no value on these features; the message says why."""


def _negligible(part: torch.Tensor, whole: torch.Tensor) -> bool:
    return float(part.norm()) <= RELATIVE_TOL * float(whole.norm())


def _require_directions(z: torch.Tensor, name: str) -> None:
    norms = z.norm(dim=1)
    scale = float(norms.max()) if norms.numel() else 0.0
    zero = int((norms <= RELATIVE_TOL * scale).sum()) if scale > 0 else z.shape[0]
    if zero:
        raise UndefinedMetric(f"{name} is undefined: {zero} of {z.shape[0]} samples have all-zero features (no "
                              "direction to l2-normalize)")


def _singular_values(z: torch.Tensor) -> torch.Tensor:
    try:
        return torch.linalg.svdvals(z)
    except torch.linalg.LinAlgError:
        # The divide-and-conquer SVD can fail to converge on ill-conditioned input; the eigenvalues of the
        # smaller Gram matrix are the squared singular values and their solver does not.
        gram = z.T @ z if z.shape[0] >= z.shape[1] else z @ z.T
        return torch.linalg.eigvalsh(gram).clamp_min(0).sqrt().flip(0)


def _spectral_entropy_rank(singular_values: torch.Tensor, eps: float) -> float:
    p = singular_values / singular_values.sum() + eps
    return float(torch.exp(-(p * p.log()).sum()))


def rankme(features: torch.Tensor, eps: float = 1e-7) -> float:
    """RankMe of the (uncentered) feature matrix."""
    z = features.double()
    if z.numel() == 0 or float(z.abs().max()) == 0.0:
        raise UndefinedMetric("rankme is undefined: every feature is zero (no spectrum)")
    return _spectral_entropy_rank(_singular_values(z), eps)


def effective_rank(features: torch.Tensor, eps: float = 1e-12) -> float:
    """Roy & Vetterli's effective rank of the centered feature matrix."""
    z = features.double()
    centered = z - z.mean(0, keepdim=True)
    if z.shape[0] < 2 or _negligible(centered, z):
        raise UndefinedMetric("effective_rank is undefined: every sample has the same feature vector (no spread "
                              "around the mean)")
    return _spectral_entropy_rank(_singular_values(centered), eps)


def alignment(view1: torch.Tensor, view2: torch.Tensor, alpha: float = 2.0) -> float:
    """Mean ``||f(x) - f(y)||^alpha`` over positive pairs (row i of each view), features l2-normalized."""
    for view in (view1, view2):
        _require_directions(view.double(), "alignment")
    a, b = F.normalize(view1.double(), dim=1), F.normalize(view2.double(), dim=1)
    return float((a - b).norm(dim=1).pow(alpha).mean())


def uniformity(features: torch.Tensor, t: float = 2.0, max_samples: int | None = None, seed: int = 0) -> float:
    """``log`` of the mean Gaussian potential ``exp(-t ||f(x) - f(y)||^2)`` over all distinct pairs.

    With ``max_samples`` a seeded random subset of rows is used (all pairs grow as n^2).
    """
    if features.shape[0] < 2:
        raise UndefinedMetric("uniformity is undefined: it needs at least two samples (one pair)")
    if max_samples is not None and features.shape[0] > max_samples:
        rows = torch.randperm(features.shape[0], generator=torch.Generator().manual_seed(seed))[:max_samples]
        features = features[rows]
    _require_directions(features.double(), "uniformity")
    z = F.normalize(features.double(), dim=1)
    return float(torch.pdist(z).pow(2).mul(-t).exp().mean().log())


def mec_coding_length(features: torch.Tensor, eps_sq: float = 64.0) -> float:
    """MEC coding length ``mu logdet(I + lam Z Z^T)`` of l2-normalized rows (nats)."""
    _require_directions(features.double(), "mec_coding_length")
    z = F.normalize(features.double(), dim=1)
    n, d = z.shape
    lam = d / (n * eps_sq)
    mu = (n + d) / 2.0
    # logdet(I_n + lam Z Z^T) = logdet(I_d + lam Z^T Z): use the smaller Gram matrix.
    gram = z @ z.T if n <= d else z.T @ z
    sign, logdet = torch.linalg.slogdet(torch.eye(gram.shape[0], dtype=gram.dtype) + lam * gram)
    return float(mu * logdet)


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA between two representations of the same n examples."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA needs the same examples in both: {x.shape[0]} vs {y.shape[0]} rows")
    a = x.double() - x.double().mean(0, keepdim=True)
    b = y.double() - y.double().mean(0, keepdim=True)
    for side, centered, raw in (("first", a, x), ("second", b, y)):
        if _negligible(centered, raw.double()):
            raise UndefinedMetric(f"linear_cka is undefined: every sample has the same feature vector in the {side} "
                                  "encoder (no spread to compare)")
    cross = (b.T @ a).norm() ** 2
    return float(cross / ((a.T @ a).norm() * (b.T @ b).norm()))


def defined_metrics(metrics: dict[str, Callable[[], float]], undefined: dict[str, str]) -> dict[str, float]:
    """``name -> value`` of each metric that is defined; the reasons of the others go into ``undefined``."""
    values = {}
    for name, compute in metrics.items():
        try:
            values[name] = compute()
        except UndefinedMetric as exc:
            undefined[name] = str(exc)
    return values


def representation_summary(features: torch.Tensor, undefined: dict[str, str] | None = None) -> dict[str, float]:
    """Metrics that need one feature matrix (alignment and CKA need pairs). Undefined ones are left out, with
    their reasons in ``undefined`` when given."""
    return defined_metrics(
        {
            "rankme": lambda: rankme(features),
            "effective_rank": lambda: effective_rank(features),
            "uniformity": lambda: uniformity(features, max_samples=4096),
            "mec_coding_length": lambda: mec_coding_length(features),
        },
        {} if undefined is None else undefined,
    )
