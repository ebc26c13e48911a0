"""The weight-encoder benchmark: probes, emulation pre-training, downstream tasks, reports."""
