"""Probes on frozen or fine-tuned encoders: weighted kNN, linear (fast/standard), semi-supervised."""
