"""Decisions: thresholds, accept/reject, and the open-set "unknown" answer.

Scores come from :mod:`voxprint.scoring`; this module only compares them with
thresholds. Thresholds are on the raw cosine.

Open-set identification needs a threshold that grows with the gallery: the
best of ``N`` impostor scores is larger than a single impostor score. With the
single-trial impostor cosine modelled as ``Normal(mean, std)`` and the ``N``
impostor scores treated as independent, the best impostor score stays under
``t`` with probability ``F(t)**N``. For a target false-alarm rate ``a`` (the
chance that a stranger is wrongly given *some* name) we solve
``1 - F(t)**N = a``::

    t(N) = mean + std * Phi^-1((1 - a) ** (1 / N))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from scipy.stats import norm

from voxprint.errors import InvalidParameterError
from voxprint.scoring.calibration import ScoreCalibration


class Decision(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


@dataclass(frozen=True)
class ImpostorModel:
    """Normal model of the single-trial impostor cosine, fitted on labelled trials."""

    mean: float
    std: float

    def __post_init__(self) -> None:
        if not self.std > 0:
            raise InvalidParameterError("impostor std must be positive")


@dataclass(frozen=True)
class VerificationPolicy:
    """Accept a claimed identity when the cosine reaches ``threshold``."""

    threshold: float

    def decide(self, cosine: float) -> Decision:
        return Decision.ACCEPT if cosine >= self.threshold else Decision.REJECT


@dataclass(frozen=True)
class IdentificationPolicy:
    """Open-set identification: name the best match only if it beats ``threshold(N)``.

    ``false_alarm_rate`` is the target chance that an unenrolled speaker is
    given a name. ``fixed_threshold`` overrides the gallery-size rule.
    """

    impostors: ImpostorModel
    false_alarm_rate: float = 0.01
    fixed_threshold: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.false_alarm_rate < 1.0:
            raise InvalidParameterError("false_alarm_rate must be strictly between 0 and 1")

    def threshold(self, gallery_size: int) -> float:
        """Cosine the best candidate must reach in a gallery of ``gallery_size`` profiles."""
        if self.fixed_threshold is not None:
            return self.fixed_threshold
        n = max(int(gallery_size), 1)
        # (1 - a) ** (1/N), computed in log space to stay exact for large N.
        quantile = math.exp(math.log1p(-self.false_alarm_rate) / n)
        return float(self.impostors.mean + self.impostors.std * norm.ppf(quantile))

    def decide(self, best_cosine: float, gallery_size: int) -> Decision:
        return Decision.ACCEPT if best_cosine >= self.threshold(gallery_size) else Decision.REJECT


@dataclass(frozen=True)
class OperatingPoint:
    """Everything an encoder needs to turn cosines into scores and decisions.

    Fitted from data per encoder version; see ``docs/thresholds.md``.
    """

    verification_threshold: float
    calibration: ScoreCalibration
    impostors: ImpostorModel
    identification_false_alarm_rate: float = 0.01
    source: str = ""

    def verification_policy(self) -> VerificationPolicy:
        return VerificationPolicy(self.verification_threshold)

    def identification_policy(self) -> IdentificationPolicy:
        return IdentificationPolicy(self.impostors, self.identification_false_alarm_rate)
