"""Singer output: the lean per-record path and the batching writer, joined by one flush seam."""
