"""DCI, MIG and SAP against the ``disent`` package (an independent port of disentanglement_lib) and closed forms.

The oracle's metric helpers take (dims, samples) arrays and already-split train/test sets; we pass ours the
same samples through ``codes_test``/``factors_test`` so that both see identical data. ``disent`` is installed
without its training dependencies (requirements/test-oracles.txt), so only its metric modules are imported:
its ``disent.metrics`` package initializer, which pulls in the Lightning frameworks, is bypassed.
"""

import importlib
import importlib.util
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import special_ortho_group

from mcr_eval.audit.disentanglement import dci, dci_from_importance, histogram_bins, mig, sap
from mcr_train.errors import DataError


def _disent_metric_modules() -> types.SimpleNamespace:
    spec = importlib.util.find_spec("disent")
    if spec is None:
        pytest.fail("the test oracle 'disent' is missing; install it: pip install --no-deps -r "
                    "requirements/test-oracles.txt")
    if "disent.metrics" not in sys.modules:
        package = types.ModuleType("disent.metrics")
        package.__path__ = [str(Path(spec.submodule_search_locations[0]) / "metrics")]
        sys.modules["disent.metrics"] = package
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # disent warns that numba is absent; its metrics do not use it
        names = ("_dci", "_mig", "_sap", "utils")
        return types.SimpleNamespace(**{n.strip("_"): importlib.import_module(f"disent.metrics.{n}") for n in names})


@pytest.fixture(scope="module")
def oracle():
    return _disent_metric_modules()

N_TRAIN, N_TEST = 1000, 500
SIZES = (4, 5, 3)


def _factors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, s, n) for s in SIZES], axis=1)


def _mixed_codes(factors: np.ndarray, seed: int = 1) -> np.ndarray:
    """A partly entangled, noisy code: 5 dims, each a different mixture of the standardized factors."""
    rng = np.random.default_rng(seed)
    z = (factors - factors.mean(0)) / factors.std(0)
    mixing = np.array([[1.0, 0.3, 0.0, 0.5, 0.0], [0.0, 1.0, 0.2, 0.5, 0.0], [0.1, 0.0, 1.0, 0.0, 0.0]])
    return z @ mixing + 0.3 * rng.standard_normal((len(z), 5))


def _perfect_codes(factors: np.ndarray) -> np.ndarray:
    """One dim per factor, each a strictly monotone map of it (values stay in distinct MIG bins)."""
    f = factors.astype(np.float64)
    return np.stack([2.0 * f[:, 0] + 1.0, np.sqrt(f[:, 1]), np.exp(f[:, 2])], axis=1)


def _rotated(codes: np.ndarray, seed: int = 0) -> np.ndarray:
    z = (codes - codes.mean(0)) / codes.std(0)
    rotation = special_ortho_group.rvs(3, random_state=seed)
    assert np.abs(rotation).min() > 0.15, "the test needs a rotation that mixes every pair of dims"
    return z @ rotation


@pytest.fixture(scope="module")
def data():
    factors = _factors(N_TRAIN + N_TEST)
    return _mixed_codes(factors), factors


def _split(codes, factors):
    return codes[:N_TRAIN], factors[:N_TRAIN], codes[N_TRAIN:], factors[N_TRAIN:]


# ----------------------------------------------------------------------------- (i) the oracle


def test_dci_matches_disent(data, oracle):
    x_tr, y_tr, x_te, y_te = _split(*data)
    # The trees break ties between equal splits at random: both draw from one RandomState seeded alike (the
    # oracle from numpy's global one), so the comparison is of the same fits, not of two random draws.
    ours = dci(x_tr, y_tr, codes_test=x_te, factors_test=y_te, gbt_params={"random_state": np.random.RandomState(0)})
    np.random.seed(0)
    ref = oracle.dci._compute_dci(x_tr.T, y_tr.T, x_te.T, y_te.T)
    assert ours.disentanglement == pytest.approx(ref["dci.disentanglement"], abs=1e-6)
    assert ours.completeness == pytest.approx(ref["dci.completeness"], abs=1e-6)
    assert ours.informativeness_train == pytest.approx(ref["dci.informativeness_train"], abs=1e-9)
    assert ours.informativeness_test == pytest.approx(ref["dci.informativeness_test"], abs=1e-9)
    assert 0.2 < ours.disentanglement < 0.95 and 0.2 < ours.completeness < 0.95  # a non-trivial case


def test_dci_scores_of_an_importance_matrix_match_disent(oracle):
    rng = np.random.default_rng(5)
    for shape in ((6, 3), (3, 7), (10, 10)):
        r = rng.random(shape) ** 3
        r[0] = 0.0  # an unused code dimension
        d, c, _, _ = dci_from_importance(r)
        assert d == pytest.approx(oracle.dci._disentanglement(r), abs=1e-9)
        assert c == pytest.approx(oracle.dci._completeness(r), abs=1e-9)


def test_mig_matches_disent(data, oracle):
    codes, factors = data
    ours = mig(codes, factors)
    ref = oracle.mig._compute_mig(codes.T, factors.T)
    assert ours.score == pytest.approx(ref["mig.discrete_score"], abs=1e-12)
    binned = oracle.utils.histogram_discretize(codes.T, num_bins=20)
    for i in range(codes.shape[1]):  # the oracle numbers its bins from 1
        assert np.array_equal(histogram_bins(codes[:, i]) + 1, binned[i])
    assert np.allclose(ours.mutual_info, oracle.utils.discrete_mutual_info(binned, factors.T), atol=1e-12)


@pytest.mark.parametrize("continuous", [False, True])
def test_sap_matches_disent(data, oracle, continuous):
    x_tr, y_tr, x_te, y_te = _split(*data)
    kinds = ["continuous" if continuous else "discrete"] * 3
    ours = sap(x_tr, y_tr, codes_test=x_te, factors_test=y_te, factor_kinds=kinds)
    ref = oracle.sap._compute_sap(x_tr.T, y_tr.T, x_te.T, y_te.T, continuous)
    assert ours.score == pytest.approx(ref["sap.score"], abs=1e-9)
    matrix = oracle.sap._compute_score_matrix(x_tr.T, y_tr.T, x_te.T, y_te.T, continuous)
    assert np.allclose(ours.score_matrix, matrix, atol=1e-9)


# ----------------------------------------------------------------------------- (ii) closed forms


@pytest.fixture(scope="module")
def perfect_and_rotated():
    factors = _factors(1500, seed=7)
    perfect = _perfect_codes(factors)
    return factors, perfect, _rotated(perfect)


def test_perfect_code_reaches_the_maxima_and_a_rotation_does_not(perfect_and_rotated):
    factors, perfect, rotated = perfect_and_rotated
    good, bad = dci(perfect, factors), dci(rotated, factors)
    assert good.disentanglement > 0.999 and good.completeness > 0.999 and good.informativeness_test == 1.0
    assert bad.disentanglement < 0.3 and bad.completeness < 0.3
    assert bad.informativeness_test > 0.95  # the rotation keeps the information, only its alignment is lost
    good_mig, bad_mig = mig(perfect, factors), mig(rotated, factors)
    assert good_mig.score > 0.99  # 1 minus the plug-in bias of the runner-up's mutual information
    assert np.allclose(good_mig.mutual_info.diagonal(), good_mig.entropy)  # I(z_j; v_j) = H(v_j) exactly
    assert bad_mig.score < 0.3
    good_sap, bad_sap = sap(perfect, factors), sap(rotated, factors)
    # Discrete SAP peaks below 1: the runner-up dim still scores chance accuracy (see sap's docstring).
    assert good_sap.score > 0.45 and bad_sap.score < 0.15
    # Continuous SAP on an affine code: R^2 = 1 on the matching dim, ~0 elsewhere, so SAP ~ 1.
    affine = 3.0 * factors - 1.0
    assert sap(affine, factors, factor_kinds=["continuous"] * 3).score > 0.98
    assert sap(_rotated(affine), factors, factor_kinds=["continuous"] * 3).score < 0.3


def test_lasso_importance_of_a_linear_perfect_code_is_diagonal(perfect_and_rotated):
    factors, _, _ = perfect_and_rotated
    result = dci(2.0 * factors + 0.5, factors, estimator="lasso")
    assert result.disentanglement == pytest.approx(1.0, abs=1e-9)
    assert result.completeness == pytest.approx(1.0, abs=1e-9)
    assert result.informativeness_test > 0.99
    assert np.count_nonzero(result.importance) == 3
    rotated = dci(_rotated(2.0 * factors + 0.5), factors, estimator="lasso")
    assert rotated.disentanglement < 0.2 and rotated.completeness < 0.2


def test_sap_discrete_perfect_binary_code_reaches_one_minus_chance():
    rng = np.random.default_rng(11)
    factors = rng.integers(0, 2, (1200, 3))
    result = sap(factors + 0.0, factors)
    # The matching dim classifies perfectly; the others score 50% on balanced binary classes.
    assert np.allclose(result.score_matrix.diagonal(), 1.0)
    assert result.score == pytest.approx(0.5, abs=0.05)


# ----------------------------------------------------------------------------- (iii) independent code


def test_code_independent_of_the_factors_scores_about_zero():
    factors = _factors(1500, seed=13)
    noise = np.random.default_rng(14).standard_normal((1500, 4))
    assert mig(noise, factors).score < 0.03
    assert sap(noise, factors).score < 0.03
    assert sap(noise, factors, factor_kinds=["continuous"] * 3).score < 0.01
    result = dci(noise, factors)
    chance = np.mean([1.0 / s for s in SIZES])
    assert abs(result.informativeness_test - chance) < 0.05  # test accuracy at chance
    assert result.disentanglement < 0.05 and result.completeness < 0.05


def test_bad_inputs_raise_one_line_errors():
    with pytest.raises(DataError, match="one factor row per code row"):
        mig(np.zeros((10, 2)), np.zeros((9, 2)))
    with pytest.raises(DataError, match="at least 2 code dims"):
        sap(np.zeros((30, 1)), np.zeros((30, 2)))
    with pytest.raises(DataError, match="NaN"):
        dci(np.full((30, 2), np.nan), np.zeros((30, 2)))
