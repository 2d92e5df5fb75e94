"""Benchmark of the tap against a bare extractor, and of its request budget (`python -m bench`)."""
