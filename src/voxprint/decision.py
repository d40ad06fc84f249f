"""Decisions: accept/reject, a name or "unknown", and "too little speech to decide".

Scores come from :mod:`voxprint.scoring`: a log-likelihood ratio (LLR) per reference,
whose sigmoid is the calibrated score (the probability of "same speaker" at even prior
odds). This module only compares those with thresholds.

* **Verification** accepts when the calibrated score reaches
  :attr:`OperatingPoint.verification_threshold`.
  Where the namespace holds other profiles, the score weighs the claim against them as
  well as against a stranger (:attr:`OperatingPoint.rival_weight`,
  :mod:`voxprint.scoring.rivals`).
* **Open-set identification** weighs every enrolled profile and "someone not enrolled"
  together: with half the prior on "not enrolled" and the other half spread evenly over
  the ``N`` profiles, the posterior of profile ``i`` is
  ``exp(llr_i) / (N + sum_j exp(llr_j))``. The best profile is named when its posterior
  reaches :attr:`OperatingPoint.identification_threshold`. A larger gallery gives a
  stranger more chances to look like someone, and the ``N`` in the denominator asks for
  correspondingly more evidence: no separate gallery-size rule is needed.
* **Too little speech**: under ``min_speech_seconds`` the answer is "reject" or
  "unknown" with that reason, never a name. An identification that names nobody also
  answers "too little speech" when the probe is shorter than the speech an ordinary
  owner needs to be named among this many profiles (``speech_needed``, from
  :class:`voxprint.scorer.Scorer`): a larger gallery asks for more evidence, and half a
  second of speech that could not name anyone among 80 profiles is not evidence that the
  speaker is a stranger.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np

from voxprint.adaptation import Band, band_of, pair_band
from voxprint.errors import InvalidParameterError
from voxprint.scoring.centring import centred_cosines
from voxprint.scoring.llr import ScoreModel

#: Default minimum calibrated score to accept a claim, and minimum posterior to name a
#: speaker: a confident wrong answer is worse than "unknown" (docs/thresholds.md).
DEFAULT_VERIFICATION_THRESHOLD = 0.9
DEFAULT_IDENTIFICATION_THRESHOLD = 0.7
#: Below this much net speech no claim is decided (measured: docs/benchmarks.md).
DEFAULT_MIN_DECISION_SPEECH_SECONDS = 0.3
#: How much a verify claim's alternative weighs "another enrolled profile" (spread evenly
#: over the namespace's others) against "a stranger" (:mod:`voxprint.scoring.rivals`;
#: measured across domains: docs/benchmarks.md, "Claims weighed against enrolled
#: look-alikes").
DEFAULT_RIVAL_WEIGHT = 1.0
#: How many of the namespace's other profiles a voice must stand out from
#: (:attr:`OperatingPoint.standout_margin`; measured: docs/benchmarks.md, "A voice must
#: stand out from the next five").
STANDOUT_OTHERS = 5


class Decision(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


class DecisionReason(StrEnum):
    """Why an answer is what it is."""

    MATCH = "match"
    NO_MATCH = "no_match"
    INSUFFICIENT_SPEECH = "insufficient_speech"
    #: The voice would pass on its own, but other enrolled profiles of the namespace score
    #: as high: a claim is refused (:mod:`voxprint.scoring.rivals`), or nobody is named
    #: (the voice does not stand out, :attr:`OperatingPoint.standout_margin`).
    LOOK_ALIKE = "look_alike"


class SourceKind(StrEnum):
    """Where the operating point in force comes from."""

    PRIOR = "prior"
    ADAPTED = "adapted"
    CALIBRATED = "calibrated"


@dataclass(frozen=True)
class ThresholdSource:
    """How an operating point was derived: the built-in prior, adapted from a namespace's
    ``profiles`` and ``clips``, or the user's calibration; ``updated_at`` is when it last
    changed (``None`` for the built-in prior)."""

    kind: SourceKind
    description: str
    profiles: int = 0
    clips: int = 0
    updated_at: datetime | None = None


@dataclass(frozen=True)
class OperatingPoint:
    """Score models (per audio band) and the thresholds that turn their scores into answers."""

    models: Mapping[Band, ScoreModel]
    source: ThresholdSource
    verification_threshold: float = DEFAULT_VERIFICATION_THRESHOLD
    identification_threshold: float = DEFAULT_IDENTIFICATION_THRESHOLD
    min_speech_seconds: float = DEFAULT_MIN_DECISION_SPEECH_SECONDS
    #: Scores are AS-Norm scores (against a stored cohort), not raw cosines.
    normalized: bool = False
    #: The band of the namespace's enrolment clips
    #: (:func:`voxprint.adaptation.enrolment_band`; ``None``: not known); with the
    #: probe's band it picks the score model (:meth:`band_for`).
    gallery_band: Band | None = None
    details: Mapping[str, float] = field(default_factory=dict)
    #: A verify claim is weighed against a stranger and, with this weight in all, against
    #: the namespace's other enrolled profiles (0: against a stranger only).
    rival_weight: float = DEFAULT_RIVAL_WEIGHT
    #: ``(dim,) float32``: embeddings are centred on it before their cosines are taken
    #: (:mod:`voxprint.scoring.centring`; the models are of centred cosines); ``None``:
    #: cosines as they are.
    centre: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: ``(dim,) float32``: with a centre, cosines never exceed those centred on this one
    #: instead (the shipped centre; :func:`voxprint.scoring.centring.centred_cosines`).
    ceiling_centre: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: ``(dim,) float32`` per band: in a namespace that mixes app and telephone
    #: enrolments, each side of a pair is centred on its own band's centre instead
    #: (:meth:`side_centre`); ``None``: every side on ``centre``.
    band_centres: Mapping[Band, np.ndarray] | None = field(default=None, compare=False, repr=False)
    #: Identification names a voice only when its cosine stands at least this far above
    #: the mean of the :attr:`standout_others` next highest of the namespace's other
    #: profiles scored on the same scale (:func:`voxprint.scoring.rivals.standout`;
    #: ``None``: no such guard). Profiles crafted to pull a namespace's impostor model
    #: down make every real stranger score as a match (bench/band_centre_poisoning.py:
    #: 600 of them beside 83 telephone profiles named 23 of 84 strangers), but they
    #: cannot lift a stranger above the real voices nearest it: this guard leaves such
    #: an answer unknown. Verification does not use it: a claim is weighed against the
    #: same voices by its rivals (:mod:`voxprint.scoring.rivals`), and a guard there
    #: refused owners a score would accept (bench/decisions.py: tel-8k FRR 1.2 → 3.6 %).
    standout_margin: float | None = None
    standout_others: int = STANDOUT_OTHERS
    #: The same guard seen from the named profile: its voice must also stand at least
    #: this far above the mean of the :attr:`standout_others` candidates nearest that
    #: profile's own voiceprint (``None``: not checked). A stranger who lands next to a
    #: real profile scores about as high with it as that profile's nearest enrolled
    #: neighbours do; an owner scores far above them. Adding profiles can only raise
    #: those neighbours, so crafted profiles cannot lower this bar either
    #: (bench/standout.py: 600 crafted profiles beside 83 telephone ones, strangers
    #: named 9.5 → 4.8 %).
    neighbour_margin: float | None = None
    #: The same guard on a verification claim: accepted only if its cosine also stands
    #: this far above the mean of the :attr:`standout_others` profiles nearest the
    #: claimed one (``None``: not checked). Smaller than identification's: a claim is
    #: accepted at a lower score than a voice is named, so owners sit nearer their
    #: neighbours (bench/verify_neighbours.py: 0.10 refused 3 % more owners at 0 dB SNR
    #: and 8 % more one-second words). 600 crafted profiles made the claims of 6.4-7.2 %
    #: of impostors accepted on the Azure-compatible route, which weighs no rival; with
    #: this guard 0-1.2 % (bench/band_centre_poisoning.py --neighbours).
    verify_neighbour_margin: float | None = None

    def __post_init__(self) -> None:
        for name in ("verification_threshold", "identification_threshold"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise InvalidParameterError(f"{name} must be strictly between 0 and 1")
        if not (math.isfinite(self.rival_weight) and self.rival_weight >= 0.0):
            raise InvalidParameterError("rival_weight must be a finite number of at least 0")
        if self.min_speech_seconds < 0:
            raise InvalidParameterError("min_speech_seconds cannot be negative")
        for name in ("standout_margin", "neighbour_margin", "verify_neighbour_margin"):
            margin = getattr(self, name)
            if margin is not None and not math.isfinite(margin):
                raise InvalidParameterError(f"{name} must be a finite number")
        if self.standout_others < 1:
            raise InvalidParameterError("standout_others must be at least 1")
        if set(self.models) != set(Band):
            raise InvalidParameterError("an operating point needs a score model for every band")

    def model(self, band: Band) -> ScoreModel:
        return self.models[band]

    def side_centre(self, band: Band | None) -> np.ndarray | None:
        """The centre one side of a pair is taken around: its band's own
        (:attr:`band_centres`) where the namespace keeps one for it, else :attr:`centre`
        (a side of mixed or unknown band included)."""
        if self.band_centres is not None and band is not None and band in self.band_centres:
            return self.band_centres[band]
        return self.centre

    def cosines(
        self,
        embedding: np.ndarray,
        side: Band | None,
        voiceprints: np.ndarray,
        sides: Sequence[Band | None] | None = None,
    ) -> np.ndarray:
        """``(n,)`` cosines of one ``(dim,)`` embedding with ``(n, dim)`` voiceprints as
        this point's models read them: both centred on :attr:`centre` (``None``: as they
        are), never above the cosine centred on :attr:`ceiling_centre`. Where the point
        keeps a centre per band (:attr:`band_centres`) and each voiceprint's band is known
        (``sides``: the band its clips were all recorded in, ``None`` in it: mixed), the
        embedding is centred on the centre of ``side`` (its band) and each voiceprint on
        its own (:meth:`side_centre`), as the namespace's statistics were measured. The
        one rule for every cosine a decision or a similar-voice bar reads."""
        voiceprints = np.atleast_2d(voiceprints)
        centre, centres = self.centre, None
        if self.band_centres is not None and sides is not None:
            if len(sides) != voiceprints.shape[0]:
                raise InvalidParameterError(
                    f"{len(sides)} sides given for {voiceprints.shape[0]} voiceprints"
                )
            first = self.side_centre(side)
            own = [self.side_centre(s) for s in sides]
            if first is not None and own and all(c is not None for c in own):
                centre, centres = first, np.stack([c for c in own if c is not None])
        return centred_cosines(embedding, voiceprints, centre, self.ceiling_centre, centres)[0]

    def band_for(self, bandwidth_hz: float | None) -> Band:
        """The band whose model scores a probe of speech bandwidth ``bandwidth_hz``
        against this namespace's voiceprints (:func:`voxprint.adaptation.pair_band`). A
        claim on one profile uses that profile's own band instead
        (``VoxprintService.verify_utterance``)."""
        return pair_band(band_of(bandwidth_hz), self.gallery_band)

    def profile_bands_matter(self, bandwidth_hz: float | None) -> bool:
        """Whether each profile's own enrolment band can change the score model that
        judges a probe of speech bandwidth ``bandwidth_hz``: only a narrowband probe is
        judged differently against wideband and narrowband enrolments
        (:func:`voxprint.adaptation.pair_band`), and only when the bands' models differ
        (a fitted calibration has one model for both)."""
        return (
            band_of(bandwidth_hz) is Band.NARROW
            and self.models[Band.WIDE] != self.models[Band.NARROW]
        )

    def enough_speech(self, seconds: float) -> bool:
        return seconds >= self.min_speech_seconds

    def verify(self, score: float, speech_seconds: float) -> tuple[Decision, DecisionReason]:
        """Accept when there is enough speech and the calibrated score reaches the threshold."""
        if not self.enough_speech(speech_seconds):
            return Decision.REJECT, DecisionReason.INSUFFICIENT_SPEECH
        if score >= self.verification_threshold:
            return Decision.ACCEPT, DecisionReason.MATCH
        return Decision.REJECT, DecisionReason.NO_MATCH

    def stands_out(self, standout: float | None, neighbours: float | None = None) -> bool:
        """Whether a voice whose cosine stands ``standout`` above the next highest of the
        namespace's other profiles (:attr:`standout_margin`), and ``neighbours`` above
        the mean of the named profile's own nearest neighbours (:attr:`neighbour_margin`),
        may be named; ``None``: too few others to tell."""
        return _clears(standout, self.standout_margin) and _clears(
            neighbours, self.neighbour_margin
        )

    def claim_stands_out(self, neighbours: float | None) -> bool:
        """Whether a verification claim whose cosine stands ``neighbours`` above the mean
        of the claimed profile's nearest neighbours may be accepted
        (:attr:`verify_neighbour_margin`; ``None``: too few neighbours to tell)."""
        return _clears(neighbours, self.verify_neighbour_margin)

    def names(self, posterior: float) -> bool:
        """Whether a candidate with ``posterior`` is good enough to be named (speech
        apart)."""
        return posterior >= self.identification_threshold

    def identify(
        self,
        posterior: float,
        speech_seconds: float,
        speech_needed: float | None = None,
        standout: float | None = None,
        neighbours: float | None = None,
    ) -> DecisionReason:
        """Whether the best candidate (with ``posterior``) is named; ``speech_needed`` is
        the speech an ordinary owner would need to be named (``None``: not known).
        A candidate that does not stand out from the next (``standout``) or from its
        own profile's neighbours (``neighbours``, :meth:`stands_out`) is a look-alike:
        nobody is named."""
        if not self.enough_speech(speech_seconds):
            return DecisionReason.INSUFFICIENT_SPEECH
        if self.names(posterior):
            if not self.stands_out(standout, neighbours):
                return DecisionReason.LOOK_ALIKE
            return DecisionReason.MATCH
        if speech_needed is not None and speech_seconds < speech_needed:
            return DecisionReason.INSUFFICIENT_SPEECH
        return DecisionReason.NO_MATCH


def _clears(standout: float | None, margin: float | None) -> bool:
    return margin is None or standout is None or standout >= margin


def open_set_posteriors(
    llrs: np.ndarray, gallery_size: int | None = None
) -> tuple[np.ndarray, float]:
    """Posterior of each of ``n`` enrolled profiles and of "not enrolled".

    llrs: ``(n,)`` log-likelihood ratios of one probe against the profiles scored.
    ``gallery_size`` is how many profiles the probe was searched among (default ``n``):
    when only the best candidates of a larger gallery were scored, the rest weigh in the
    prior but their likelihood ratios (far below the best) are left out. Half the prior
    is on "not enrolled", half spread evenly over the profiles. Returns ``(n,)`` float64
    posteriors and the posterior of "not enrolled"; with ``gallery_size == n`` they sum
    to 1.
    """
    values = np.asarray(llrs, dtype=np.float64).ravel()
    n = max(values.size, gallery_size or 0)
    if n == 0:
        return np.zeros(values.size), 1.0
    log_unknown = np.log(n)  # prior odds unknown : profile i = (1/2) : (1/2n)
    norm = np.logaddexp(log_unknown, np.logaddexp.reduce(values))
    return np.exp(values - norm), float(np.exp(log_unknown - norm))
