"""Fitting the impostor model to a deployment from its own enrolled profiles.

How strangers score against each other depends on the audio: about 0.07 (cosine) on clean
wideband read speech, about 0.3 on 8 kHz audio, 0.6 on some real telephone calls. The
enrolled profiles of a namespace are labelled data from the user's own audio: a clip of
profile A scored against the voiceprint of profile B is a different-speaker trial. This
module turns those trials into the namespace's impostor model, with no labelled trials
asked of the user:

1. :func:`gallery_statistics` scores every enrolment clip against the other profiles'
   voiceprints (a bounded sample of profiles), undoes the shrinkage of short clips, and
   summarises each pair of profiles by its mean (both directions);
2. :func:`adapt_impostors` combines those pair means with a prior fitted across
   development domains (a hierarchical normal model: the namespace's mean is a draw
   around the prior mean with spread ``domain_std``; each pair's mean scatters around
   the namespace's with ``pair_std``). With no pairs the prior stands; with many the
   namespace's own mean does. The model's spread adds what is still uncertain about the
   mean, so a small gallery decides more cautiously.

**Bounded.** A key holder could enrol crafted profiles (noise, one voice under many names,
voices chosen to be far apart) to move the estimate. The adapted mean and spread never go
below the most lenient values measured on a development domain (``mean_floor``,
``std_floor``): poisoning can at worst make a namespace decide as the cleanest known
domain does, and pair means are trimmed so that a few extreme pairs move little.

Pure numpy; the service decides when to recompute and the store keeps the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from voxprint.errors import InvalidParameterError
from voxprint.scoring.centring import centred_cosines, namespace_centre
from voxprint.scoring.llr import ImpostorScores, shrink_factor
from voxprint.store.records import NARROWBAND_MAX_HZ, Band, BandCentre, GalleryStatistics

__all__ = [
    "Band",
    "GalleryStatistics",
    "ImpostorPrior",
    "ProfileClips",
    "adapt_impostors",
    "band_centres",
    "band_of",
    "clip_scores",
    "clips_band",
    "gallery_statistics",
    "mixes_bands",
    "statistics_band_of",
    "telephone_copy_helps",
]

#: Profiles sampled for the statistics (deterministically: the first by id), of the whole
#: namespace and again of each band's own profiles. Beyond a few hundred the estimate no
#: longer moves, and the cost stays bounded at any gallery size.
MAX_SAMPLED_PROFILES = 200
#: Share of pair means cut from each end before averaging.
TRIM_SHARE = 0.1


def band_of(bandwidth_hz: float | None) -> Band:
    """The band of a measured speech bandwidth; unmeasured audio counts as wideband."""
    if bandwidth_hz is None or not np.isfinite(bandwidth_hz) or bandwidth_hz <= 0:
        return Band.WIDE
    return Band.NARROW if bandwidth_hz <= NARROWBAND_MAX_HZ else Band.WIDE


def telephone_copy_helps(probe: Band, enrolled: Band | None) -> bool:
    """Whether a probe of band ``probe`` is better judged, against a voiceprint whose
    clips were all recorded in ``enrolled`` (:func:`statistics_band_of`: ``None`` when
    they mix bands), as a copy band-limited to the telephone band
    (:func:`voxprint.audio.resample.band_limited`): a wideband probe against a telephone
    enrolment. Across bands an owner scores about 0.3 lower in cosine; the copy shares
    the enrolment's channel (docs/benchmarks.md, "A wideband probe against telephone
    enrolments"). Not against a voiceprint of app clips with a telephone one among them:
    it is mostly wideband (found in review: owners' own app recordings accepted 50 of 50
    times before, 24 with the copy)."""
    return probe is Band.WIDE and enrolled is Band.NARROW


def pair_band(probe: Band, gallery: Band | None) -> Band:
    """The band whose score model judges a probe of band ``probe`` against voiceprints
    enrolled in ``gallery`` (``None``: not known, the probe's band decides). Only two
    narrowband recordings share the channel that lifts strangers' cosines: an 8 kHz probe
    against voiceprints enrolled from wideband speech scores strangers as wideband does
    (cosine 0.07 against 0.38 between two telephone recordings; docs/benchmarks.md)."""
    if gallery is None:
        return probe
    return Band.NARROW if probe is Band.NARROW and gallery is Band.NARROW else Band.WIDE


def _measured(bandwidth_hz: float | None) -> bool:
    return bandwidth_hz is not None and bool(np.isfinite(bandwidth_hz)) and bandwidth_hz > 0


def narrow_share(bandwidths: Sequence[float | None]) -> float | None:
    """The share of clips recorded in the narrow band; ``None`` (not known) with no
    clips, or when any clip's bandwidth was never measured (clips stored before it was,
    or enrolled as ready-made embeddings): such a clip may be a telephone recording."""
    if not bandwidths or not all(_measured(b) for b in bandwidths):
        return None
    return sum(band_of(b) is Band.NARROW for b in bandwidths) / len(bandwidths)


def enrolment_band(share: float | None) -> Band | None:
    """The band of voiceprints for picking a probe's score model (:func:`pair_band`),
    from the share of their enrolment clips recorded in the narrow band
    (:func:`narrow_share`): wideband only when none was, narrowband when any was (one
    telephone clip among app clips keeps the narrowband model for telephone probes, so
    telephone strangers are not judged as wideband strangers), ``None`` when the share
    is not known. For a probe, narrowband and not known both leave the probe's band to
    decide."""
    if share is None:
        return None
    return Band.WIDE if share == 0.0 else Band.NARROW


def clips_band(bandwidths: Sequence[float | None]) -> Band | None:
    """The band of a profile (or a namespace) enrolled from clips of these measured
    bandwidths: :func:`enrolment_band` of their :func:`narrow_share`. The one rule for
    "which band was this enrolled in"; ``None`` when not known."""
    return enrolment_band(narrow_share(bandwidths))


@dataclass(frozen=True)
class ImpostorPrior:
    """What development domains say about impostor cosines in one band.

    ``mean``: average over domains of the impostor mean at unlimited speech;
    ``domain_std``: how far domains' means scatter around it; ``std``: the impostor
    spread within a domain; ``pair_std``: how far pairs of speakers' mean cosines
    scatter within a domain; ``mean_floor`` and ``std_floor``: the most lenient mean and
    spread seen on a development domain (adaptation never goes below them).
    """

    mean: float
    domain_std: float
    std: float
    pair_std: float
    mean_floor: float
    std_floor: float
    dof: float = 20.0
    #: The spread estimated from a namespace counts as this many pairs' worth of prior.
    std_pseudo_pairs: float = 20.0

    def __post_init__(self) -> None:
        if not (self.domain_std > 0 and self.std > 0 and self.pair_std > 0):
            raise InvalidParameterError("impostor prior spreads must be positive")
        if self.mean_floor > self.mean or self.std_floor > self.std:
            raise InvalidParameterError("the impostor prior's floors must not exceed it")

    def unadapted(self) -> ImpostorScores:
        """The impostor model with no namespace data: the prior mean, with the spread of
        domains added to the spread within one."""
        return ImpostorScores(self.mean, float(np.hypot(self.std, self.domain_std)), self.dof)


@dataclass(frozen=True)
class ProfileClips:
    """One enrolled profile as the statistics see it: ``voiceprint`` ``(dim,)``, clip
    ``embeddings`` ``(k, dim)``, each clip's net speech ``seconds`` ``(k,)`` and measured
    speech ``bandwidths`` (Hz, ``None`` where never measured; empty: none known)."""

    voiceprint: np.ndarray
    embeddings: np.ndarray
    seconds: np.ndarray
    bandwidths: tuple[float | None, ...] = ()

    def __post_init__(self) -> None:
        count = np.atleast_2d(self.embeddings).shape[0]
        if self.bandwidths and len(self.bandwidths) != count:
            raise InvalidParameterError(
                f"{len(self.bandwidths)} bandwidths given for {count} clips"
            )

    def clip_bandwidths(self) -> list[float | None]:
        """One bandwidth per clip (``None`` where not known)."""
        count = np.atleast_2d(self.embeddings).shape[0]
        return list(self.bandwidths) if self.bandwidths else [None] * count

    def band(self) -> Band | None:
        """The band the profile was enrolled in (:func:`clips_band`)."""
        return clips_band(self.clip_bandwidths())

    def statistics_band(self) -> Band | None:
        """The band whose impostor statistics this profile's pairs may describe
        (:func:`statistics_band_of` its clips)."""
        return statistics_band_of(self.clip_bandwidths())


def statistics_band_of(bandwidths: Sequence[float | None]) -> Band | None:
    """The band whose impostor statistics the pairs of a profile enrolled from clips of
    these bandwidths may describe: narrow when every clip was measured narrowband, wide
    when none was (clips never measured count as wideband, as :func:`band_of` reads
    them), ``None`` when they mix bands or there are none. Stricter than
    :func:`clips_band`, which picks a score model and takes one telephone clip as
    enough: a profile of app and telephone clips is no clean example of either band's
    strangers."""
    if not bandwidths:
        return None
    narrow = [band_of(b) is Band.NARROW for b in bandwidths]
    if all(narrow):
        return Band.NARROW
    return Band.WIDE if not any(narrow) else None


def clip_scores(
    profiles: Sequence[ProfileClips],
    shipped_centre: np.ndarray | None = None,
    *,
    by_band: bool = False,
) -> list[np.ndarray]:
    """For each profile, the ``(k, n)`` cosines of its ``k`` clips with the ``n``
    profiles' voiceprints. With a ``shipped_centre``, each profile's clips are scored as
    a stranger's probe would be: centred on the namespace's centre made without that
    profile (:func:`voxprint.scoring.centring.namespace_centre` of the others, shrunk
    towards ``shipped_centre``), so that a voice never counts in the centre it is
    measured against. A stranger is in no namespace's centre, while each enrolled voice
    is in its own: with the full centre, pairs of enrolled profiles would score lower
    than strangers do, the more so the smaller the namespace. Never above the cosine
    centred on the shipped centre alone (:func:`voxprint.scoring.centring.
    centred_cosines`, as the scorer). ``by_band`` (a namespace that mixes bands,
    :func:`mixes_bands`): the others are those enrolled wholly in the profile's own band
    (:meth:`ProfileClips.statistics_band`; a profile of mixed clips, the shipped centre
    alone), as each band's centre is made; only pairs within a band are used."""
    voiceprints = np.stack([np.asarray(p.voiceprint, dtype=np.float32) for p in profiles])
    bands = [p.statistics_band() if by_band else Band.WIDE for p in profiles]
    members = {b: [i for i, own in enumerate(bands) if own is b] for b in Band}
    totals = {b: voiceprints[rows].astype(np.float64).sum(axis=0) for b, rows in members.items()}
    scores = []
    for a, profile in enumerate(profiles):
        embeddings = np.atleast_2d(np.asarray(profile.embeddings, dtype=np.float32))
        if embeddings.shape[0] == 0:
            raise InvalidParameterError("an enrolled profile must have clips")
        if shipped_centre is None:
            scores.append((embeddings @ voiceprints.T).astype(np.float64))
            continue
        band = bands[a]
        others = 0 if band is None else len(members[band]) - 1
        mean = (totals[band] - voiceprints[a]) / others if band is not None and others else None
        centre = namespace_centre(shipped_centre, mean, others)
        scores.append(centred_cosines(embeddings, voiceprints, centre, shipped_centre))
    return scores


def band_centres(profiles: Sequence[ProfileClips]) -> tuple[BandCentre, ...]:
    """Each band's own mean voiceprint, of the ``profiles`` enrolled wholly in it
    (:meth:`ProfileClips.statistics_band`), for the bands that have any."""
    centres = []
    for band in Band:
        own = [p.voiceprint for p in profiles if p.statistics_band() is band]
        if own:
            mean = np.asarray(own, dtype=np.float64).mean(axis=0).astype(np.float32)
            centres.append(BandCentre(band, len(own), tuple(float(v) for v in mean)))
    return tuple(centres)


def mixes_bands(statistics: GalleryStatistics | None) -> bool:
    """Whether a namespace holds at least two profiles enrolled wholly in each band (the
    other band has pairs of its own). Such a namespace centres each side of a pair on
    its own band's centre (:attr:`GalleryStatistics.band_centres`), not on one mean of
    both: one mean of two channels' voices would pull each band's voices towards the
    other's channel, and a telephone call of an app-enrolled owner then scores lower
    against their own voiceprint (bench/cross_band.py: named 83.3 → 75.0 % with one
    mean; 84.5 → 92.9 % with a centre per side)."""
    return statistics is not None and bool(statistics.other_pairs)


def _trimmed_mean(values: np.ndarray, share: float) -> float:
    ordered = np.sort(values)
    cut = int(len(ordered) * share)
    kept = ordered[cut : len(ordered) - cut] if len(ordered) > 2 * cut else ordered
    return float(np.mean(kept))


def gallery_statistics(
    profiles: Sequence[ProfileClips],
    *,
    shrink_seconds: float,
    speech_offset: float = 0.0,
    updated_at: datetime,
    shipped_centre: np.ndarray | None = None,
) -> GalleryStatistics | None:
    """The impostor statistics of enrolled ``profiles``, band by band; ``None`` with none.

    A pair belongs to a band when both profiles do (:meth:`ProfileClips.
    statistics_band`); pairs across bands, and pairs with a profile of mixed clips, are
    left out. Each band's figures come from its own pairs only, so a namespace mixing
    app and telephone enrolments neither blends two impostor populations into one wide
    spread nor lets profiles of one band dilute how high the other band's strangers
    score (found in review). ``band`` is the band with more pairs (the lone profile's
    own with one); the other band's figures are ``other_*``. No pair at all gives
    ``pairs`` 0: nothing to adapt. Cosines are scaled to
    unlimited speech with the prior's shrinkage (``shrink_seconds`` and
    ``speech_offset``, :func:`voxprint.scoring.llr.shrink_factor`); ``narrow_share`` is
    the share of all clips recorded in the narrow band (:func:`narrow_share`).

    With a ``shipped_centre`` (the prior's), the cosines are centred as the scorer will
    take a stranger's (:func:`clip_scores`), and the profiles' mean voiceprint is kept
    as ``centre``, from which the scorer's centre is made."""
    if not profiles:
        return None
    voiceprints = np.stack([np.asarray(p.voiceprint, dtype=np.float32) for p in profiles])
    n = len(profiles)
    profiles_mean = None if shipped_centre is None else voiceprints.astype(np.float64).mean(axis=0)
    bands = [p.statistics_band() for p in profiles]
    narrow = np.array([b is Band.NARROW for b in bands])
    wide = np.array([b is Band.WIDE for b in bands])
    means = np.zeros((n, n))
    scores_of: list[np.ndarray] = []
    clips = 0
    # both bands with pairs of their own: mixes_bands of the statistics returned below
    by_band = bool(narrow.sum() >= 2 and wide.sum() >= 2)
    for a, (profile, scores) in enumerate(
        zip(profiles, clip_scores(profiles, shipped_centre, by_band=by_band), strict=True)
    ):
        clips += scores.shape[0]
        seconds = np.asarray(profile.seconds, dtype=np.float64)
        scale = shrink_factor(seconds, shrink_seconds, speech_offset)
        means[a] = (scores / scale[:, None]).mean(axis=0)
        scores_of.append(scores)
    upper = np.triu_indices(n, 1)
    pair_means = (0.5 * (means + means.T))[upper]

    def of(in_band: np.ndarray) -> tuple[int, float, float]:
        """Pairs, trimmed pair mean and trial spread of the pairs where ``in_band``."""
        chosen = pair_means[in_band[upper]]
        if chosen.size == 0:
            return 0, 0.0, 0.0
        others = in_band & ~np.eye(n, dtype=bool)
        trials = np.concatenate([s[:, others[a]].ravel() for a, s in enumerate(scores_of)])
        return int(chosen.size), _trimmed_mean(chosen, TRIM_SHARE), float(trials.std())

    figures = {
        Band.NARROW: of(np.logical_and.outer(narrow, narrow)),
        Band.WIDE: of(np.logical_and.outer(wide, wide)),
    }
    if n == 1:
        band = Band.NARROW if profiles[0].band() is Band.NARROW else Band.WIDE
    else:
        band = Band.NARROW if figures[Band.NARROW][0] > figures[Band.WIDE][0] else Band.WIDE
    other = Band.WIDE if band is Band.NARROW else Band.NARROW
    pairs, pair_mean, trial_std = figures[band]
    centre = (  # float32, as the store keeps it
        None if profiles_mean is None else tuple(float(v) for v in profiles_mean.astype(np.float32))
    )
    other_pairs, other_mean, other_std = figures[other]
    return GalleryStatistics(
        band=band,
        profiles=n,
        clips=clips,
        pairs=pairs,
        pair_mean=pair_mean,
        trial_std=trial_std,
        updated_at=updated_at,
        shrink_seconds=shrink_seconds,
        speech_offset=speech_offset,
        narrow_share=narrow_share([b for p in profiles for b in p.clip_bandwidths()]),
        other_pairs=other_pairs,
        other_pair_mean=other_mean,
        other_trial_std=other_std,
        centre=centre,
        band_centres=None if profiles_mean is None else band_centres(profiles),
    )


def adapt_impostors(prior: ImpostorPrior, statistics: GalleryStatistics | None) -> ImpostorScores:
    """The namespace's impostor model: the prior updated with its pair statistics.

    Returns the predictive model (what a new different-speaker cosine looks like): the
    posterior mean of the namespace's impostor mean, and a spread that adds the
    posterior uncertainty of that mean to the within-namespace spread. Never below the
    prior's floors.
    """
    if statistics is None or statistics.pairs == 0:
        return prior.unadapted()
    pairs = float(statistics.pairs)
    tau2, pair2 = prior.domain_std**2, prior.pair_std**2
    variance = 1.0 / (1.0 / tau2 + pairs / pair2)
    mean = variance * (prior.mean / tau2 + pairs * statistics.pair_mean / pair2)
    k = prior.std_pseudo_pairs
    spread2 = (k * prior.std**2 + pairs * statistics.trial_std**2) / (k + pairs)
    spread = max(float(np.sqrt(spread2)), prior.std_floor)
    return ImpostorScores(
        max(float(mean), prior.mean_floor),
        float(np.sqrt(spread**2 + variance)),
        prior.dof,
    )
