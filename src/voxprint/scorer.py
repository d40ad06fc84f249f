"""The one scoring chain: (centring) -> cosine -> (AS-Norm) -> log-likelihood ratio -> score
-> decision.

Verification, identification, comparison, live recognition and the WebSockets all score
through :class:`Scorer`, fed by one :class:`~voxprint.decision.OperatingPoint` (from
:mod:`voxprint.thresholds`). Nothing else turns cosines into scores or answers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from voxprint.adaptation import Band, band_of, pair_band
from voxprint.decision import Decision, DecisionReason, OperatingPoint, open_set_posteriors
from voxprint.errors import InvalidParameterError
from voxprint.pipeline import Utterance
from voxprint.scoring.asnorm import AsNorm
from voxprint.scoring.llr import logit, probability
from voxprint.scoring.rivals import rival_penalty, standout


@dataclass(frozen=True)
class Probe:
    """What is scored: an embedding ``(dim,) float32`` with its net speech, bandwidth and
    level SNR (``None`` where not measured)."""

    embedding: np.ndarray = field(repr=False)
    net_speech_seconds: float
    bandwidth_hz: float | None = None
    snr_db: float | None = None

    @classmethod
    def of(cls, utterance: Utterance) -> Probe:
        return cls(
            utterance.embedding,
            utterance.net_speech_seconds,
            utterance.bandwidth_hz,
            utterance.snr_db,
        )


@dataclass(frozen=True)
class Verdict:
    """A 1:1 answer. ``score`` is the probability that the claim is true (at even prior
    odds), compared with ``threshold``; ``normalized_score`` is set when AS-Norm is in use.
    ``cosine_threshold`` is the cosine this claim needed at its durations (when the
    operating point's model knows durations)."""

    cosine: float
    score: float
    decision: Decision
    reason: DecisionReason
    threshold: float
    llr: float
    normalized_score: float | None = None
    cosine_threshold: float | None = None
    #: The rival (its index into :class:`Rivals`) whose resemblance to the probe turned
    #: an accepted claim into a rejection; ``None`` when none did.
    rival: int | None = None


@dataclass(frozen=True)
class Rivals:
    """The other enrolled profiles a verify claim is weighed against
    (:mod:`voxprint.scoring.rivals`): ``(k, dim)`` voiceprints enrolled from ``(k,)``
    seconds of speech each, and the band each was enrolled in (``None``: not known).
    ``others``: how many profiles besides the claimed one the namespace holds, of which
    these are the best candidates (default: just these)."""

    voiceprints: np.ndarray = field(repr=False)
    enrol_seconds: np.ndarray
    bands: Sequence[Band | None] | None = None
    others: int | None = None
    #: The band each voiceprint's clips were all recorded in (``None``: mixed or not
    #: known), which picks its centre in a namespace that mixes bands
    #: (:meth:`voxprint.decision.OperatingPoint.side_centre`).
    sides: Sequence[Band | None] | None = None

    def __len__(self) -> int:
        return int(np.asarray(self.enrol_seconds).size)


@dataclass(frozen=True)
class Ranked:
    """One candidate of an identification: ``index`` into the gallery, ``score`` the
    posterior that the probe is this profile."""

    index: int
    cosine: float
    score: float
    llr: float
    normalized_score: float | None = None


@dataclass(frozen=True)
class Ranking:
    """An open-set answer: the best ``candidates``, whether the first is named, why, the
    posterior threshold, and the posterior that the speaker is none of the profiles.

    ``speech_needed_seconds``, when nobody is named: about how much speech an ordinary
    owner needs to be named among this gallery (``None`` where the score model does not
    know durations, or no amount would do)."""

    candidates: tuple[Ranked, ...]
    identified: bool
    reason: DecisionReason
    threshold: float
    unknown_probability: float
    gallery_size: int
    speech_needed_seconds: float | None = None


#: "An ordinary owner" scores this many standard deviations under the owners' mean
#: cosine: about five owners in six score higher.
ORDINARY_OWNER_SD = 1.0
#: The longest speech the speech-needed search considers.
LONGEST_NEEDED_SECONDS = 60.0


@dataclass(frozen=True)
class Scorer:
    """Scores and decisions under ``point``. ``cohort`` is the AS-Norm cohort, used only
    when the operating point was fitted on AS-Norm scores."""

    point: OperatingPoint
    cohort: AsNorm | None = None

    def __post_init__(self) -> None:
        if self.point.normalized and self.cohort is None:
            raise InvalidParameterError("an AS-Norm operating point needs its cohort")

    def _values(
        self,
        probe: Probe,
        voiceprints: np.ndarray,
        sides: Sequence[Band | None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(n,)`` cosines as the operating point reads them
        (:meth:`OperatingPoint.cosines`: the probe on its band's side, each voiceprint on
        its ``sides`` entry, the band it was enrolled wholly in) and, with AS-Norm,
        ``(n,)`` normalised scores."""
        cosines = self.point.cosines(
            probe.embedding, band_of(probe.bandwidth_hz), voiceprints, sides
        )
        if not self.point.normalized or self.cohort is None or cosines.size == 0:
            return cosines, None
        normalized = self.cohort.normalize(
            np.atleast_2d(voiceprints), np.atleast_2d(probe.embedding), cosines[:, None]
        )[:, 0]
        return cosines, normalized

    def cosines(
        self,
        probe: Probe,
        voiceprints: np.ndarray,
        sides: Sequence[Band | None] | None = None,
    ) -> np.ndarray:
        """``(n,)`` cosines of ``probe`` with ``(n, dim)`` voiceprints as the decisions
        read them (centred on the operating point's centre, when it has one; ``sides``:
        see :meth:`_values`)."""
        return self._values(probe, np.atleast_2d(voiceprints), sides)[0]

    def _llrs(
        self, probe: Probe, values: np.ndarray, enrol_seconds: np.ndarray, band: Band
    ) -> np.ndarray:
        model = self.point.model(band)
        return model.llr(values, probe.net_speech_seconds, enrol_seconds, probe.snr_db)

    def verify(
        self,
        probe: Probe,
        voiceprint: np.ndarray,
        enrol_seconds: float,
        *,
        band: Band | None = None,
        rivals: Rivals | None = None,
        side: Band | None = None,
        neighbours: Rivals | None = None,
    ) -> Verdict:
        """Is ``probe`` the speaker of ``voiceprint`` ``(dim,)`` (enrolled from
        ``enrol_seconds`` of speech)? ``band`` is the score model's band (default: the
        probe's against the namespace's gallery, :meth:`OperatingPoint.band_for`).
        ``rivals``: the namespace's other enrolled profiles worth weighing the claim
        against (each judged in its own band, as a claim on it would be). ``side``: the
        band the voiceprint's clips were all recorded in (``None``: mixed or not known),
        which picks its centre in a namespace that mixes bands. ``neighbours``: other
        enrolled profiles among which the claimed one's nearest are found; with the
        point's :attr:`~voxprint.decision.OperatingPoint.verify_neighbour_margin`, a
        claim is accepted only if its cosine also stands that far above the mean of those
        nearest to the claimed voiceprint on the claim's scale (``look_alike``
        otherwise)."""
        band = self.point.band_for(probe.bandwidth_hz) if band is None else band
        cosines, normalized = self._values(probe, np.atleast_2d(voiceprint), [side])
        values = cosines if normalized is None else normalized
        own = float(self._llrs(probe, values, np.array([enrol_seconds]), band)[0])
        rival_llrs = self._rival_llrs(probe, rivals)
        others = rival_llrs.size if rivals is None or rivals.others is None else rivals.others
        penalty = rival_penalty(rival_llrs, self.point.rival_weight, max(others, rival_llrs.size))
        llr = own - penalty
        score = float(probability(llr))
        decision, reason = self.point.verify(score, probe.net_speech_seconds)
        alone, _ = self.point.verify(float(probability(own)), probe.net_speech_seconds)
        turned = penalty > 0 and decision is Decision.REJECT and alone is Decision.ACCEPT
        rival = int(np.argmax(rival_llrs)) if turned else None
        if turned:
            reason = DecisionReason.LOOK_ALIKE
        if decision is Decision.ACCEPT and not self._clears_neighbours(
            probe, voiceprint, side, float(cosines[0]), band, neighbours
        ):
            decision, reason = Decision.REJECT, DecisionReason.LOOK_ALIKE
        needed = None
        if normalized is None:  # on AS-Norm scores there is no cosine threshold
            needed = self.point.model(band).cosine_for_llr(
                logit(self.point.verification_threshold) + penalty,
                probe.net_speech_seconds,
                enrol_seconds,
                probe.snr_db,
            )
        return Verdict(
            cosine=float(cosines[0]),
            score=score,
            decision=decision,
            reason=reason,
            threshold=self.point.verification_threshold,
            llr=llr,
            normalized_score=None if normalized is None else float(normalized[0]),
            cosine_threshold=needed,
            rival=rival,
        )

    def _clears_neighbours(
        self,
        probe: Probe,
        voiceprint: np.ndarray,
        side: Band | None,
        cosine: float,
        band: Band,
        neighbours: Rivals | None,
    ) -> bool:
        """Whether a claim's ``cosine`` with ``voiceprint`` clears the neighbour guard:
        among ``neighbours`` on the claim's scale (judged in ``band``, centred on
        ``side``), the claimed voiceprint's nearest (:meth:`_neighbours_apart`). True
        when the point has no such guard, or there are too few neighbours to tell."""
        if self.point.verify_neighbour_margin is None or neighbours is None or len(neighbours) == 0:
            return True
        pool = np.atleast_2d(np.asarray(neighbours.voiceprints, dtype=np.float32))
        pairs = self._pair_bands(probe, pool.shape[0], neighbours.bands)
        sides = neighbours.sides
        alike = [
            i
            for i in range(pool.shape[0])
            if (neighbours.bands is None or pairs[i] is band)
            and (sides is None or sides[i] == side)
        ]
        gallery = np.concatenate([np.atleast_2d(voiceprint).astype(np.float32), pool[alike]])
        gallery_sides = None if sides is None else [side, *(sides[i] for i in alike)]
        apart = self._neighbours_apart(
            gallery, list(range(gallery.shape[0])), 0, cosine, gallery_sides
        )
        return self.point.claim_stands_out(apart)

    def _rival_llrs(self, probe: Probe, rivals: Rivals | None) -> np.ndarray:
        """``(k,)`` log-likelihood ratios of ``probe`` against each rival, in its own
        band; empty without rivals."""
        if rivals is None or len(rivals) == 0:
            return np.zeros(0)
        voiceprints = np.atleast_2d(np.asarray(rivals.voiceprints, dtype=np.float32))
        cosines, normalized = self._values(probe, voiceprints, rivals.sides)
        values = cosines if normalized is None else normalized
        pairs = self._pair_bands(probe, voiceprints.shape[0], rivals.bands)
        enrol = np.asarray(rivals.enrol_seconds, dtype=np.float64).ravel()
        return self._llrs_in_bands(probe, values, enrol, pairs)

    def _llrs_in_bands(
        self, probe: Probe, values: np.ndarray, enrol: np.ndarray, pairs: Sequence[Band]
    ) -> np.ndarray:
        """``(n,)`` log-likelihood ratios of ``probe``'s ``(n,)`` scores, each with the
        score model of its band in ``pairs``."""
        llrs = np.empty(values.shape, dtype=np.float64)
        for band in set(pairs):
            rows = np.array([i for i, b in enumerate(pairs) if b is band])
            llrs[rows] = self._llrs(probe, values[rows], enrol[rows], band)
        return llrs

    def compare(self, first: Probe, second: Probe) -> Verdict:
        """Are two recordings (or voiceprints) one speaker? ``second`` plays the enrolled
        side; the speech of both counts, and so do both bands (not the namespace's)."""
        second_band = band_of(second.bandwidth_hz)
        band = pair_band(band_of(first.bandwidth_hz), second_band)
        return self.verify(
            first, second.embedding, second.net_speech_seconds, band=band, side=second_band
        )

    def identify(
        self,
        probe: Probe,
        voiceprints: np.ndarray,
        enrol_seconds: np.ndarray,
        *,
        top_n: int,
        gallery_size: int | None = None,
        bands: Sequence[Band | None] | None = None,
        telephone: tuple[Probe, Sequence[bool]] | None = None,
        sides: Sequence[Band | None] | None = None,
    ) -> Ranking:
        """Open-set identification among ``(n, dim)`` voiceprints enrolled from
        ``(n,)`` seconds of speech each; the ``top_n`` best candidates are returned.

        ``gallery_size``: how many profiles the voiceprints were chosen from (the best
        candidates of a search), when more than ``n``. ``bands``: the band each
        voiceprint was enrolled in (:func:`voxprint.adaptation.enrolment_band`; ``None``
        in it: not known), so that each is judged as a claim on that profile would be;
        without it, every voiceprint is taken to be in the namespace's band.
        ``telephone``: the probe band-limited to the telephone band, and for each
        voiceprint whether it judges it (:func:`voxprint.adaptation.telephone_copy_helps`:
        a wideband probe against a voiceprint enrolled from telephone clips), with the
        narrowband model, as a claim on that profile would be. ``sides``: the band each
        voiceprint's clips were all recorded in (``None`` in it: mixed or not known),
        which picks its centre in a namespace that mixes bands (:meth:`_values`).
        """
        if top_n < 1:
            raise InvalidParameterError("top_n must be at least 1")
        gallery = np.asarray(voiceprints, dtype=np.float32).reshape(-1, probe.embedding.shape[-1])
        n = max(gallery.shape[0], gallery_size or 0)
        if gallery.shape[0] == 0:
            return Ranking(
                (), False, DecisionReason.NO_MATCH, self.point.identification_threshold, 1.0, 0
            )
        cosines, normalized = self._values(probe, gallery, sides)
        values = cosines if normalized is None else normalized
        enrol = np.asarray(enrol_seconds, dtype=np.float64).ravel()
        pairs = self._pair_bands(probe, gallery.shape[0], bands)
        copied, copy = np.zeros(gallery.shape[0], bool), probe
        if telephone is not None:
            copy, flags = telephone
            if len(flags) != gallery.shape[0]:
                raise InvalidParameterError(
                    f"{len(flags)} copy flags given for {gallery.shape[0]} voiceprints"
                )
            copied = np.array(flags, bool)
        if copied.any():
            copy_sides = (
                None if sides is None else [s for s, c in zip(sides, copied, strict=True) if c]
            )
            copy_cosines, copy_normalized = self._values(copy, gallery[copied], copy_sides)
            cosines, values = cosines.copy(), values.copy()
            cosines[copied] = copy_cosines
            values[copied] = copy_cosines if copy_normalized is None else copy_normalized
            normalized = None if normalized is None else values
            copy_band = pair_band(band_of(copy.bandwidth_hz), Band.NARROW)
            pairs = [copy_band if c else b for b, c in zip(pairs, copied, strict=True)]
        llrs = self._llrs_in_bands(probe, values, enrol, pairs)
        if copied.any():
            copied_pairs = [b for b, c in zip(pairs, copied, strict=True) if c]
            llrs[copied] = self._llrs_in_bands(copy, values[copied], enrol[copied], copied_pairs)
        posteriors, unknown = open_set_posteriors(llrs, n)
        order = np.argsort(-llrs, kind="stable")[:top_n]
        candidates = tuple(
            Ranked(
                index=int(i),
                cosine=float(cosines[i]),
                score=float(posteriors[i]),
                llr=float(llrs[i]),
                normalized_score=None if normalized is None else float(normalized[i]),
            )
            for i in order
        )
        needed = (
            None
            if self.point.names(candidates[0].score)
            else self.speech_needed(
                probe,
                gallery_size=n,
                enrol_seconds=float(enrol[order[0]]),
                band=pairs[order[0]],
            )
        )
        apart = neighbours = None
        guarded = self.point.standout_margin is not None or self.point.neighbour_margin is not None
        if guarded and self.point.names(candidates[0].score):
            best = int(order[0])
            alike = [  # cosines on one scale: same pair band, same centre, same copy or none
                i
                for i in range(gallery.shape[0])
                if pairs[i] is pairs[best]
                and copied[i] == copied[best]
                and (sides is None or sides[i] == sides[best])
            ]
            apart = standout(cosines[alike], alike.index(best), self.point.standout_others)
            if self.point.neighbour_margin is not None and self.point.stands_out(apart):
                neighbours = self._neighbours_apart(gallery, alike, best, cosines[best], sides)
        reason = self.point.identify(
            candidates[0].score, probe.net_speech_seconds, needed, apart, neighbours
        )
        return Ranking(
            candidates=candidates,
            identified=reason is DecisionReason.MATCH,
            reason=reason,
            threshold=self.point.identification_threshold,
            unknown_probability=unknown,
            gallery_size=n,
            speech_needed_seconds=needed,
        )

    def _neighbours_apart(
        self,
        gallery: np.ndarray,
        alike: list[int],
        best: int,
        cosine: float,
        sides: Sequence[Band | None] | None,
    ) -> float | None:
        """How far the probe's ``cosine`` with the best candidate stands above the mean of
        the :attr:`~voxprint.decision.OperatingPoint.standout_others` highest cosines of
        that candidate's own voiceprint with the other candidates on its scale
        (``alike``), as the point reads cosines; ``None`` with too few of them."""
        others = [i for i in alike if i != best]
        if len(others) < self.point.standout_others:
            return None
        own = self.point.cosines(
            gallery[best],
            None if sides is None else sides[best],
            gallery[others],
            None if sides is None else [sides[i] for i in others],
        )
        return standout(np.concatenate([[cosine], own]), 0, self.point.standout_others)

    def _pair_bands(
        self, probe: Probe, count: int, bands: Sequence[Band | None] | None
    ) -> list[Band]:
        """The band whose score model judges ``probe`` against each of ``count``
        voiceprints: the pair's band with each profile's own (``bands``), else with the
        namespace's."""
        if bands is None:
            return [self.point.band_for(probe.bandwidth_hz)] * count
        if len(bands) != count:
            raise InvalidParameterError(f"{len(bands)} bands given for {count} voiceprints")
        probe_band = band_of(probe.bandwidth_hz)
        return [pair_band(probe_band, band) for band in bands]

    def speech_needed(
        self,
        probe: Probe,
        *,
        gallery_size: int,
        enrol_seconds: float,
        band: Band | None = None,
    ) -> float | None:
        """The shortest speech (seconds) at which an ordinary owner of a voiceprint
        enrolled from ``enrol_seconds`` would be named among ``gallery_size`` profiles,
        at the probe's SNR and ``band`` (default: the probe's against the namespace's
        gallery); never under the operating point's minimum speech.

        Named means a posterior at the identification threshold with every other profile
        at even odds: a log-likelihood ratio of ``log(n) + logit(threshold)``. ``None``
        when the score model does not know durations, or not even
        :data:`LONGEST_NEEDED_SECONDS` would do.
        """
        model = self.point.model(self.point.band_for(probe.bandwidth_hz) if band is None else band)
        wanted = math.log(max(gallery_size, 1)) + logit(self.point.identification_threshold)
        floor = max(self.point.min_speech_seconds, 0.05)

        def owner(seconds: float) -> float | None:
            return model.owner_llr(seconds, enrol_seconds, probe.snr_db, ORDINARY_OWNER_SD)

        at_floor, at_longest = owner(floor), owner(LONGEST_NEEDED_SECONDS)
        if at_floor is None or at_longest is None or at_longest < wanted:
            return None
        if at_floor >= wanted:
            return floor
        lo, hi = math.log(floor), math.log(LONGEST_NEEDED_SECONDS)
        for _ in range(30):  # the owner's LLR rises with speech; bisect on log seconds
            mid = 0.5 * (lo + hi)
            value = owner(math.exp(mid))
            if value is not None and value >= wanted:
                hi = mid
            else:
                lo = mid
        return math.exp(hi)
