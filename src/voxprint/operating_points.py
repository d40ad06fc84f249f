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
from voxprint.store.records import StoredCalibration

DEFAULT_OPERATING_POINTS: dict[str, OperatingPoint] = {
    # 3dspeaker-campplus-zh-en-common-advanced-92f29b94e694; tc100-halves EER 0.40 %
    # (speech widened 0.5 s, pauses under 2 s kept).
    "campplus": OperatingPoint(
        verification_threshold=0.4002,
        calibration=ScoreCalibration(slope=33.0811, offset=-13.6977),
        impostors=ImpostorModel(mean=0.0705, std=0.1098),
        source="tc100-halves, bench/fit_operating_points.py",
    ),
    # resemblyzer-ge2e-39373b86598f; tc100-halves EER 2.56 % (speech widened 0.17 s,
    # pauses under 0.5 s kept: bootstrap.EMBEDDING_CONTEXT_SECONDS).
    "ge2e": OperatingPoint(
        verification_threshold=0.7235,
        calibration=ScoreCalibration(slope=39.3030, offset=-28.7994),
        impostors=ImpostorModel(mean=0.5624, std=0.0783),
        source="tc100-halves, bench/fit_operating_points.py",
    ),
}


def operating_point_for(encoder: SpeakerEncoder) -> OperatingPoint:
    """The operating point an encoder carries (trained checkpoints), else the measured
    default of a bundled encoder."""
    own = getattr(encoder, "operating_point", None)
    if isinstance(own, OperatingPoint):
        return own
    point = DEFAULT_OPERATING_POINTS.get(encoder.name)
    if point is None:
        raise ModelError(
            f"no operating point is known for encoder {encoder.name!r}; calibrate it first"
        )
    return point


#: Operating points for AS-Norm scores (cohort: the 100 test-other files, one embedding
#: per file; EER point on tc100-halves, bench/fit_asnorm_operating_points.py). Used when a
#: cohort is stored for the encoder and no AS-Norm calibration was fitted on the user's
#: data. An encoder missing here is scored on raw cosines until ``voxprint calibrate``.
DEFAULT_ASNORM_OPERATING_POINTS: dict[str, OperatingPoint] = {
    # tc100-halves AS-Norm EER 0.59 % (raw cosine 0.40 %): see docs/benchmarks.md.
    "campplus": OperatingPoint(
        verification_threshold=3.9380,
        calibration=ScoreCalibration(slope=2.9419, offset=-11.5646),
        impostors=ImpostorModel(mean=0.3059, std=1.2190),
        source="tc100-halves AS-Norm (test-other cohort), bench/fit_asnorm_operating_points.py",
    ),
}


def operating_point_from(stored: StoredCalibration) -> OperatingPoint:
    """The operating point a stored (user-fitted) calibration describes."""
    return OperatingPoint(
        verification_threshold=stored.threshold,
        calibration=ScoreCalibration(slope=stored.slope, offset=stored.offset),
        impostors=ImpostorModel(mean=stored.impostor_mean, std=stored.impostor_std),
        source=stored.source or f"voxprint calibrate ({stored.scale.value})",
    )
