"""Plain records kept by a voiceprint store.

These are the values a store reads and writes; they hold no behaviour beyond
validation. Embeddings are ``float32`` numpy arrays.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np

from voxprint.errors import InvalidParameterError

DEFAULT_NAMESPACE = "default"
#: Longest profile name or external id, in characters.
MAX_NAME_LENGTH = 200
#: What a namespace (tenant) name may be: 1-64 letters, digits, '.', '_' or '-'.
NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_namespace(namespace: str) -> str:
    """``namespace`` if it is a valid namespace name; :class:`InvalidParameterError`
    otherwise (the one rule for keys, services and routes)."""
    if not isinstance(namespace, str) or not NAMESPACE_PATTERN.match(namespace):
        raise InvalidParameterError(
            f"invalid namespace {namespace!r}: use 1-64 letters, digits, '.', '_' or '-'"
        )
    return namespace


def unprintable(text: str) -> str | None:
    """Why ``text`` is not fit for a name or an id, or ``None`` when it is.

    Control characters (NUL, newlines, escapes) and invisible format characters (bidi
    overrides, zero-width joiners used to disguise a name) are refused: a name is shown to
    people in lists, logs and terminals and must read as what it is.
    """
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            return f"it contains the control or invisible character U+{ord(char):04X}"
    return None


class EnrollmentStatus(StrEnum):
    ENROLLING = "enrolling"
    ENROLLED = "enrolled"


class Band(StrEnum):
    """Audio bandwidth class: impostor cosines run higher on narrowband (8 kHz) audio."""

    WIDE = "wideband"
    NARROW = "narrowband"


#: Profile metadata key under which the Azure-compatible routes mark the profiles they made
#: (their kind and locale): such profiles follow Azure's enrolment rules, not voxprint's.
AZURE_METADATA_KEY = "azure"

#: Speech whose measured bandwidth is above 0 and at most this was recorded or sent at
#: 8 kHz (telephone): the one figure of the band rule (:func:`voxprint.adaptation.band_of`;
#: the stores' migrations apply it to clips stored before profiles kept their band).
NARROWBAND_MAX_HZ = 4500.0


@dataclass(frozen=True)
class Profile:
    """A speaker profile.

    ``voiceprint`` is ``(dim,) float32`` L2-normalised, or ``None`` before the
    first clip. ``net_speech_seconds`` sums the net speech of all clips.
    """

    id: str
    namespace: str
    name: str
    encoder_name: str
    encoder_version: str
    created_at: datetime
    updated_at: datetime
    external_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    status: EnrollmentStatus = EnrollmentStatus.ENROLLING
    clip_count: int = 0
    audio_seconds: float = 0.0
    net_speech_seconds: float = 0.0
    voiceprint: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: The band its clips were recorded in (:class:`EnrollmentState`); ``None``: not known.
    band: Band | None = None
    statistics_band: Band | None = None


@dataclass(frozen=True)
class Clip:
    """One enrolment clip: its embedding ``(dim,) float32``, how much speech it had, and
    the measured bandwidth of that speech in Hz (``None`` for clips stored before it was
    measured)."""

    id: str
    profile_id: str
    embedding: np.ndarray = field(repr=False, compare=False)
    audio_seconds: float
    net_speech_seconds: float
    created_at: datetime
    label: str | None = None
    bandwidth_hz: float | None = None
    #: SHA-256 of the clip's decoded audio: the same audio is never enrolled twice into
    #: one profile (a retried request is recognised). ``None`` for clips given embedded.
    content_hash: str | None = None


@dataclass(frozen=True)
class EnrollmentState:
    """What a profile's enrolment adds up to, computed from all its clips: also the band
    its clips were recorded in, as the score model reads it (``band``) and as the
    gallery statistics do (``statistics_band``; see :mod:`voxprint.adaptation`)."""

    voiceprint: np.ndarray | None
    status: EnrollmentStatus
    audio_seconds: float
    net_speech_seconds: float
    band: Band | None = None
    statistics_band: Band | None = None


@dataclass(frozen=True)
class RemovedProfile:
    """Who a merge deleted, to name in its answer: no voiceprint, since that is gone."""

    id: str
    name: str
    external_id: str | None = None

    @classmethod
    def of(cls, profile: Profile) -> RemovedProfile:
        return cls(profile.id, profile.name, profile.external_id)


@dataclass(frozen=True)
class ProfileMerge:
    """What merging one profile into another stored: the merged ``profile`` as it now is,
    the profile ``removed`` (its id and name), how many of its clips moved and how many
    were dropped because the merged profile already had their audio (the same
    ``content_hash``: one recording is never held twice by one profile)."""

    profile: Profile
    removed: RemovedProfile
    clips_moved: int
    duplicate_clips: int


@dataclass(frozen=True)
class ProfileChanges:
    """A partial update of a profile's descriptive fields; ``None`` means unchanged.

    To clear the external id, set ``clear_external_id``.
    """

    name: str | None = None
    external_id: str | None = None
    clear_external_id: bool = False
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class ActivityEntry:
    """One line of the activity log: who did what to which profile, and the outcome."""

    id: int
    time: datetime
    namespace: str
    action: str
    profile_id: str | None
    result: str
    score: float | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Activity:
    """An activity-log entry to write in the same transaction as the change it records.

    For an enrolment, ``result`` ``None`` stands for the profile's status after the clip.
    """

    action: str
    result: str | None
    profile_id: str | None = None
    score: float | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Gallery:
    """Voiceprints of enrolled profiles, ready for scoring.

    ``profile_ids[i]``, ``names[i]``, ``net_speech_seconds[i]`` (the speech it was
    enrolled from), ``bands[i]`` and ``statistics_bands[i]`` (its
    :attr:`Profile.band` and :attr:`Profile.statistics_band`; ``None`` for either tuple:
    none known) describe row ``i`` of ``voiceprints`` (``(n, dim) float32``).
    """

    profile_ids: tuple[str, ...]
    names: tuple[str, ...]
    voiceprints: np.ndarray
    net_speech_seconds: np.ndarray
    bands: tuple[Band | None, ...] | None = None
    statistics_bands: tuple[Band | None, ...] | None = None

    def __len__(self) -> int:
        return len(self.profile_ids)

    def take(self, rows: Sequence[int] | np.ndarray) -> Gallery:
        """The gallery of ``rows`` (positions in this one), in that order."""
        picked = [int(i) for i in rows]
        index = np.array(picked, np.int64)
        return Gallery(
            profile_ids=tuple(self.profile_ids[i] for i in picked),
            names=tuple(self.names[i] for i in picked),
            voiceprints=self.voiceprints[index] if picked else self.voiceprints[:0],
            net_speech_seconds=np.asarray(self.net_speech_seconds)[index],
            bands=None if self.bands is None else tuple(self.bands[i] for i in picked),
            statistics_bands=None
            if self.statistics_bands is None
            else tuple(self.statistics_bands[i] for i in picked),
        )


@dataclass(frozen=True)
class GalleryChanges:
    """What changed in a namespace's galleries after an earlier gallery version.

    ``version`` is the gallery version these changes bring a copy up to; ``touched`` every
    profile enrolled, re-enrolled, renamed, reset or deleted since the earlier version;
    ``current`` those of them that are in the gallery now (enrolled, with the encoder
    asked for). A touched profile missing from ``current`` has left the gallery.
    """

    version: int
    touched: tuple[str, ...]
    current: Gallery


@dataclass(frozen=True)
class ApiKey:
    """An API key's public record. The secret itself is never stored, only its hash.

    A key belongs to one ``namespace`` (tenant) and sees only that namespace's profiles.
    ``revoked_at`` is set once the key is revoked; a revoked key authenticates nothing.
    """

    id: str
    name: str
    namespace: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ScoreScale(StrEnum):
    """Which scores a calibration was fitted on: raw cosines or AS-Norm scores."""

    COSINE = "cosine"
    ASNORM = "asnorm"


@dataclass(frozen=True)
class StoredCalibration:
    """An operating point fitted on the user's own labelled trials, for one encoder version.

    The calibrated score is ``sigmoid(slope * score + offset)``; ``threshold`` is on
    the ``scale`` scores and was chosen for ``target_far`` false accepts.
    ``impostor_mean``/``impostor_std`` model the non-target scores (for the
    gallery-size-aware identification threshold). ``bands`` are the bands of the trial
    pairs it was fitted on (:func:`voxprint.adaptation.pair_band` of each trial's two
    recordings): it decides claims of those bands only. ``None``: not recorded
    (calibrations stored before voxprint recorded them), taken as every band.
    """

    encoder_name: str
    encoder_version: str
    scale: ScoreScale
    slope: float
    offset: float
    threshold: float
    target_far: float
    achieved_far: float
    achieved_frr: float
    impostor_mean: float
    impostor_std: float
    target_trials: int
    nontarget_trials: int
    created_at: datetime
    source: str = ""
    bands: frozenset[Band] | None = None

    def covers(self, band: Band) -> bool:
        """Whether this calibration decides claims whose pair is of ``band``."""
        return self.bands is None or band in self.bands

    def shares_a_band(self, other: StoredCalibration) -> bool:
        """Whether the two decide claims of a band in common (``None`` is every band): a
        store keeps at most one calibration per band of an encoder version and scale, so
        saving ``other`` replaces this one exactly when they do."""
        return self.bands is None or other.bands is None or bool(self.bands & other.bands)

    def order(self) -> tuple[int, int, tuple[int, ...]]:
        """Sort key of the calibrations of one encoder version: cosine first, then, per
        scale, the one deciding the most bands, then in :class:`Band` order."""
        covered = tuple(i for i, band in enumerate(Band) if self.covers(band))
        return (list(ScoreScale).index(ScoreScale(self.scale)), -len(covered), covered)


@dataclass(frozen=True)
class Cohort:
    """Impostor embeddings for score normalisation, for one encoder version.

    ``embeddings`` is ``(m, dim) float32``; ``speakers[i]`` names the speaker of row ``i``.
    A cohort is per encoder (not per namespace): it holds none of the enrolled voices.
    """

    encoder_name: str
    encoder_version: str
    embeddings: np.ndarray = field(repr=False, compare=False)
    speakers: tuple[str, ...]
    created_at: datetime
    source: str = ""

    @property
    def size(self) -> int:
        return len(self.speakers)


@dataclass(frozen=True)
class BandCentre:
    """The mean voiceprint of a namespace's sampled profiles enrolled wholly in ``band``
    (``profiles`` of them), from which that band's centre is made in a namespace that
    mixes bands (:func:`voxprint.scoring.centring.namespace_centre`)."""

    band: Band
    profiles: int
    mean: tuple[float, ...]


@dataclass(frozen=True)
class GalleryStatistics:
    """Different-speaker statistics of a namespace's enrolled profiles, for one encoder
    version (see :mod:`voxprint.adaptation`).

    ``pair_mean`` is the trimmed mean over profile pairs of the clip-vs-voiceprint cosine,
    scaled to unlimited speech with the shrinkage ``shrink_seconds`` and ``speech_offset``
    (:func:`voxprint.scoring.llr.shrink_factor`; both ``None`` for statistics stored before
    voxprint recorded them); ``trial_std`` the spread of single clip-vs-voiceprint
    cosines; ``band`` the band of the pairs they come from (``ScoringPrior.statistics``).
    """

    band: Band
    profiles: int
    clips: int
    pairs: int
    pair_mean: float
    trial_std: float
    updated_at: datetime
    shrink_seconds: float | None = None
    speech_offset: float | None = None
    #: Share of the enrolment clips recorded in the narrow band (``None``: not recorded).
    narrow_share: float | None = None
    #: The same three figures for the pairs of the other band (``other_pairs`` 0: none;
    #: ``None``: statistics stored before they were kept, which blended both bands).
    other_pairs: int | None = None
    other_pair_mean: float = 0.0
    other_trial_std: float = 0.0
    #: The mean of the sampled profiles' voiceprints, from which the scorer's centre is
    #: made (:func:`voxprint.scoring.centring.namespace_centre`); the pair figures above
    #: are then of centred cosines. ``None``: computed on cosines as they are (an encoder
    #: whose prior has no centre, or statistics stored before voxprint centred).
    centre: tuple[float, ...] | None = None
    #: Each band's own mean (:class:`BandCentre`, for the bands with profiles enrolled
    #: wholly in them): a namespace that mixes bands centres each side of a pair on its
    #: own band's centre. ``None``: statistics stored before they were kept.
    band_centres: tuple[BandCentre, ...] | None = None

    def band_centre(self, band: Band) -> BandCentre | None:
        """``band``'s own mean, when the namespace has profiles enrolled wholly in it."""
        return next((c for c in self.band_centres or () if c.band is band), None)

    def of_other_band(self) -> GalleryStatistics:
        """These statistics seen from the other band's pairs."""
        return replace(
            self,
            band=Band.WIDE if self.band is Band.NARROW else Band.NARROW,
            pairs=self.other_pairs or 0,
            pair_mean=self.other_pair_mean,
            trial_std=self.other_trial_std,
            other_pairs=self.pairs,
            other_pair_mean=self.pair_mean,
            other_trial_std=self.trial_std,
        )

    def scaled_with(self, shrink_seconds: float, speech_offset: float) -> bool:
        """Whether ``pair_mean`` was scaled with exactly this shrinkage (a prior that
        changed since, e.g. after an upgrade, makes these statistics stale)."""
        return self.shrink_seconds == shrink_seconds and self.speech_offset == speech_offset

    def current(self, shrink_seconds: float, speech_offset: float, centred: bool = False) -> bool:
        """Whether these statistics are what this voxprint would compute: scaled with this
        shrinkage, kept band by band, and of centred cosines exactly when the prior
        centres (``centred``), with each band's own mean where both bands have pairs."""
        return (
            self.scaled_with(shrink_seconds, speech_offset)
            and self.other_pairs is not None
            and (self.centre is not None) == centred
            and (not centred or not self.other_pairs or self.band_centres is not None)
        )


class StreamFormat(StrEnum):
    """What an audio stream holds: one encoded file sent in pieces, or raw PCM16 16 kHz mono."""

    ENCODED = "encoded"
    PCM16 = "pcm16"


@dataclass(frozen=True)
class StreamLimits:
    """How long idle streams live and how many bytes each namespace may hold in them."""

    idle_seconds: float = 300.0
    max_streams: int = 16
    max_stream_bytes: int = 50 * 1024 * 1024
    max_namespace_bytes: int = 100 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.idle_seconds <= 0 or self.max_streams < 1 or self.max_stream_bytes < 1:
            raise InvalidParameterError("stream limits must be positive")


@dataclass(frozen=True)
class StreamRecord:
    """One stored audio stream (its audio is read separately). ``expires_at`` is in seconds
    of the caller's clock (epoch seconds in the service): each use moves it to ``now +
    idle_seconds``."""

    id: str
    namespace: str
    format: StreamFormat
    bytes: int
    chunks: int
    created_at: datetime
    expires_at: float


class ProfileKind(StrEnum):
    """What a profile verifies: any speech (the default), or its passphrase."""

    TEXT_INDEPENDENT = "text-independent"
    TEXT_DEPENDENT = "text-dependent"


@dataclass(frozen=True)
class PhraseProfile:
    """A profile's kind and, for a text-dependent one, its locale and passphrase
    (``None`` until the first enrolment clip fixes it, or after a reset)."""

    profile_id: str
    kind: ProfileKind
    locale: str | None = None
    passphrase: str | None = None


@dataclass(frozen=True)
class Challenge:
    """A spoken challenge: a random ``phrase`` to say once, before ``expires_at``.

    ``used_at`` is set by the one verification that consumed it; ``kind`` says what
    the phrase is made of (``digits`` or ``words``).
    """

    id: str
    namespace: str
    kind: str
    phrase: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    #: The profile it was answered for (set when used).
    profile_id: str | None = None

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at
