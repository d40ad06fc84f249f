"""Scores: similarity between embeddings and calibrated probabilities. No decisions here."""

from voxprint.scoring.asnorm import AsNorm, as_norm
from voxprint.scoring.calibration import ScoreCalibration, fit_calibration
from voxprint.scoring.similarity import (
    cosine_matrix,
    cosine_scores,
    cosine_similarity,
    l2_normalise,
)

__all__ = [
    "AsNorm",
    "ScoreCalibration",
    "as_norm",
    "cosine_matrix",
    "cosine_scores",
    "cosine_similarity",
    "fit_calibration",
    "l2_normalise",
]
