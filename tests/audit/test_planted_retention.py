"""The audit ranks the retained factors of hand-built encoders correctly; references and controls."""

from __future__ import annotations

import numpy as np

from mcr_eval.audit.factors import destroyed_from_views
from mcr_eval.audit.runner import AuditedEncoder
from mcr_eval.audit.scene_inputs import random_init_reference

CHANCE_TOL = 0.08


def _probe(audit, factor):
    return audit.row(factor).probe


def _near_chance(audit, factor, tol=CHANCE_TOL):
    """Not above chance by more than ``tol``; a useless probe may land a little below the majority rate."""
    p = _probe(audit, factor)
    return -0.12 <= p.mean - p.chance <= tol


def test_hue_histogram_keeps_colour_only(planted_audits):
    audit = planted_audits["hue-histogram"]
    assert _probe(audit, "color").mean >= 0.97
    for factor in ("shape", "texture", "scale", "pos_x", "pos_y", "detail_present", "detail_corner",
                   "background", "control"):
        assert _near_chance(audit, factor), (factor, _probe(audit, factor))
    cf = audit.interventions
    assert cf["color"]["sensitivity"] > 0.5 and cf["color"]["cf_accuracy"] >= 0.95
    for factor in ("shape", "scale", "pos_x", "background", "detail_present"):
        assert cf[factor]["sensitivity"] < 0.01, (factor, cf[factor])
    assert audit.row("color").retention == 1.0
    # colour is the only retained factor, and it is non-shared under SimCLR views
    assert audit.shared_retention is not None and audit.shared_retention < 0.15


def test_silhouette_keeps_shape_scale_position_not_colour(planted_audits):
    audit = planted_audits["silhouette"]
    assert _probe(audit, "pos_x").mean > 0.6 and _probe(audit, "pos_y").mean > 0.6
    assert _probe(audit, "scale").mean > _probe(audit, "scale").chance + 0.2
    for factor in ("color", "texture", "background", "detail_present", "control"):
        assert _near_chance(audit, factor), (factor, _probe(audit, factor))
    cf = audit.interventions
    assert cf["color"]["sensitivity"] < 0.01 and cf["texture"]["sensitivity"] < 0.01
    assert cf["pos_x"]["sensitivity"] > 0.5 and cf["shape"]["sensitivity"] > 0.1
    assert cf["pos_x"]["cf_accuracy"] > 0.9  # the position probe follows the intervention
    ranked = sorted(("color", "scale", "pos_x", "background"), key=lambda f: -cf[f]["sensitivity"])
    assert ranked[0] == "pos_x" and set(ranked[2:]) == {"color", "background"}


def test_corner_encoder_keeps_what_the_corner_shows(planted_audits):
    audit = planted_audits["corner"]
    assert _probe(audit, "background").mean >= 0.95
    assert _probe(audit, "detail_present").mean > _probe(audit, "detail_present").chance + 0.05
    assert _probe(audit, "detail_corner").mean > _probe(audit, "detail_corner").chance + 0.1
    for factor in ("color", "shape", "pos_x", "control"):
        assert _near_chance(audit, factor), (factor, _probe(audit, factor))
    cf = audit.interventions
    assert cf["background"]["sensitivity"] > 10 * cf["color"]["sensitivity"]
    assert cf["detail_corner"]["sensitivity"] > 5 * cf["shape"]["sensitivity"]


def test_audit_ranks_encoders_by_what_they_keep(planted_audits):
    retention = {name: {r.factor: r.retention for r in audit.rows} for name, audit in planted_audits.items()}
    assert max(retention, key=lambda n: retention[n]["color"] or 0) == "hue-histogram"
    assert max(retention, key=lambda n: retention[n]["pos_x"] or 0) == "silhouette"
    assert max(retention, key=lambda n: retention[n]["background"] or 0) == "corner"
    non_shared = {n: a.non_shared_retention for n, a in planted_audits.items()}
    shared = {n: a.shared_retention for n, a in planted_audits.items()}
    # the silhouette keeps 3 of the 7 non-shared factors (scale, pos_x, pos_y), the hue histogram 1 (colour)
    assert non_shared["silhouette"] > non_shared["hue-histogram"] > 0.05
    # of the shared factors only the background is decodable by the references, and only the corner keeps it
    assert max(shared, key=shared.get) == "corner" and shared["corner"] > 0.9


def test_random_init_encoder_scores_near_the_references(scene_audit):
    """An untrained encoder (another seed) keeps about what generic features of the input keep."""
    meta = {"arch": "resnet18", "stem": "cifar", "width": 16, "run": "random-seed-1", "seed": 1}
    model = random_init_reference(meta, [0.5] * 3, [0.25] * 3, seed=1)
    encoder = AuditedEncoder("random-seed-1", model, meta, destroyed_from_views("simclr_cifar"), "simclr_cifar")
    scene_audit.counterfactuals, saved = 0, scene_audit.counterfactuals
    try:
        audit = scene_audit.run(encoder)
    finally:
        scene_audit.counterfactuals = saved
    gaps = []
    for row in audit.rows:
        linear = row.scores["linear"].probe  # the references are linear probes
        if row.role == "control":
            assert -0.12 <= linear.mean - linear.chance <= CHANCE_TOL
            continue
        gaps.append(abs(linear.mean - row.reference))
    assert np.mean(gaps) < 0.1 and max(gaps) < 0.25, gaps
    # An untrained network is no bottleneck: it keeps most of what the kernel probe reads from the input.
    assert audit.non_shared_retention > 0.6 and audit.shared_retention > 0.6
