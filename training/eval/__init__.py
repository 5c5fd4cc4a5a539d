"""Evaluation: held-out clips, the real recording, metrics, paired comparison, golden figures."""
