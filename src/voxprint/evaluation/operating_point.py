"""A logistic calibration fitted on labelled trials, with its threshold and impostor model.

This is what ``voxprint calibrate`` stores and what a trained checkpoint carries: fitted
on one set of trials, it holds for audio like those trials. The built-in priors of the
bundled encoders, which hold across domains, are in :mod:`voxprint.operating_points`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from voxprint.errors import InvalidParameterError, ModelError
from voxprint.evaluation.metrics import equal_error_rate
from voxprint.scoring.calibration import fit_calibration
from voxprint.store.records import ScoreScale, StoredCalibration


@dataclass(frozen=True)
class FittedScores:
    """``llr = slope * score + offset`` fitted on labelled trials; ``threshold`` is the score
    chosen to accept at; ``impostor_mean``/``impostor_std`` describe the non-target scores."""

    slope: float
    offset: float
    threshold: float
    impostor_mean: float
    impostor_std: float
    source: str = ""
    normalized: bool = False
    fitted_at: datetime | None = None

    @classmethod
    def from_stored(cls, stored: StoredCalibration) -> FittedScores:
        return cls(
            slope=stored.slope,
            offset=stored.offset,
            threshold=stored.threshold,
            impostor_mean=stored.impostor_mean,
            impostor_std=stored.impostor_std,
            source=stored.source,
            normalized=stored.scale is ScoreScale.ASNORM,
            fitted_at=stored.created_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint form (the keys older checkpoints already use)."""
        return {
            "verification_threshold": self.threshold,
            "calibration": {"slope": self.slope, "offset": self.offset},
            "impostors": {"mean": self.impostor_mean, "std": self.impostor_std},
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FittedScores:
        try:
            return cls(
                slope=float(data["calibration"]["slope"]),
                offset=float(data["calibration"]["offset"]),
                threshold=float(data["verification_threshold"]),
                impostor_mean=float(data["impostors"]["mean"]),
                impostor_std=float(data["impostors"]["std"]),
                source=str(data.get("source", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"bad operating point in checkpoint: {exc}") from exc


def fit_impostor_model(nontarget_scores: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of single-trial impostor scores ``(u,)``."""
    scores = np.asarray(nontarget_scores, dtype=np.float64).ravel()
    if scores.size < 10:
        raise InvalidParameterError("need at least 10 non-target scores to model impostors")
    return float(scores.mean()), float(scores.std(ddof=1))


def fit_scores(
    target_scores: np.ndarray, nontarget_scores: np.ndarray, *, source: str = ""
) -> FittedScores:
    """Logistic calibration, threshold at the equal-error point, impostor model."""
    _, threshold = equal_error_rate(target_scores, nontarget_scores)
    calibration = fit_calibration(target_scores, nontarget_scores)
    mean, std = fit_impostor_model(nontarget_scores)
    return FittedScores(calibration.slope, calibration.offset, threshold, mean, std, source)
