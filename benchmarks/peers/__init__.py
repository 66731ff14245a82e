"""Thin wrappers that run each peer method on one field for the benchmark."""
