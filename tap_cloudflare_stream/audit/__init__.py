"""The run's audit trail: what the tap wrote, counted where it was written, as one more stream."""
