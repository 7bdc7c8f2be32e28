"""Readers for the on-disk formats of the supported datasets."""
