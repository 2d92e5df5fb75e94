"""Singer output: the lean per-record path, the batching writer, the STATE cadence, signals."""
