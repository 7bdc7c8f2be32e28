"""Counterfactual feature-retention audit and Captum attribution for frozen SSL encoders.

Retention (which factors of the factor scenes an encoder keeps, shared vs non-shared under its training
views): :mod:`.factors`, :mod:`.ridge`, :mod:`.probes`, :mod:`.scene_inputs`, :mod:`.retention`,
:mod:`.interventions`, :mod:`.invariance` (real images from :mod:`.photos`), :mod:`.report`, tied together
by :mod:`.runner`. Attribution (where it looks): :mod:`.targets`, :mod:`.attribution`, :mod:`.attr_scores`,
:mod:`.attr_data`, :mod:`.figures`, tied together by :mod:`.attr_runner`. Hand-built encoders with known
behaviour for testing the audit itself: :mod:`.planted`. User guide: docs/audit.md.
"""
