"""The one source of operating points: which thresholds and score model decide, per namespace.

In order of precedence:

1. **calibrated**: the user's own calibration (``voxprint calibrate``), for this encoder
   version and the bands its trials covered (at most one per band and scale: calibrating
   telephone trials keeps the app calibration); with a stored AS-Norm cohort and an
   AS-Norm calibration, scores are normalised against the cohort;
2. **adapted**: the encoder's cross-domain prior, with its impostor model fitted to the
   namespace's enrolled profiles (:mod:`voxprint.adaptation`); the statistics are kept in
   the store, recomputed whenever a profile of the namespace is enrolled, reset or
   deleted, and never mix namespaces;
3. **prior**: the built-in prior alone, while the namespace has fewer than two enrolled
   profiles (or the encoder's own calibration, for a trained checkpoint).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from voxprint.adaptation import MAX_SAMPLED_PROFILES, ProfileClips, band_of
from voxprint.decision import DEFAULT_RIVAL_WEIGHT, OperatingPoint, SourceKind, ThresholdSource
from voxprint.encoders.base import SpeakerEncoder
from voxprint.enrollment import DEFAULT_ENROLLMENT_SPEECH_SECONDS
from voxprint.errors import ModelError, StoreError
from voxprint.operating_points import (
    ScoringPrior,
    calibrated_operating_point,
    encoder_operating_point,
    prior_for,
)
from voxprint.scorer import Scorer
from voxprint.scoring.asnorm import AsNorm
from voxprint.scoring.centring import own_share
from voxprint.scoring.llr import ConditionModel, logit
from voxprint.store.base import Store
from voxprint.store.records import (
    Band,
    Clip,
    GalleryStatistics,
    Profile,
    ScoreScale,
    StoredCalibration,
)

logger = logging.getLogger(__name__)


def known_bands(bands: tuple[Band, ...]) -> tuple[Band, ...]:
    """The bands a decision scores, where none given means not known (two voiceprints
    compared with no audio): decided as the band unmeasured audio counts as
    (:func:`voxprint.adaptation.band_of`), so a calibration of the other band alone
    never decides them."""
    return bands or (band_of(None),)


@dataclass(frozen=True)
class _Calibrated:
    """A stored calibration and the operating point made from it."""

    calibration: StoredCalibration
    point: OperatingPoint


@dataclass(frozen=True)
class _Scoring:
    """The calibrations and cohort read at one scoring version of the store."""

    version: int
    #: The calibrations in force, in order of preference: with a cohort the AS-Norm ones
    #: first; per scale, the one deciding the most bands first (at most one per band).
    calibrated: tuple[_Calibrated, ...]
    cohort: AsNorm | None

    def deciding(self, bands: tuple[Band, ...]) -> _Calibrated | None:
        """The first calibration in force that decides claims of every one of ``bands``
        (:func:`known_bands`); ``None``: none does."""
        for calibrated in self.calibrated:
            if all(calibrated.calibration.covers(band) for band in known_bands(bands)):
                return calibrated
        return None


@dataclass
class _ScoringCache:
    current: _Scoring | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _RescaledCache:
    """Statistics recomputed in memory because the stored ones were scaled with another
    shrinkage: per namespace and shrinkage (a passphrase prior shares the cache with the
    text-independent one), the stale row they replace and the recomputed statistics."""

    by_key: dict[
        tuple[str, float, float, bool], tuple[GalleryStatistics, GalleryStatistics | None]
    ] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _read_scoring(
    store: Store, name: str, version: str, *, normalize: bool, scoring_version: int
) -> _Scoring:
    """The encoder version's stored calibrations and cohort, as they are now."""
    cohort: AsNorm | None = None
    stored_cohort = store.get_cohort(name, version) if normalize else None
    asnorm = store.get_calibrations(name, version, ScoreScale.ASNORM)
    in_force = store.get_calibrations(name, version, ScoreScale.COSINE)
    if stored_cohort is not None and asnorm:
        in_force = (*asnorm, *in_force)  # a band without an AS-Norm one keeps its cosine one
        cohort = AsNorm(stored_cohort.embeddings)
    if stored_cohort is not None and not asnorm and normalize:
        logger.warning(
            "a cohort is stored for %s (%s) but no AS-Norm calibration; scores are "
            "not normalised (run `voxprint calibrate` to fit one)",
            name,
            version,
        )
    calibrated = tuple(_Calibrated(c, calibrated_operating_point(c)) for c in in_force)
    return _Scoring(scoring_version, calibrated, cohort)


@dataclass(frozen=True)
class Thresholds:
    """Operating points of one encoder version over one store, per namespace.

    The user's calibrations and cohort are re-read whenever the store's
    :meth:`~voxprint.store.base.ScoringStore.scoring_version` moves (one small query per
    decision), so ``voxprint calibrate`` or ``cohort build`` take effect in running
    services, on every worker, without a restart.
    """

    store: Store
    encoder_name: str
    encoder_version: str
    prior: ScoringPrior | None
    #: The encoder's operating point without namespace data (prior or checkpoint);
    #: ``None`` only when a calibration stands in for it.
    fallback: OperatingPoint | None
    #: Apply AS-Norm when a cohort and an AS-Norm calibration are stored.
    normalize: bool = True
    #: How much a verify claim weighs the namespace's other profiles against a stranger
    #: (:attr:`voxprint.decision.OperatingPoint.rival_weight`), whatever the point's source.
    rival_weight: float = DEFAULT_RIVAL_WEIGHT
    #: Whether a stored calibration overrides the prior. Off for claims the calibration's
    #: trials say nothing about (passphrase claims: same words, their own prior).
    use_calibration: bool = True
    _scoring: _ScoringCache = field(default_factory=_ScoringCache, repr=False, compare=False)
    _rescaled: _RescaledCache = field(default_factory=_RescaledCache, repr=False, compare=False)

    @classmethod
    def load(
        cls,
        store: Store,
        encoder: SpeakerEncoder,
        *,
        normalize: bool = True,
        rival_weight: float = DEFAULT_RIVAL_WEIGHT,
    ) -> Thresholds:
        """Build the source for ``encoder`` and read its stored calibrations and cohort."""
        fallback: OperatingPoint | None = None
        error: ModelError | None = None
        try:
            fallback = encoder_operating_point(encoder)
        except ModelError as exc:
            error = exc
        thresholds = cls(
            store=store,
            encoder_name=encoder.name,
            encoder_version=encoder.version,
            prior=prior_for(encoder),
            fallback=fallback,
            normalize=normalize,
            rival_weight=rival_weight,
        )
        if error is not None and thresholds.calibrated is None:
            raise error
        return thresholds

    def _current(self) -> _Scoring:
        """The calibrations and cohort at the store's current scoring version."""
        version = self.store.scoring_version()
        cache = self._scoring
        current = cache.current
        if current is not None and current.version == version:
            return current
        with cache.lock:
            current = cache.current
            if current is None or current.version != version:
                current = _read_scoring(
                    self.store,
                    self.encoder_name,
                    self.encoder_version,
                    normalize=self.normalize,
                    scoring_version=version,
                )
                cache.current = current
                logger.debug("calibrations of %s re-read at version %d", self.encoder_name, version)
            return current

    @property
    def calibrated(self) -> OperatingPoint | None:
        """The user's calibration that decides when a decision's bands are not known
        (:func:`known_bands`), when one is stored; it overrides everything else."""
        deciding = self._current().deciding(())
        return None if deciding is None else deciding.point

    @property
    def calibrations(self) -> tuple[StoredCalibration, ...]:
        """The stored calibrations in force, in order of preference (at most one per band
        and scale; with a cohort, the AS-Norm ones first)."""
        return tuple(c.calibration for c in self._current().calibrated)

    def calibration(self, *bands: Band) -> StoredCalibration | None:
        """The stored calibration that decides a decision scoring pairs of ``bands`` (none
        given: not known, :func:`known_bands`), when one covers them all."""
        deciding = self._current().deciding(bands)
        return None if deciding is None else deciding.calibration

    @property
    def cohort(self) -> AsNorm | None:
        """The AS-Norm cohort, when a cohort and an AS-Norm calibration are stored."""
        return self._current().cohort

    def statistics(self, namespace: str) -> GalleryStatistics | None:
        """``namespace``'s gallery statistics for this encoder version.

        Statistics stored with another shrinkage than the prior's (stored by an earlier
        voxprint whose prior has since been refitted), stored before each band's pairs
        were kept apart, or centred where the prior does not centre (or the other way
        round), are recomputed from the enrolled profiles, once per stale row
        and process, and used in memory: the read path never writes, and the next
        enrolment, reset or deletion stores fresh ones.
        """
        stored = self.store.get_statistics(namespace, self.encoder_name, self.encoder_version)
        prior = self.prior
        if stored is None or prior is None:
            return stored
        if prior.current(stored):
            return stored
        cache = self._rescaled
        key = (namespace, prior.shrink_seconds, prior.speech_offset, prior.centre is not None)
        with cache.lock:
            cached = cache.by_key.get(key)
            if cached is not None and cached[0] == stored:
                return cached[1]
            try:
                recomputed = self._statistics_of(prior, namespace)
            except StoreError as error:  # decide with the stored row rather than fail
                logger.warning("gallery statistics of %r not recomputed: %s", namespace, error)
                return stored
            if recomputed is not None:  # the same profiles, read another way: no change
                recomputed = replace(recomputed, updated_at=stored.updated_at)
            cache.by_key[key] = (stored, recomputed)
        logger.debug(
            "gallery statistics of namespace %r were stored by an earlier voxprint (another "
            "shrinkage, or both bands' pairs blended); recomputed from its enrolled profiles",
            namespace,
        )
        return recomputed

    def operating_point(self, namespace: str, *bands: Band) -> OperatingPoint:
        """The operating point in force for ``namespace``, for a decision that scores pairs
        of recordings of ``bands`` (:func:`voxprint.adaptation.pair_band`; none given: not
        known)."""
        return self._point(namespace, self._current(), bands)

    def _point(self, namespace: str, scoring: _Scoring, bands: tuple[Band, ...]) -> OperatingPoint:
        """The operating point in force for ``namespace`` and a decision scoring pairs of
        ``bands``, with the calibrations of one read of the store (``scoring``). A
        calibration decides a decision only when its trials covered every band the decision
        scores (when they are not known, the band unmeasured audio counts as:
        :func:`known_bands`): of a calibration per band, each decides its own band's
        claims. When none covers them all (an identification among both bands' profiles),
        the point the namespace would have without a calibration decides, whole: one
        decision, one point."""
        bands = known_bands(bands)
        if scoring.calibrated and (self.use_calibration or self.prior is None):
            deciding = scoring.deciding(bands)
            if deciding is not None:
                return self._weighing(deciding.point)
            own = self._uncalibrated(namespace)
            if own is None:  # nothing else knows this encoder: the closest calibration decides
                closest = max(
                    scoring.calibrated,
                    key=lambda c: sum(c.calibration.covers(band) for band in bands),
                )
                return self._weighing(closest.point)
            stored = tuple(c.calibration for c in scoring.calibrated)
            return self._weighing(_beside(own, stored, bands))
        own = self._uncalibrated(namespace)
        if own is None:
            raise ModelError(f"no operating point is known for encoder {self.encoder_name!r}")
        return self._weighing(own)

    def _uncalibrated(self, namespace: str) -> OperatingPoint | None:
        """The point without the user's calibration: the prior adapted to ``namespace``,
        else the encoder's own (``None``: neither is known)."""
        if self.prior is not None:
            return self.prior.operating_point(self.statistics(namespace))
        return self.fallback

    def _weighing(self, point: OperatingPoint) -> OperatingPoint:
        """``point`` with this source's rival weight."""
        if point.rival_weight == self.rival_weight:
            return point
        return replace(point, rival_weight=self.rival_weight)

    def scorer(self, namespace: str, *bands: Band) -> Scorer:
        """The scorer of the point in force for ``namespace`` and a decision scoring pairs
        of ``bands`` (:meth:`operating_point`)."""
        scoring = self._current()  # one read: the point and its cohort belong together
        point = self._point(namespace, scoring, bands)
        return Scorer(point, scoring.cohort if point.normalized else None)

    def refresh(self, namespace: str) -> GalleryStatistics | None:
        """Recompute and store ``namespace``'s gallery statistics from its enrolled
        profiles (call after any enrolment, reset or deletion there)."""
        if self.prior is None:
            return None
        statistics = self._statistics_of(self.prior, namespace)
        self.store.save_statistics(namespace, self.encoder_name, self.encoder_version, statistics)
        logger.debug("gallery statistics of namespace %r: %s", namespace, statistics)
        return statistics

    def impostor_point(self, namespace: str, *, excluding: str) -> OperatingPoint | None:
        """The prior's operating point adapted to ``namespace`` as if profile ``excluding``
        were not enrolled: how strangers score there, measured without that profile (whose
        own pairs would otherwise lift the estimate). ``None`` for an encoder without a
        built-in prior. Whatever calibration decides, this describes impostor cosines.
        """
        if self.prior is None:
            return None
        statistics = self._statistics_of(self.prior, namespace, excluding=excluding)
        return self.prior.operating_point(statistics)

    def _statistics_of(
        self, prior: ScoringPrior, namespace: str, *, excluding: str | None = None
    ) -> GalleryStatistics | None:
        # The namespace's first profiles by id, and each band's own: among 2,000 app
        # profiles, 20 telephone ones would otherwise give the narrowband model one pair.
        # A namespace that fits in the first sample is all there already.
        limit = MAX_SAMPLED_PROFILES + (excluding is not None)
        kept: dict[str, tuple[Profile, list[Clip]]] = {}
        for band in (None, *Band):
            sample = self.store.enrolled_sample(
                namespace,
                encoder_name=self.encoder_name,
                encoder_version=self.encoder_version,
                limit=limit,
                band=band,
            )
            chosen = [(p, clips) for p, clips in sample if p.id != excluding]
            for profile, clips in chosen[:MAX_SAMPLED_PROFILES]:
                kept.setdefault(profile.id, (profile, clips))
            if band is None and len(sample) < limit:
                break
        profiles = [
            ProfileClips(
                voiceprint=profile.voiceprint,
                embeddings=np.stack([clip.embedding for clip in clips]),
                seconds=np.array([clip.net_speech_seconds for clip in clips]),
                bandwidths=tuple(clip.bandwidth_hz for clip in clips),
            )
            for profile, clips in kept.values()
            if profile.voiceprint is not None and clips
        ]
        return prior.statistics(profiles, updated_at=datetime.now(UTC))


#: Probe speech (seconds) at which ``voxprint thresholds show`` lists the cosine needed.
EXAMPLE_PROBE_SECONDS = (0.5, 1.0, 3.0, 10.0)
#: ... against a voiceprint enrolled from this much speech (the default enrolment).
EXAMPLE_ENROL_SECONDS = DEFAULT_ENROLLMENT_SPEECH_SECONDS


@dataclass(frozen=True)
class BandReport:
    """One band of an operating point: its impostor model (when the model has one) and the
    cosine needed to accept a probe of each of :data:`EXAMPLE_PROBE_SECONDS`. ``source``
    and ``verification_threshold`` are set when this band's claims are decided by another
    point than the report's own (a calibration fitted on the other band's trials only)."""

    band: Band
    impostor_mean: float | None
    impostor_std: float | None
    cosine_to_accept: dict[float, float]
    source: ThresholdSource | None = None
    verification_threshold: float | None = None


@dataclass(frozen=True)
class CalibrationRow:
    """One stored calibration of the encoder version, and whether it decides the claims of
    its bands now (not: an AS-Norm one without a cohort, or one that another in force
    precedes)."""

    calibration: StoredCalibration
    in_use: bool


@dataclass(frozen=True)
class ThresholdReport:
    """The operating point in force for a namespace, and how it was derived."""

    namespace: str
    encoder_name: str
    encoder_version: str
    source: ThresholdSource
    verification_threshold: float
    identification_threshold: float
    min_speech_seconds: float
    normalized: bool
    bands: tuple[BandReport, ...]
    #: How much a verify claim weighs the namespace's other profiles, together, against a
    #: stranger.
    rival_weight: float
    statistics: GalleryStatistics | None
    #: How many enrolled profiles' mean voiceprint counts in the centre the cosines are
    #: taken around (0: the shipped centre alone), and that mean's share of it;
    #: ``None``: cosines are not centred (:mod:`voxprint.scoring.centring`).
    centre_profiles: int | None = None
    centre_own_share: float | None = None
    #: In a namespace that mixes bands, each band's centre instead (each side of a pair
    #: is taken around its own band's): how many profiles enrolled wholly in that band
    #: count in it, and their mean's share of it. ``None``: one centre for every side.
    band_centres: Mapping[Band, tuple[int, float]] | None = None
    #: The bands whose claims the calibration in force decides (``None``: no calibration
    #: decides, or it was stored before voxprint recorded its trials' bands).
    calibration_bands: tuple[Band, ...] | None = None
    #: Every stored calibration of the encoder version (at most one per band and scale),
    #: cosine first; none listed where calibrations are not used (passphrase claims).
    calibrations: tuple[CalibrationRow, ...] = ()
    #: The point passphrase claims (text-dependent profiles) decide with, where it differs
    #: from this one (:meth:`voxprint.passphrase.service.PassphraseService.threshold_report`;
    #: ``None``: not reported).
    text_dependent: ThresholdReport | None = None


def _beside(
    point: OperatingPoint, calibrations: tuple[StoredCalibration, ...], bands: tuple[Band, ...]
) -> OperatingPoint:
    """``point`` deciding a decision scoring pairs of ``bands``, which no calibration in
    force (``calibrations``) covers whole; its source says so."""
    sources = ", ".join(dict.fromkeys(c.source or "voxprint calibrate" for c in calibrations))
    missing = [b for b in Band if b in bands and not any(c.covers(b) for c in calibrations)]
    if missing:
        fitted = " and ".join(b.value for b in Band if any(c.covers(b) for c in calibrations))
        which = "the calibration" if len(calibrations) == 1 else "the calibrations"
        note = (
            f"; {missing[0].value} claims are not decided by {which} in force "
            f"({sources}), fitted on {fitted} trials only"
        )
    else:
        scored = " and ".join(b.value for b in Band if b in bands)
        note = (
            f"; a decision scoring {scored} pairs together is not decided by a calibration: "
            f"each one in force ({sources}) was fitted on one band's trials only"
        )
    return replace(point, source=replace(point.source, description=point.source.description + note))


def _band_report(point: OperatingPoint, band: Band, *, own: bool = True) -> BandReport:
    """``band``'s row of ``point``; ``own=False``: a point other than the report's."""
    source = None if own else point.source
    threshold = None if own else point.verification_threshold
    model = point.model(band)
    if not isinstance(model, ConditionModel):
        return BandReport(band, None, None, {}, source, threshold)
    needed = logit(point.verification_threshold)
    return BandReport(
        band=band,
        impostor_mean=model.impostors.mean,
        impostor_std=model.impostors.std,
        cosine_to_accept={
            seconds: model.cosine_for_llr(needed, seconds, EXAMPLE_ENROL_SECONDS)
            for seconds in EXAMPLE_PROBE_SECONDS
        },
        source=source,
        verification_threshold=threshold,
    )


def threshold_report(thresholds: Thresholds, namespace: str) -> ThresholdReport:
    """What ``voxprint thresholds show`` and ``GET /v1/thresholds`` answer: the point in
    force, and each band's figures from the point that decides that band's claims."""
    point = thresholds.operating_point(namespace)
    by_band = {band: thresholds.operating_point(namespace, band) for band in Band}
    calibration = thresholds.calibration() if point.source.kind is SourceKind.CALIBRATED else None
    statistics = thresholds.statistics(namespace)
    rows: tuple[CalibrationRow, ...] = ()
    if thresholds.use_calibration or thresholds.prior is None:
        stored = thresholds.store.get_calibrations(
            thresholds.encoder_name, thresholds.encoder_version
        )
        rows = tuple(
            CalibrationRow(c, thresholds.calibration(*(b for b in Band if c.covers(b))) == c)
            for c in stored
        )
    profiles = (
        None
        if point.centre is None or thresholds.prior is None
        else thresholds.prior.centre_profiles(statistics)
    )
    return ThresholdReport(
        namespace=namespace,
        encoder_name=thresholds.encoder_name,
        encoder_version=thresholds.encoder_version,
        source=point.source,
        verification_threshold=point.verification_threshold,
        identification_threshold=point.identification_threshold,
        min_speech_seconds=point.min_speech_seconds,
        normalized=point.normalized,
        bands=tuple(
            _band_report(by_band[band], band, own=by_band[band].source == point.source)
            for band in Band
        ),
        rival_weight=point.rival_weight,
        statistics=statistics,
        centre_profiles=profiles,
        centre_own_share=None if profiles is None else own_share(profiles),
        band_centres=None
        if point.band_centres is None or statistics is None
        else {
            c.band: (c.profiles, own_share(c.profiles))
            for c in statistics.band_centres or ()
            if c.band in point.band_centres
        },
        calibration_bands=None
        if calibration is None or calibration.bands is None
        else tuple(band for band in Band if calibration.covers(band)),
        calibrations=rows,
    )
