"""Enrolled voices too alike to tell apart: the warning given when a profile is enrolled.

Two profiles of one person (enrolled twice under two names), or two voices that are
genuinely close (siblings, children of one age), split identification between them:
a probe of either may be named as the other, or as nobody. The user can act on it (delete
the duplicate, enrol more or cleaner speech, or keep the pair out of 1:N), but only if
told when it happens.

A pair is *similar* when the cosine of their voiceprints stands far out of how strangers
score against each other in the namespace: at least :data:`SIMILAR_VOICE_Z` standard
deviations above the namespace's impostor mean. Both come from the impostor model the
operating point already holds (:mod:`voxprint.adaptation`: adapted to the namespace's
enrolled profiles, the built-in prior while there are fewer than two), at unlimited
speech, which is what an averaged voiceprint approaches. So the bar moves with the audio:
about 0.5 on clean wideband speech, about 0.8 where strangers score near 0.3 (8 kHz
calls, children).

Measured on every development domain (`bench/similar_profiles.py`, docs/benchmarks.md):
at 4 standard deviations, 0-9 % of profiles are warned about a different speaker (most
of them children's voices, which do get confused), and 74-100 % of a speaker enrolled a
second time from other clips is caught on every domain of sentences or words; digit
strings and children enrolled only among children are caught less often.

Pure numpy: the service decides when to look and which profiles to compare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxprint.adaptation import Band
from voxprint.decision import OperatingPoint
from voxprint.errors import InvalidParameterError
from voxprint.scoring.llr import ConditionModel

#: How far above the strangers' mean (in their standard deviations) a pair of voiceprints
#: must score to be reported as similar voices.
SIMILAR_VOICE_Z = 4.0
#: At most this many similar voices are reported for one profile (the closest first).
MAX_REPORTED = 5


@dataclass(frozen=True)
class SimilarVoice:
    """One other voiceprint close to the profile's: ``index`` into the compared rows, the
    raw ``cosine``, and ``z``: how many impostor standard deviations above the impostor
    mean that cosine is."""

    index: int
    cosine: float
    z: float


def similar_voices(
    point: OperatingPoint,
    band: Band,
    voiceprint: np.ndarray,
    others: np.ndarray,
    *,
    z: float = SIMILAR_VOICE_Z,
) -> tuple[SimilarVoice, ...]:
    """The rows of ``others`` ``(n, dim)`` whose voiceprints are similar to ``voiceprint``
    ``(dim,)`` under ``point``'s impostor model of ``band``, closest first (at most
    :data:`MAX_REPORTED`).

    Nothing is reported where the operating point has no impostor model of cosines (a
    user's logistic calibration, or AS-Norm scores): there is no scale to measure on.
    """
    if z <= 0:
        raise InvalidParameterError(f"the similar-voice bar must be positive, got {z}")
    model = point.model(band)
    if point.normalized or not isinstance(model, ConditionModel):
        return ()
    rows = np.asarray(others, dtype=np.float64).reshape(-1, np.shape(voiceprint)[-1])
    if rows.shape[0] == 0:
        return ()
    cosines = rows @ np.asarray(voiceprint, dtype=np.float64)
    zs = (cosines - model.impostors.mean) / model.impostors.std
    close = np.flatnonzero(zs >= z)
    order = close[np.argsort(-cosines[close], kind="stable")][:MAX_REPORTED]
    return tuple(SimilarVoice(int(i), float(cosines[i]), float(zs[i])) for i in order)
