"""Comparison reports built only from result records (docs/contracts.md section 2)."""
