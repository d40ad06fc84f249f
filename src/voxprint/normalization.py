"""Score normalisation in use: an AS-Norm cohort plus the operating point for its scores.

AS-Norm scores (:mod:`voxprint.scoring.asnorm`) are not on the cosine scale, so a
service that normalises needs thresholds and a calibration fitted on normalised
scores. :class:`ScoreNormalization` keeps the two together so one can never be used
without the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxprint.decision import OperatingPoint
from voxprint.scoring.asnorm import AsNorm


@dataclass(frozen=True)
class ScoreNormalization:
    """AS-Norm against ``asnorm``'s cohort; ``operating_point`` is for the normalised scores."""

    asnorm: AsNorm
    operating_point: OperatingPoint

    def normalize(self, enrol: np.ndarray, test: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Normalise ``(n,)`` raw cosines of ``(n, dim)`` voiceprints vs one ``(dim,)`` test.

        Returns ``(n,)`` float64 AS-Norm scores.
        """
        scores = np.asarray(raw, dtype=np.float64).reshape(-1, 1)
        test_row = np.asarray(test, dtype=np.float32).reshape(1, -1)
        return self.asnorm.normalize(np.atleast_2d(enrol), test_row, scores)[:, 0]
