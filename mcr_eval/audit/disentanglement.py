"""Disentanglement metrics from ground-truth factors: DCI, MIG and SAP.

Inputs are ``codes`` of shape (n, d) (features of an encoder, or any representation) and ``factors`` of
shape (n, k) (ground-truth generative factors, one column per factor). The definitions follow the
reference implementations of Locatello et al. (ICML 2019, ``disentanglement_lib``) and of the ``disent``
package, which the tests use as an oracle:

* **DCI** (Eastwood & Williams, ICLR 2018, "A framework for the quantitative evaluation of disentangled
  representations"). An importance matrix ``R`` (d x k) holds how much code dimension i matters for
  predicting factor j. Disentanglement weights ``D_i = 1 - H_k(P_i.)`` (entropy in base k of row i of ``R``
  normalized to a distribution) by the relative importance of code i, ``rho_i = sum_j R_ij / sum R``.
  Completeness weights ``C_j = 1 - H_d(P_.j)`` (entropy in base d of column j) by the relative importance
  of factor j. Informativeness is the mean prediction score of the regressors that gave ``R``.
* **MIG** (Chen et al., NeurIPS 2018, "Isolating sources of disentanglement in VAEs"). Each code
  dimension is discretized into equal-width histogram bins (20 by default, as in ``disentanglement_lib``),
  the discrete mutual information ``I(v_i; z_j)`` between every code and factor is computed, and the gap
  between the two most informative codes of a factor is divided by the factor's entropy ``H(v_j)``.
* **SAP** (Kumar et al., ICLR 2018, "Variational inference of disentangled latent concepts from unlabeled
  observations", section 3). A score matrix (d x k) from one-dimensional predictors, then the mean over
  factors of the gap between the two best code dimensions.

Factor kinds: a column is ``discrete`` when all its values are integers (class indices or integer-coded
values) and ``continuous`` otherwise, unless ``factor_kinds`` says so explicitly. Metrics that need classes
(the DCI boosted trees, MIG's entropies) discretize continuous factors into the same equal-width histogram
bins as codes. ``disentanglement_lib`` assumes discrete factors throughout; on them our numbers are the same.

Train/test split: these metrics in ``disentanglement_lib`` draw independent training (10,000) and test
(5,000) samples from the generator. Here the samples are given, so DCI and SAP hold out a seeded random
``test_fraction`` of them (1/3 by default, the same 2:1 ratio), or use an explicit test set passed as
``codes_test`` and ``factors_test``. MIG uses all samples, as in the reference.

How to call::

    from mcr_eval.audit.disentanglement import dci, mig, sap
    scores = dci(features, factor_table)          # DCIResult(disentanglement=..., completeness=..., ...)
    gap = mig(features, factor_table).score
    sep = sap(features, factor_table).score
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mcr_train.errors import ConfigError, DataError

DEFAULT_BINS = 20
DEFAULT_TEST_FRACTION = 1.0 / 3.0
DEFAULT_LASSO_ALPHA = 0.02
#: ``GradientBoostingClassifier`` settings of ``disentanglement_lib``: scikit-learn's defaults.
GBT_PARAMS: dict = {"n_estimators": 100, "learning_rate": 0.1, "max_depth": 3}
#: ``LinearSVC`` settings of SAP for discrete factors in ``disentanglement_lib``.
SAP_SVC_PARAMS: dict = {"C": 0.01, "class_weight": "balanced"}
KINDS = ("discrete", "continuous")


# ----------------------------------------------------------------------------- inputs


def _as_2d(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] < 2 or array.shape[1] < 1:
        raise DataError(f"{name} must be a 2-D array (samples, dims) with at least 2 samples; got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise DataError(f"{name} holds NaN or infinite values; drop those samples first")
    return array


def _check_pair(codes: np.ndarray, factors: np.ndarray, what: str = "") -> tuple[np.ndarray, np.ndarray]:
    codes, factors = _as_2d(codes, f"codes{what}"), _as_2d(factors, f"factors{what}")
    if len(codes) != len(factors):
        raise DataError(f"codes{what} has {len(codes)} samples but factors{what} has {len(factors)}; "
                        "pass one factor row per code row")
    return codes.astype(np.float64), factors


def infer_kinds(factors: np.ndarray, factor_kinds: Sequence[str] | None = None) -> list[str]:
    """``discrete`` for integer-valued columns, ``continuous`` otherwise, unless ``factor_kinds`` is given."""
    factors = np.asarray(factors)
    if factor_kinds is not None:
        kinds = list(factor_kinds)
        if len(kinds) != factors.shape[1] or any(k not in KINDS for k in kinds):
            raise ConfigError(f"factor_kinds must list one of {KINDS} per factor column ({factors.shape[1]}), "
                              f"got {kinds}")
        return kinds
    return ["discrete" if np.all(np.equal(np.mod(col, 1), 0)) else "continuous" for col in factors.T]


def histogram_bins(values: np.ndarray, num_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Equal-width bin index (0..num_bins-1) of each value over the range of ``values`` (one column).

    Bin edges are those of ``numpy.histogram(values, num_bins)``; the maximum falls into the last bin.
    A constant column lands in a single bin.
    """
    values = np.asarray(values, dtype=np.float64)
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(len(values), dtype=np.int64)
    edges = np.linspace(lo, hi, num_bins + 1)
    # searchsorted on the inner edges: value v goes to bin i when edges[i] <= v < edges[i+1].
    return np.searchsorted(edges[1:-1], values, side="right").astype(np.int64)


def factor_classes(factors: np.ndarray, kinds: Sequence[str], num_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Integer classes of every factor: discrete values re-indexed, continuous ones histogram-binned."""
    out = np.empty(factors.shape, dtype=np.int64)
    for j, kind in enumerate(kinds):
        if kind == "discrete":
            out[:, j] = np.unique(factors[:, j], return_inverse=True)[1].ravel()
        else:
            out[:, j] = histogram_bins(factors[:, j], num_bins)
    return out


def split_indices(n: int, test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random (train, test) index split with ``round(n * test_fraction)`` test samples."""
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    n_test = int(round(n * test_fraction))
    if n_test < 1 or n - n_test < 2:
        raise DataError(f"{n} samples are too few for a train/test split with test_fraction={test_fraction}; "
                        "pass more samples")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _train_test(codes, factors, codes_test, factors_test, test_fraction, seed):
    codes, factors = _check_pair(codes, factors)
    if (codes_test is None) != (factors_test is None):
        raise ConfigError("pass both codes_test and factors_test, or neither (then a random split is held out)")
    if codes_test is None:
        train, test = split_indices(len(codes), test_fraction, seed)
        return codes[train], factors[train], codes[test], factors[test]
    codes_test, factors_test = _check_pair(codes_test, factors_test, "_test")
    if codes_test.shape[1] != codes.shape[1] or factors_test.shape[1] != factors.shape[1]:
        raise DataError(f"test arrays have {codes_test.shape[1]} code dims and {factors_test.shape[1]} factors, "
                        f"training arrays {codes.shape[1]} and {factors.shape[1]}; they must match")
    return codes, factors, codes_test, factors_test


# ----------------------------------------------------------------------------- DCI


def _normalized_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy (base ``base``) of each row of non-negative weights; an all-zero row counts as uniform."""
    totals = p.sum(axis=1, keepdims=True)
    q = np.where(totals > 0, p / np.where(totals > 0, totals, 1.0), 1.0 / p.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, q * np.log(q), 0.0)
    return -terms.sum(axis=1) / np.log(base)


def dci_from_importance(importance: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(disentanglement, completeness, per-code D_i, per-factor C_j) of a (codes x factors) importance matrix.

    Eastwood & Williams (2018) section 3: ``D_i = 1 - H_K(P_i.)`` weighted by ``rho_i``, and
    ``C_j = 1 - H_D(P~_.j)`` weighted by the factor's share of the total importance, as in
    ``disentanglement_lib``. An all-zero matrix weighs codes and factors uniformly.
    """
    r = np.abs(np.asarray(importance, dtype=np.float64))
    d, k = r.shape
    if d < 2 or k < 2:
        raise DataError(f"DCI needs at least 2 code dims and 2 factors (entropy bases); got {d} and {k}")
    per_code = 1.0 - _normalized_entropy(r, k)
    per_factor = 1.0 - _normalized_entropy(r.T, d)
    weights = r if r.sum() > 0 else np.ones_like(r)
    code_weight = weights.sum(axis=1) / weights.sum()
    factor_weight = weights.sum(axis=0) / weights.sum()
    return float(per_code @ code_weight), float(per_factor @ factor_weight), per_code, per_factor


@dataclass(frozen=True)
class DCIResult:
    """DCI scores. ``informativeness_*``: mean accuracy (``gbt``) or mean R^2 (``lasso``) over factors."""

    disentanglement: float
    completeness: float
    informativeness_train: float
    informativeness_test: float
    importance: np.ndarray  # (d, k)
    per_code: np.ndarray  # (d,)
    per_factor: np.ndarray  # (k,)
    estimator: str


def _gbt_importance(x_tr, y_tr, x_te, y_te, seed: int, params: dict | None):
    from sklearn.ensemble import GradientBoostingClassifier

    importance = np.zeros((x_tr.shape[1], y_tr.shape[1]))
    train_acc, test_acc = [], []
    for j in range(y_tr.shape[1]):
        if len(np.unique(y_tr[:, j])) < 2:  # constant factor: nothing to predict, no importance
            train_acc.append(1.0)
            test_acc.append(float(np.mean(y_te[:, j] == y_tr[0, j])))
            continue
        model = GradientBoostingClassifier(**{**GBT_PARAMS, "random_state": seed, **(params or {})})
        model.fit(x_tr, y_tr[:, j])
        importance[:, j] = np.abs(model.feature_importances_)
        train_acc.append(float(np.mean(model.predict(x_tr) == y_tr[:, j])))
        test_acc.append(float(np.mean(model.predict(x_te) == y_te[:, j])))
    return importance, float(np.mean(train_acc)), float(np.mean(test_acc))


def _lasso_importance(x_tr, y_tr, x_te, y_te, alpha: float):
    from sklearn.linear_model import Lasso
    from sklearn.metrics import r2_score

    mean, scale = x_tr.mean(0), x_tr.std(0)
    scale[scale == 0] = 1.0
    x_tr, x_te = (x_tr - mean) / scale, (x_te - mean) / scale
    importance = np.zeros((x_tr.shape[1], y_tr.shape[1]))
    train_r2, test_r2 = [], []
    for j in range(y_tr.shape[1]):
        y_mean, y_scale = y_tr[:, j].mean(), y_tr[:, j].std()
        if y_scale == 0:
            continue
        model = Lasso(alpha=alpha).fit(x_tr, (y_tr[:, j] - y_mean) / y_scale)
        importance[:, j] = np.abs(model.coef_)
        train_r2.append(float(r2_score(y_tr[:, j], model.predict(x_tr) * y_scale + y_mean)))
        test_r2.append(float(r2_score(y_te[:, j], model.predict(x_te) * y_scale + y_mean)))
    return importance, float(np.mean(train_r2)), float(np.mean(test_r2))


def dci(codes: np.ndarray, factors: np.ndarray, *, estimator: str = "gbt", factor_kinds: Sequence[str] | None = None,
        codes_test: np.ndarray | None = None, factors_test: np.ndarray | None = None,
        test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = 0, num_bins: int = DEFAULT_BINS,
        gbt_params: dict | None = None, lasso_alpha: float = DEFAULT_LASSO_ALPHA) -> DCIResult:
    """DCI (Eastwood & Williams, ICLR 2018) of ``codes`` (n, d) against ``factors`` (n, k).

    ``estimator="gbt"`` (the standard of ``disentanglement_lib``): one scikit-learn
    ``GradientBoostingClassifier`` per factor (100 trees of depth 3, learning rate 0.1, ``random_state=seed``)
    on raw codes and factor classes (continuous factors binned into ``num_bins`` equal-width bins);
    importance = the trees' impurity-based ``feature_importances_``; informativeness = mean accuracy.
    ``gbt_params`` overrides these settings (e.g. ``random_state``: the trees break ties between equally
    good splits at random, so the seed moves D and C in the third decimal on small samples).
    ``estimator="lasso"`` (the paper's linear variant): one ``Lasso(alpha=lasso_alpha)`` per factor on
    standardized codes and the standardized factor value; importance = ``|coefficient|``; informativeness
    = mean R^2. Cost: the trees fit one regression tree per class and stage, so factors with many classes
    and wide codes are slow; subsample samples or dimensions for quick audits.
    """
    if estimator not in ("gbt", "lasso"):
        raise ConfigError(f"unknown DCI estimator '{estimator}'; choose 'gbt' or 'lasso'")
    x_tr, f_tr, x_te, f_te = _train_test(codes, factors, codes_test, factors_test, test_fraction, seed)
    kinds = infer_kinds(np.concatenate([f_tr, f_te]), factor_kinds)
    if estimator == "gbt":
        # Bin train and test together so that both use the same class boundaries.
        classes = factor_classes(np.concatenate([f_tr, f_te]), kinds, num_bins)
        y_tr, y_te = classes[: len(f_tr)], classes[len(f_tr):]
        importance, info_tr, info_te = _gbt_importance(x_tr, y_tr, x_te, y_te, seed, gbt_params)
    else:
        importance, info_tr, info_te = _lasso_importance(x_tr, f_tr.astype(np.float64), x_te,
                                                         f_te.astype(np.float64), lasso_alpha)
    d_score, c_score, per_code, per_factor = dci_from_importance(importance)
    return DCIResult(d_score, c_score, info_tr, info_te, importance, per_code, per_factor, estimator)


# ----------------------------------------------------------------------------- MIG


def discrete_mutual_info(a: np.ndarray, b: np.ndarray) -> float:
    """Mutual information (nats) of two integer label vectors, from their joint histogram."""
    _, a_idx = np.unique(a, return_inverse=True)
    _, b_idx = np.unique(b, return_inverse=True)
    joint = np.zeros((a_idx.max() + 1, b_idx.max() + 1))
    np.add.at(joint, (a_idx.ravel(), b_idx.ravel()), 1.0)
    joint /= joint.sum()
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nz = joint > 0
    return float(max(0.0, np.sum(joint[nz] * np.log(joint[nz] / outer[nz]))))


@dataclass(frozen=True)
class MIGResult:
    """MIG score, per-factor gaps (NaN for constant factors, which are left out of the mean) and I (d, k)."""

    score: float
    per_factor: np.ndarray
    mutual_info: np.ndarray
    entropy: np.ndarray


def mig(codes: np.ndarray, factors: np.ndarray, *, num_bins: int = DEFAULT_BINS,
        factor_kinds: Sequence[str] | None = None) -> MIGResult:
    """Mutual information gap (Chen et al., NeurIPS 2018), estimated as in ``disentanglement_lib``.

    Every code dimension is discretized into ``num_bins`` equal-width histogram bins over its range;
    discrete factors are used as classes and continuous ones binned the same way. ``I(z_i; v_j)`` and
    ``H(v_j)`` are plug-in estimates (nats) on all n samples;
    ``MIG = mean_j (I_(1)j - I_(2)j) / H(v_j)`` over the factors that are not constant.
    """
    codes, factors = _check_pair(codes, factors)
    if codes.shape[1] < 2:
        raise DataError(f"MIG needs at least 2 code dims for a gap between the top two; got {codes.shape[1]}")
    if num_bins < 2:
        raise ConfigError(f"num_bins must be at least 2, got {num_bins}")
    classes = factor_classes(factors, infer_kinds(factors, factor_kinds), num_bins)
    binned = np.stack([histogram_bins(c, num_bins) for c in codes.T], axis=1)
    info = np.array([[discrete_mutual_info(binned[:, i], classes[:, j]) for j in range(classes.shape[1])]
                     for i in range(binned.shape[1])])
    entropy = np.array([discrete_mutual_info(classes[:, j], classes[:, j]) for j in range(classes.shape[1])])
    top = np.sort(info, axis=0)[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        gaps = np.where(entropy > 0, (top[0] - top[1]) / entropy, np.nan)
    if np.all(np.isnan(gaps)):
        raise DataError("every factor is constant over these samples; MIG needs factors that vary")
    return MIGResult(float(np.nanmean(gaps)), gaps, info, entropy)


# ----------------------------------------------------------------------------- SAP


@dataclass(frozen=True)
class SAPResult:
    """SAP score, per-factor gaps and the (d, k) score matrix (accuracy or R^2 per code and factor)."""

    score: float
    per_factor: np.ndarray
    score_matrix: np.ndarray


def _squared_correlation(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    var_x, var_y = float(x @ x), float(y @ y)
    if var_x <= 1e-12 * len(x) or var_y == 0:
        return 0.0
    return float((x @ y) ** 2 / (var_x * var_y))


def sap(codes: np.ndarray, factors: np.ndarray, *, factor_kinds: Sequence[str] | None = None,
        codes_test: np.ndarray | None = None, factors_test: np.ndarray | None = None,
        test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = 0) -> SAPResult:
    """Separated attribute predictability (Kumar et al., ICLR 2018, section 3), as in ``disentanglement_lib``.

    Score matrix entry (i, j): for a continuous factor, the R^2 of a linear fit of the factor on code i
    alone, i.e. the squared Pearson correlation on the training samples; for a discrete factor, the test
    accuracy of a one-feature scikit-learn ``LinearSVC(C=0.01, class_weight="balanced")`` trained on code i
    (raw, unscaled). SAP is the mean over factors of the gap between the two largest entries of a column.
    Its maximum is 1 for continuous factors; for a discrete factor with c balanced classes a perfect code
    reaches at most about ``1 - 1/c`` (the runner-up dimension still scores chance accuracy).
    """
    from sklearn.svm import LinearSVC

    x_tr, f_tr, x_te, f_te = _train_test(codes, factors, codes_test, factors_test, test_fraction, seed)
    if x_tr.shape[1] < 2:
        raise DataError(f"SAP needs at least 2 code dims for a gap between the top two; got {x_tr.shape[1]}")
    kinds = infer_kinds(np.concatenate([f_tr, f_te]), factor_kinds)
    scores = np.zeros((x_tr.shape[1], f_tr.shape[1]))
    for j, kind in enumerate(kinds):
        for i in range(x_tr.shape[1]):
            if kind == "continuous":
                scores[i, j] = _squared_correlation(x_tr[:, i], f_tr[:, j].astype(np.float64))
            elif len(np.unique(f_tr[:, j])) < 2:
                scores[i, j] = float(np.mean(f_te[:, j] == f_tr[0, j]))
            else:
                clf = LinearSVC(**SAP_SVC_PARAMS).fit(x_tr[:, i:i + 1], f_tr[:, j])
                scores[i, j] = float(np.mean(clf.predict(x_te[:, i:i + 1]) == f_te[:, j]))
    top = np.sort(scores, axis=0)[::-1]
    gaps = top[0] - top[1]
    return SAPResult(float(gaps.mean()), gaps, scores)
