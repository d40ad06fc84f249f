"""Built-in scoring priors of the bundled encoders, and the operating points built from them.

The priors are fitted across every development domain of the shared data (LibriSpeech
clean, 8 kHz and noisy; FSDD digits; speechocean762 children and adults; Speech Commands;
AMI meetings), not on LibriSpeech alone: reproduce with
``python bench/fit_decisions.py`` (docs/thresholds.md explains each number).

An operating point comes from one of three sources, in this order of precedence
(:mod:`voxprint.thresholds` picks):

1. the user's calibration (``voxprint calibrate``): a logistic model fitted on their
   labelled trials, with the threshold they asked for;
2. adapted: the prior's impostor model updated with the namespace's enrolled profiles
   (:mod:`voxprint.adaptation`);
3. the prior alone (no profiles, or one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from voxprint.adaptation import (
    Band,
    GalleryStatistics,
    ImpostorPrior,
    ProfileClips,
    adapt_impostors,
    enrolment_band,
    gallery_statistics,
    mixes_bands,
)
from voxprint.decision import (
    DEFAULT_IDENTIFICATION_THRESHOLD,
    DEFAULT_MIN_DECISION_SPEECH_SECONDS,
    DEFAULT_VERIFICATION_THRESHOLD,
    OperatingPoint,
    SourceKind,
    ThresholdSource,
)
from voxprint.encoders.base import SpeakerEncoder
from voxprint.errors import ModelError
from voxprint.evaluation.operating_point import FittedScores
from voxprint.scoring.centring import namespace_centre
from voxprint.scoring.llr import ConditionModel, ImpostorScores, LogisticModel, TargetScores
from voxprint.scoring.llr import probability as llr_probability
from voxprint.store.records import StoredCalibration


@dataclass(frozen=True)
class ScoringPrior:
    """What an encoder's scores look like before any namespace data: impostor priors per
    band, the target model, the duration shrinkage, and the decision thresholds."""

    impostors: Mapping[Band, ImpostorPrior]
    targets: TargetScores
    shrink_seconds: float
    source: str
    #: Speech the encoder hears beyond the measured net speech (``ConditionModel``).
    speech_offset: float = 0.0
    verification_threshold: float = DEFAULT_VERIFICATION_THRESHOLD
    identification_threshold: float = DEFAULT_IDENTIFICATION_THRESHOLD
    min_speech_seconds: float = DEFAULT_MIN_DECISION_SPEECH_SECONDS
    #: ``(dim,) float32``: the centre shipped with the encoder (the mean voiceprint of the
    #: development data), towards which each namespace's centre is shrunk
    #: (:mod:`voxprint.scoring.centring`); ``None``: cosines are taken as they are.
    centre: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: In this encoder's cosines, how far a named voice must stand above the next of the
    #: namespace's profiles (:attr:`voxprint.decision.OperatingPoint.standout_margin`;
    #: ``None``: no such guard).
    standout_margin: float | None = None
    #: How far a named voice must stand above the named profile's own nearest
    #: neighbours (:attr:`voxprint.decision.OperatingPoint.neighbour_margin`; ``None``:
    #: not checked).
    neighbour_margin: float | None = None
    #: How far a verification claim must stand above the claimed profile's nearest
    #: neighbours (:attr:`voxprint.decision.OperatingPoint.verify_neighbour_margin`;
    #: ``None``: not checked).
    verify_neighbour_margin: float | None = None

    def statistics(
        self, profiles: Sequence[ProfileClips], *, updated_at: datetime
    ) -> GalleryStatistics | None:
        """The statistics a namespace holding ``profiles`` adapts to (``None``: none;
        :func:`voxprint.adaptation.gallery_statistics` with this prior's shrinkage and
        centre)."""
        return gallery_statistics(
            profiles,
            shrink_seconds=self.shrink_seconds,
            speech_offset=self.speech_offset,
            updated_at=updated_at,
            shipped_centre=self.centre,
        )

    def current(self, statistics: GalleryStatistics) -> bool:
        """Whether stored ``statistics`` are what this prior would compute now."""
        return statistics.current(
            self.shrink_seconds, self.speech_offset, centred=self.centre is not None
        )

    def centre_profiles(self, statistics: GalleryStatistics | None) -> int | None:
        """How many of a namespace's profiles (with ``statistics``) count in its centre:
        0 for the shipped centre alone (no profiles, statistics from before centring, or a
        namespace that mixes bands, :func:`voxprint.adaptation.mixes_bands`); ``None``
        when this prior does not centre."""
        if self.centre is None:
            return None
        if statistics is None or statistics.centre is None or mixes_bands(statistics):
            return 0
        return statistics.profiles

    def centre_for(self, statistics: GalleryStatistics | None) -> np.ndarray | None:
        """The ``(dim,)`` centre of a namespace with ``statistics``: the mean of
        :meth:`centre_profiles` of its profiles, shrunk towards this prior's centre
        (``None`` when the prior has none)."""
        profiles = self.centre_profiles(statistics)
        if self.centre is None or profiles is None:
            return None
        own = None if not profiles or statistics is None else statistics.centre
        return namespace_centre(self.centre, None if own is None else np.array(own), profiles)

    def band_centres_for(
        self, statistics: GalleryStatistics | None
    ) -> dict[Band, np.ndarray] | None:
        """In a namespace that mixes bands (:func:`voxprint.adaptation.mixes_bands`), each
        band's ``(dim,)`` centre: the mean of its profiles enrolled wholly in it, shrunk
        towards this prior's centre as :meth:`centre_for` shrinks one namespace's. Each
        side of a pair is then centred on its own band's centre (bench/cross_band.py: a
        telephone call of an app-enrolled owner named 84.5 → 92.9 %, of a telephone-
        enrolled one 91.6 → 95.2 %, against the shipped centre alone). ``None``
        otherwise: every side on :meth:`centre_for`."""
        if self.centre is None or not mixes_bands(statistics) or statistics is None:
            return None
        return {
            c.band: namespace_centre(self.centre, np.array(c.mean), c.profiles)
            for c in statistics.band_centres or ()
        } or None

    def _adapted(self, statistics: GalleryStatistics) -> dict[Band, ImpostorScores]:
        """Each band's impostor model adapted to ``statistics`` (which have pairs). A
        band with pairs of its own adapts to them. A band without any takes its prior
        moved as far as the main band's mean moved (never below its floor: the bound
        that holds for any poisoning), but keeps at least its own unadapted spread,
        since the namespace shows nothing of that band's strangers. So profiles of one
        band never move the other band's model away from what that band's own pairs
        show (found in review: app profiles added to a telephone namespace once let 8 %
        of telephone strangers in, and a lone telephone profile took the app profiles'
        tighter spread)."""
        home = self.impostors[statistics.band]
        fitted = {statistics.band: adapt_impostors(home, statistics)}
        other = statistics.of_other_band()
        if other.pairs > 0:
            fitted[other.band] = adapt_impostors(self.impostors[other.band], other)
        main = fitted[statistics.band]
        shift = main.mean - home.mean
        return {
            band: fitted[band] if band in fitted else self._unknown_band(prior, shift, main)
            for band, prior in self.impostors.items()
        }

    @staticmethod
    def _unknown_band(prior: ImpostorPrior, shift: float, main: ImpostorScores) -> ImpostorScores:
        """A band the namespace has no pairs of: its prior moved as far as the main band's
        mean moved (never below its floor), with at least its own unadapted spread."""
        unadapted = prior.unadapted()
        return ImpostorScores(
            max(prior.mean + shift, prior.mean_floor), max(main.std, unadapted.std), prior.dof
        )

    def operating_point(self, statistics: GalleryStatistics | None = None) -> OperatingPoint:
        """The prior's operating point, adapted to ``statistics`` when there are any
        (see :meth:`_adapted`)."""
        adapted = statistics is not None and statistics.pairs > 0
        models: dict[Band, ConditionModel] = {}
        if adapted:
            assert statistics is not None
            for band, scores in self._adapted(statistics).items():
                models[band] = self._model(scores)
            other = statistics.of_other_band()
            plural = "" if statistics.pairs == 1 else "s"
            pairs = f"{statistics.pairs} {statistics.band.value} pair{plural}"
            if other.pairs:
                pairs += f", {other.pairs} {other.band.value}"
            source = ThresholdSource(
                SourceKind.ADAPTED,
                f"adapted from {statistics.profiles} profiles and {statistics.clips} clips "
                f"({pairs})",
                profiles=statistics.profiles,
                clips=statistics.clips,
                updated_at=statistics.updated_at,
            )
        else:
            for band, prior in self.impostors.items():
                models[band] = self._model(prior.unadapted())
            source = ThresholdSource(SourceKind.PRIOR, f"built-in prior ({self.source})")
        return OperatingPoint(
            models=models,
            source=source,
            verification_threshold=self.verification_threshold,
            identification_threshold=self.identification_threshold,
            min_speech_seconds=self.min_speech_seconds,
            gallery_band=gallery_band(statistics),
            centre=self.centre_for(statistics),
            ceiling_centre=self.centre,
            band_centres=self.band_centres_for(statistics),
            standout_margin=self.standout_margin,
            neighbour_margin=self.neighbour_margin,
            verify_neighbour_margin=self.verify_neighbour_margin,
        )

    def _model(self, impostors: ImpostorScores) -> ConditionModel:
        return ConditionModel(impostors, self.targets, self.shrink_seconds, self.speech_offset)


def gallery_band(statistics: GalleryStatistics | None) -> Band | None:
    """The band of a namespace's enrolments (:func:`voxprint.adaptation.enrolment_band`
    of all its clips), ``None`` without statistics, for statistics stored before the
    share of narrowband clips was recorded, or when some clip's band was never measured."""
    return enrolment_band(None if statistics is None else statistics.narrow_share)


_SHARED_DATA = "shared-data development domains, bench/fit_decisions.py"

#: The shipped centre of each encoder whose prior centres (written by
#: ``bench/fit_decisions.py``).
CENTRE_FILES: dict[str, Path] = {
    "campplus": Path(__file__).parent / "encoders" / "campplus_centre.npy",
}


def _shipped_centre(encoder_name: str) -> np.ndarray:
    return np.load(CENTRE_FILES[encoder_name], allow_pickle=False).astype(np.float32)


#: Fitted by ``bench/fit_decisions.py`` on every development domain (docs/thresholds.md).
DEFAULT_PRIORS: dict[str, ScoringPrior] = {
    # 3dspeaker-campplus-zh-en-common-advanced-92f29b94e694
    "campplus": ScoringPrior(
        impostors={
            Band.WIDE: ImpostorPrior(
                mean=0.0881,
                domain_std=0.0500,
                std=0.1124,
                pair_std=0.1002,
                mean_floor=-0.0230,
                std_floor=0.0984,
            ),
            Band.NARROW: ImpostorPrior(
                mean=0.2090,
                domain_std=0.0647,
                std=0.1124,
                pair_std=0.1002,
                mean_floor=0.0068,
                std_floor=0.0984,
            ),
        },
        targets=TargetScores(
            ceiling=0.9339, std_floor=0.0817, std_short=0.0412, noise_scale=1.3168
        ),
        shrink_seconds=1.0752,
        source=_SHARED_DATA,
        speech_offset=0.0115,
        centre=_shipped_centre("campplus"),
        # bench/standout.py: the most that left no owner unnamed on any development domain
        standout_margin=0.15,
        # bench/standout.py --neighbours: the most that named no fewer owners on any
        # development domain; it halves what crafted profiles can do to identify
        neighbour_margin=0.10,
        # bench/verify_neighbours.py: no owner refused on the telephone, at 0 or 5 dB SNR
        # or among accented speakers and children; one-second words 13.9 -> 15.2 % FRR,
        # their impostors accepted halved. bench/band_centre_poisoning.py --neighbours:
        # what 600 crafted profiles made verify accept falls from 6.4-7.2 % to 0-1.2 %
        verify_neighbour_margin=0.04,
    ),
    # resemblyzer-ge2e-39373b86598f. GE2E's cosines run high for everyone (strangers 0.49 to
    # 0.76) and barely shrink with short speech; noise pulls owners down instead.
    "ge2e": ScoringPrior(
        impostors={
            Band.WIDE: ImpostorPrior(
                mean=0.5718,
                domain_std=0.0690,
                std=0.0729,
                pair_std=0.0691,
                mean_floor=0.4878,
                std_floor=0.0588,
            ),
            Band.NARROW: ImpostorPrior(
                mean=0.6807,
                domain_std=0.0885,
                std=0.0729,
                pair_std=0.0691,
                mean_floor=0.6187,
                std_floor=0.0588,
            ),
        },
        targets=TargetScores(ceiling=0.8625, std_floor=0.1028, std_short=0.0, noise_scale=2.1003),
        shrink_seconds=0.01,
        source=_SHARED_DATA,
    ),
    # campplus 92f29b94e694 * 0.7 + GE2E 39373b86598f centred * 0.3
    "campplus+ge2e": ScoringPrior(
        impostors={
            Band.WIDE: ImpostorPrior(
                mean=0.1183,
                domain_std=0.0500,
                std=0.0980,
                pair_std=0.0891,
                mean_floor=0.0770,
                std_floor=0.0876,
            ),
            Band.NARROW: ImpostorPrior(
                mean=0.3244,
                domain_std=0.0868,
                std=0.0980,
                pair_std=0.0891,
                mean_floor=0.2542,
                std_floor=0.0876,
            ),
        },
        targets=TargetScores(
            ceiling=0.9389, std_floor=0.0951, std_short=0.0128, noise_scale=3.5559
        ),
        shrink_seconds=1.1779,
        source=_SHARED_DATA,
        speech_offset=0.6396,
    ),
}


#: CAM++'s prior fitted on cosines as they are, before voxprint centred them (the centred
#: prior above replaced it). Passphrase claims, whose same-word scores were measured on
#: such cosines (:mod:`voxprint.passphrase.voice`), are still decided with it.
UNCENTRED_PRIORS: dict[str, ScoringPrior] = {
    "campplus": ScoringPrior(
        impostors={
            Band.WIDE: ImpostorPrior(
                mean=0.1054,
                domain_std=0.0500,
                std=0.1082,
                pair_std=0.0947,
                mean_floor=0.0655,
                std_floor=0.0911,
            ),
            Band.NARROW: ImpostorPrior(
                mean=0.3826,
                domain_std=0.0877,
                std=0.1082,
                pair_std=0.0947,
                mean_floor=0.2851,
                std_floor=0.0911,
            ),
        },
        targets=TargetScores(
            ceiling=0.9401, std_floor=0.0796, std_short=0.0253, noise_scale=1.4877
        ),
        shrink_seconds=0.8726,
        source=_SHARED_DATA,
        speech_offset=0.1452,
    ),
}


def prior_for(encoder: SpeakerEncoder) -> ScoringPrior | None:
    """The built-in prior of a bundled encoder; ``None`` for others."""
    return DEFAULT_PRIORS.get(encoder.name)


def fitted_operating_point(fit: FittedScores, kind: SourceKind, description: str) -> OperatingPoint:
    """An operating point from a logistic calibration fitted on labelled trials, accepting
    where the fit put its threshold (the same model for every band)."""
    model = LogisticModel(fit.slope, fit.offset)
    at_threshold = float(llr_probability(fit.slope * fit.threshold + fit.offset))
    return OperatingPoint(
        models={band: model for band in Band},
        source=ThresholdSource(kind, description, updated_at=fit.fitted_at),
        verification_threshold=min(max(at_threshold, 1e-6), 1 - 1e-6),
        identification_threshold=DEFAULT_IDENTIFICATION_THRESHOLD,
        normalized=fit.normalized,
    )


def calibrated_operating_point(stored: StoredCalibration) -> OperatingPoint:
    """The operating point of a calibration stored by ``voxprint calibrate``."""
    fit = FittedScores.from_stored(stored)
    description = stored.source or f"voxprint calibrate ({stored.scale.value})"
    return fitted_operating_point(fit, SourceKind.CALIBRATED, description)


def encoder_operating_point(encoder: SpeakerEncoder) -> OperatingPoint:
    """The operating point an encoder has before any namespace data: a bundled encoder's
    prior, or the calibration a trained checkpoint carries."""
    prior = prior_for(encoder)
    if prior is not None:
        return prior.operating_point()
    carried = getattr(encoder, "calibration", None)
    if isinstance(carried, Mapping):
        own = FittedScores.from_dict(carried)
        return fitted_operating_point(own, SourceKind.PRIOR, f"checkpoint ({own.source})")
    raise ModelError(
        f"no operating point is known for encoder {encoder.name!r}; calibrate it first"
    )
