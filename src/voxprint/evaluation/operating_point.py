"""Choosing an encoder's operating point (thresholds and calibration) from labelled trials."""

from __future__ import annotations

import numpy as np

from voxprint.decision import ImpostorModel, OperatingPoint
from voxprint.errors import InvalidParameterError
from voxprint.evaluation.metrics import equal_error_rate
from voxprint.scoring.calibration import fit_calibration


def fit_impostor_model(nontarget_scores: np.ndarray) -> ImpostorModel:
    """Normal model of single-trial impostor cosines ``(u,)``."""
    scores = np.asarray(nontarget_scores, dtype=np.float64).ravel()
    if scores.size < 10:
        raise InvalidParameterError("need at least 10 non-target scores to model impostors")
    return ImpostorModel(mean=float(scores.mean()), std=float(scores.std(ddof=1)))


def fit_operating_point(
    target_scores: np.ndarray,
    nontarget_scores: np.ndarray,
    *,
    identification_false_alarm_rate: float = 0.01,
    source: str = "",
) -> OperatingPoint:
    """Verification threshold at the equal-error point, logistic calibration, impostor model."""
    _, threshold = equal_error_rate(target_scores, nontarget_scores)
    return OperatingPoint(
        verification_threshold=threshold,
        calibration=fit_calibration(target_scores, nontarget_scores),
        impostors=fit_impostor_model(nontarget_scores),
        identification_false_alarm_rate=identification_false_alarm_rate,
        source=source,
    )
