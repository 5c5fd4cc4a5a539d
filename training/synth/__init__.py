"""Synthetic data engine: motions, body shapes, two-view rendering, datasets and clips."""
