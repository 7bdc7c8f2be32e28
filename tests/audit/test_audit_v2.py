"""Audit v2 reads information, not linear decodability: tests that fail if the audit were wrong.

- the nonlinear probe is kernel ridge (checked against scikit-learn's KernelRidge on a centred kernel) and
  reads the same from any orthogonal rotation of the features;
- an encoder that returns its input, and a random orthogonal rotation of it, keep every factor (>= 0.9);
- each planted encoder keeps its own factors (>= 0.8) and not the others (<= 0.2), under both probes;
- 4 x 4 average pooling loses the detail mark's kind, and the random ``control`` label reads chance;
- shape and texture, which no probe reads from 32 px pixels, say why they have no retention and get a value
  against the supervised reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.preprocessing import KernelCenterer
from torch import nn

from mcr_eval.audit.factors import destroyed_from_views
from mcr_eval.audit.kernel_probe import KernelBasis
from mcr_eval.audit.ridge import RidgeBasis
from mcr_eval.audit.runner import AuditedEncoder, SceneAudit
from mcr_eval.audit.scene_inputs import PixelSpaceEncoder
from mcr_eval.audit.supervised_reference import cache_path
from tests.audit.conftest import planted_encoder

N = 600
OWN = {"hue-histogram": ["color"], "silhouette": ["scale", "pos_x", "pos_y"], "corner": ["background"]}
# The corner encoder sees one image corner of four, so it keeps a detail mark only when the mark is drawn there.
PARTIAL = {"corner": ["detail_present", "detail_kind", "detail_corner"]}


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


class Rotation(nn.Module):
    """The pixels under a fixed random orthogonal matrix: nothing is lost."""

    def __init__(self, dim: int = 3 * 32 * 32, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
        self.register_buffer("q", q.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.q


class AvgPool4(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)


def pixel_encoder(name: str, model: nn.Module) -> AuditedEncoder:
    meta = {"run": name, "mean": [0.5] * 3, "std": [0.25] * 3}
    return AuditedEncoder(name, PixelSpaceEncoder(model, meta["mean"], meta["std"]), meta,
                          destroyed_from_views("simclr_cifar"), "simclr_cifar")


@pytest.fixture(scope="module")
def audit_v2() -> SceneAudit:
    return SceneAudit(n=N, size=32, seed=0, counterfactuals=0, supervised=False, disentanglement=False)


@pytest.fixture(scope="module")
def audits(audit_v2):
    encoders = [pixel_encoder("identity", Identity()), pixel_encoder("rotation", Rotation()),
                pixel_encoder("avgpool4", AvgPool4())] + [planted_encoder(name) for name in OWN]
    return {e.name.removeprefix("planted-"): audit_v2.run(e) for e in encoders}


def retention(audit, factor, family="kernel"):
    return audit.row(factor).scores[family].retention


# ---- the nonlinear probe ------------------------------------------------------------------------------------
def test_kernel_probe_with_every_landmark_is_kernel_ridge_on_the_centred_kernel():
    rng = np.random.default_rng(0)
    x, x_test = rng.normal(size=(120, 6)), rng.normal(size=(40, 6))
    y = np.sin(x[:, 0]) + x[:, 1] ** 2 + 0.1 * rng.normal(size=120)
    basis = KernelBasis(x, landmarks=len(x), gamma_factors=(1.0,))
    probe = basis.fit(y, None, alphas=(0.3,))
    z, z_test = (x - probe.mean) / probe.scale, (x_test - probe.mean) / probe.scale
    centerer = KernelCenterer().fit(rbf_kernel(z, z, gamma=probe.gamma))
    oracle = KernelRidge(alpha=0.3, kernel="precomputed").fit(
        centerer.transform(rbf_kernel(z, z, gamma=probe.gamma)), y - y.mean())
    expected = oracle.predict(centerer.transform(rbf_kernel(z_test, z, gamma=probe.gamma))) + y.mean()
    np.testing.assert_allclose(probe.predict(x_test), expected, rtol=1e-6, atol=1e-6)


def test_kernel_probe_reads_the_same_from_a_rotation():
    rng = np.random.default_rng(1)
    x, x_test = rng.normal(size=(300, 4)), rng.normal(size=(100, 4))
    labels = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    plain, rotated = KernelBasis(x).fit(labels, 2), KernelBasis(x @ q).fit(labels, 2)
    assert plain.gamma == pytest.approx(rotated.gamma) and plain.ridge.alpha == rotated.ridge.alpha
    np.testing.assert_allclose(plain.ridge.decision(plain.features(x_test)),
                               rotated.ridge.decision(rotated.features(x_test @ q)), atol=1e-8)
    truth = x_test[:, 0] * x_test[:, 1] > 0  # XOR of two signs: beyond any linear probe
    assert np.mean(plain.predict(x_test) == truth) > 0.8
    assert np.mean(RidgeBasis(x).fit(labels, 2).predict(x_test) == truth) < 0.65


# ---- encoders with known content --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["identity", "rotation"])
def test_an_encoder_that_keeps_its_input_keeps_every_factor(audits, name):
    audit = audits[name]
    defined = [r for r in audit.rows if r.role != "control" and r.retention is not None]
    assert {r.factor for r in audit.rows if r.role != "control" and r.retention is None} == {"shape", "texture"}
    for row in defined:
        assert row.retention >= 0.9, (name, row.factor, row.retention)
    assert audit.non_shared_retention >= 0.95 and audit.shared_retention >= 0.95


def test_shape_and_texture_say_why_they_have_no_retention(audits):
    for factor in ("shape", "texture"):
        why = audits["identity"].row(factor).why_undefined
        assert why.startswith("the kernel probe reads it from the 32 px input itself at ") and "of chance" in why


@pytest.mark.parametrize("name", list(OWN))
@pytest.mark.parametrize("family", ["kernel", "linear"])
def test_planted_encoders_keep_their_own_factors_only(audits, name, family):
    audit = audits[name]
    own, partial = OWN[name], PARTIAL.get(name, [])
    checked = 0
    for row in audit.rows:
        value = row.scores[family].retention
        if row.role == "control" or value is None or row.factor in partial:
            continue
        checked += 1
        if row.factor in own:
            assert value >= 0.8, (name, family, row.factor, value)
        else:
            assert value <= 0.2, (name, family, row.factor, value)
    assert checked >= 2
    if family == "kernel":  # every own factor is defined under the nonlinear probe
        assert all(retention(audit, f) >= 0.8 for f in own)


def test_corner_encoder_keeps_part_of_the_detail_mark(audits):
    for factor in PARTIAL["corner"]:
        assert 0.1 <= retention(audits["corner"], factor) <= 0.7, factor


def test_average_pooling_to_4x4_loses_the_detail_kind(audits):
    pooled, identity = audits["avgpool4"], audits["identity"]
    assert retention(pooled, "detail_kind") <= 0.6 < retention(identity, "detail_kind")
    assert retention(pooled, "pos_x") >= 0.9  # the coarse layout survives: the audit is not just "lossy = low"
    assert pooled.non_shared_retention < identity.non_shared_retention


def test_the_random_control_label_reads_chance(audits):
    for name, audit in audits.items():
        for family, score in audit.row("control").scores.items():
            gap = score.probe.mean - score.probe.chance
            assert -0.12 <= gap <= 0.06, (name, family, gap)
            assert score.retention is None


# ---- the supervised reference -----------------------------------------------------------------------------
def test_supervised_reference_defines_shape_and_texture_and_is_cached(capsys):
    first = SceneAudit(n=400, counterfactuals=0, disentanglement=False)  # trains it unless the session has
    assert cache_path(32).exists() and cache_path(32).stat().st_mode & 0o777 == 0o644
    capsys.readouterr()
    learned = first.supervised_scores["kernel"]
    assert learned["shape"].mean >= learned["shape"].chance + 0.2
    assert learned["texture"].mean >= learned["texture"].chance + 0.2
    audit = first.run(pixel_encoder("identity", Identity()))
    for factor in ("shape", "texture"):
        score = audit.row(factor).scores["kernel"]
        assert score.retention is None and score.vs_supervised is not None and score.vs_supervised < 0.5
    again = SceneAudit(n=400, counterfactuals=0, disentanglement=False)
    assert "training" not in capsys.readouterr().err
    assert again.supervised_scores["kernel"]["shape"] == learned["shape"]
