"""Enrolled voices too alike to tell apart: the warning given when a profile is enrolled.

Two profiles of one person (enrolled twice under two names), or two voices that are
genuinely close (siblings, children of one age), split identification between them:
a probe of either may be named as the other, or as nobody. The user can act on it (delete
the duplicate, enrol more or cleaner speech, or keep the pair out of 1:N), but only if
told when it happens.

A pair is *similar* when the cosine of their voiceprints stands far out of how strangers
score against each other in the namespace: at least :data:`SIMILAR_VOICE_Z` standard
deviations above the impostor mean of the operating point it is given, at unlimited speech
(what an averaged voiceprint approaches). The service gives it the built-in prior adapted
to the namespace's other profiles (:meth:`voxprint.thresholds.Thresholds.impostor_point`),
so the bar moves with the audio: 0.46-0.56 in centred cosine on clean wideband speech and
one-second words, 0.67 on 8 kHz calls, 0.77 among children only.

Measured on every development domain (`bench/similar_profiles.py`, docs/benchmarks.md):
at 4.5 standard deviations, no profile is warned about a different speaker (9.1 % on
speechocean762, children against each other); a speaker enrolled a second time from
other clips is caught 98-100 % of the time on clean sentences, 86-94 % on one-second
words, 8 kHz calls and 5 dB SNR, less with noise at 0 dB and on digit strings.

Pure numpy: the service decides when to look and which profiles to compare.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voxprint.adaptation import Band
from voxprint.decision import OperatingPoint
from voxprint.errors import InvalidParameterError
from voxprint.scoring.llr import ConditionModel

#: How far above the strangers' mean (in their standard deviations) a pair of voiceprints
#: must score to be reported as similar voices.
SIMILAR_VOICE_Z = 4.5
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
    band: Band | Sequence[Band],
    voiceprint: np.ndarray,
    others: np.ndarray,
    *,
    z: float = SIMILAR_VOICE_Z,
    side: Band | None = None,
    sides: Sequence[Band | None] | None = None,
) -> tuple[SimilarVoice, ...]:
    """The rows of ``others`` ``(n, dim)`` whose voiceprints are similar to ``voiceprint``
    ``(dim,)`` under ``point``'s impostor model of ``band`` (one band, or one per row:
    the band of each pair, :func:`voxprint.adaptation.pair_band`), closest first (at
    most :data:`MAX_REPORTED`).

    Nothing is reported where the operating point has no impostor model of cosines (a
    user's logistic calibration, or AS-Norm scores): there is no scale to measure on.
    Where the point centres embeddings, the cosines are centred ones, as the scorer's
    (:meth:`OperatingPoint.cosines`; ``side`` and ``sides``: the band the voiceprint's
    and each other row's clips were all recorded in, which pick their centres in a
    namespace that mixes bands).
    """
    if z <= 0:
        raise InvalidParameterError(f"the similar-voice bar must be positive, got {z}")
    measured = voice_distances(point, band, voiceprint, others, side=side, sides=sides)
    if measured is None:
        return ()
    cosines, zs = measured
    close = np.flatnonzero(zs >= z)
    order = close[np.argsort(-cosines[close], kind="stable")][:MAX_REPORTED]
    return tuple(SimilarVoice(int(i), float(cosines[i]), float(zs[i])) for i in order)


def voice_distances(
    point: OperatingPoint,
    band: Band | Sequence[Band],
    voiceprint: np.ndarray,
    others: np.ndarray,
    *,
    side: Band | None = None,
    sides: Sequence[Band | None] | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(cosines, zs)`` ``(n,)`` of ``voiceprint`` against each row of ``others`` under
    ``point``'s impostor model of ``band`` (as in :func:`similar_voices`, ``side`` and
    ``sides`` too); ``None`` where the point has no impostor model of cosines to measure
    on."""
    rows = np.asarray(others, dtype=np.float64).reshape(-1, np.shape(voiceprint)[-1])
    bands = [band] * rows.shape[0] if isinstance(band, Band) else list(band)
    if len(bands) != rows.shape[0]:
        raise InvalidParameterError(f"{len(bands)} bands given for {rows.shape[0]} voiceprints")
    models = [point.model(b) for b in bands]
    scaled = [m for m in models if isinstance(m, ConditionModel)]
    if point.normalized or len(scaled) != len(models) or not scaled:
        return None
    means = np.array([m.impostors.mean for m in scaled])
    stds = np.array([m.impostors.std for m in scaled])
    # as the scorer takes them: centred where the point's model is of centred cosines,
    # each side on its band's centre where the namespace keeps one per band
    cosines = point.cosines(np.asarray(voiceprint), side, rows, sides)
    return cosines, (cosines - means) / stds
