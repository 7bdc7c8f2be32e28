"""Representation metrics (RankMe, effective rank, alignment/uniformity, MEC coding length, linear CKA)."""
