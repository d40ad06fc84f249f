"""Evaluation: metrics, datasets and protocols, the runner, and plots."""
