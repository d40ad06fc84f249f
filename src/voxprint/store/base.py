"""What every voiceprint store implements: small protocols per ability, and :class:`Store`.

A backend implements all of them; :func:`voxprint.store.open_store` returns a
:class:`Store`, so callers never test for abilities. Code that needs only one ability
(the key service, the calibrator) asks for that protocol alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import numpy as np

from voxprint.store.records import (
    Activity,
    ActivityEntry,
    ApiKey,
    Band,
    Challenge,
    Clip,
    Cohort,
    EnrollmentState,
    EnrollmentStatus,
    Gallery,
    GalleryChanges,
    GalleryStatistics,
    PhraseProfile,
    Profile,
    ProfileChanges,
    ProfileMerge,
    ScoreScale,
    StoredCalibration,
    StreamFormat,
    StreamLimits,
    StreamRecord,
)

#: Changes to a namespace's galleries kept in its change log (one per gallery version):
#: a copy older than this many versions reloads the whole gallery.
GALLERY_CHANGES_KEPT = 10_000

#: Pure function that turns all of a profile's clips (after the change) and its status
#: before the change (enrolled only when it was enrolled from clips:
#: :func:`voxprint.store.checks.status_before`) into its enrolment state.
Rebuild = Callable[[Sequence[Clip], EnrollmentStatus], EnrollmentState]


class ProfileStore(Protocol):
    """Persistent, transactional storage of profiles, clips and the activity log.

    All methods are scoped by ``namespace``: a profile is invisible outside its
    namespace and every lookup across namespaces behaves as "not found".
    Methods raise ``ProfileNotFoundError`` for unknown ids and
    ``DuplicateExternalIdError`` when an external id is taken in the namespace.
    """

    def create_profile(
        self,
        profile: Profile,
        *,
        activity: Activity | None = None,
        phrase: PhraseProfile | None = None,
    ) -> Profile:
        """Insert the profile, log ``activity`` and store its ``phrase`` record (a
        text-dependent profile's kind, locale and passphrase: see
        :meth:`PhraseStore.set_phrase_profile`) in the same transaction, so no reader
        ever sees the profile without its kind. A ``phrase`` of another profile id raises
        :class:`InvalidParameterError` before anything is written."""
        ...

    def get_profile(self, namespace: str, profile_id: str) -> Profile: ...

    def find_by_external_id(self, namespace: str, external_id: str) -> Profile: ...

    def find_by_name(self, namespace: str, name: str) -> list[Profile]: ...

    def list_profiles(
        self, namespace: str, *, limit: int = 100, offset: int = 0
    ) -> list[Profile]: ...

    def count_profiles(self, namespace: str) -> int: ...

    def update_profile(
        self, namespace: str, profile_id: str, changes: ProfileChanges
    ) -> Profile: ...

    def delete_profile(
        self, namespace: str, profile_id: str, *, activity: Activity | None = None
    ) -> None:
        """Remove the profile, its voiceprint and every clip embedding for good, logging
        ``activity`` in the same transaction."""
        ...

    def add_clip(
        self, namespace: str, clip: Clip, rebuild: Rebuild, *, activity: Activity | None = None
    ) -> Profile:
        """Add a clip and, in the same transaction, recompute the profile from all its clips
        and log ``activity``. A clip whose ``content_hash`` the profile already has raises
        :class:`DuplicateClipError` and writes nothing.

        Concurrent calls for one profile must not lose clips.
        """
        ...

    def reset_profile(
        self,
        namespace: str,
        profile_id: str,
        rebuild: Rebuild,
        *,
        activity: Activity | None = None,
    ) -> Profile:
        """Delete every clip of the profile and set it back to its empty state, logging
        ``activity`` in the same transaction."""
        ...

    def rebuild_profile(
        self,
        namespace: str,
        profile_id: str,
        rebuild: Rebuild,
        *,
        activity: Activity | None = None,
    ) -> Profile:
        """Write ``rebuild(clips, status)`` of the clips the profile holds (its status
        under an enrolment requirement lowered since its last clip) and log ``activity``,
        in one transaction."""
        ...

    def merge_profiles(
        self,
        namespace: str,
        into_id: str,
        from_id: str,
        rebuild: Rebuild,
        *,
        activities: Sequence[Activity] = (),
    ) -> ProfileMerge:
        """Move every clip of ``from_id`` to ``into_id``, rebuild ``into_id`` from all its
        clips (starting enrolled when either profile was enrolled from clips: see
        :func:`voxprint.store.checks.status_before`), delete ``from_id`` as
        :meth:`delete_profile` does, and log ``activities`` (a ``None`` result reads as the
        merged profile's status), all in one transaction: if anything fails, both profiles
        stay as they were.

        A clip of ``from_id`` whose ``content_hash`` ``into_id`` already has is not moved
        but deleted with ``from_id`` (counted in :attr:`ProfileMerge.duplicate_clips`).
        Raises :class:`ProfileNotFoundError` when either profile is not in ``namespace``,
        :class:`InvalidParameterError` for one id twice and
        :class:`EncoderMismatchError` for profiles of different encoders; nothing is
        written then."""
        ...

    def list_clips(self, namespace: str, profile_id: str) -> list[Clip]: ...

    def gallery_version(self, namespace: str) -> int:
        """A counter that changes (in the same transaction) with every enrolment, reset,
        rename or deletion in ``namespace``: galleries cached elsewhere reload when it
        moves."""
        ...

    def gallery(
        self,
        namespace: str,
        *,
        encoder_name: str,
        encoder_version: str,
        profile_ids: Sequence[str] | None = None,
    ) -> Gallery:
        """Voiceprints of the namespace's *enrolled* profiles made with this encoder."""
        ...

    def gallery_changes(
        self, namespace: str, since: int, *, encoder_name: str, encoder_version: str
    ) -> GalleryChanges | None:
        """What changed in ``namespace``'s galleries after version ``since``, with the
        touched profiles now in the gallery of this encoder: what a copy of version
        ``since`` needs to catch up without reading the whole gallery. ``None`` when the
        change log no longer reaches back that far (it keeps the last
        :data:`GALLERY_CHANGES_KEPT` changes, and none from before it existed)."""
        ...

    #: Whether :meth:`nearest` runs on a vector index inside the database (pgvector's
    #: HNSW), so that large galleries are searched there instead of being loaded into
    #: every process (see :mod:`voxprint.gallery_index`).
    search_in_database: bool

    def gallery_size(self, namespace: str, *, encoder_name: str, encoder_version: str) -> int:
        """How many profiles :meth:`gallery` would return without ``profile_ids``."""
        ...

    def nearest(
        self,
        namespace: str,
        query: np.ndarray,
        *,
        encoder_name: str,
        encoder_version: str,
        k: int,
        band: Band | None = None,
    ) -> Gallery:
        """Up to ``k`` of the namespace's enrolled voiceprints (of this encoder) nearest to
        the ``(dim,)`` query by cosine, best first (approximately, on an index); with
        ``band``, only of profiles enrolled in that band (:attr:`Profile.band`)."""
        ...

    def enrolled_sample(
        self,
        namespace: str,
        *,
        encoder_name: str,
        encoder_version: str,
        limit: int,
        band: Band | None = None,
    ) -> list[tuple[Profile, list[Clip]]]:
        """Up to ``limit`` enrolled text-independent profiles of this encoder, each with its
        clips; the same profiles on every call while the namespace does not change. (What
        the namespace's operating point adapts to: the clips of a text-dependent profile
        all say one phrase, so its pairs are not those of text-independent claims.) With
        ``band``, only profiles whose clips were all recorded in that band
        (:attr:`Profile.statistics_band`)."""
        ...

    def save_statistics(
        self,
        namespace: str,
        encoder_name: str,
        encoder_version: str,
        statistics: GalleryStatistics | None,
    ) -> None:
        """Keep a namespace's gallery statistics for one encoder version (``None`` forgets
        them). Another namespace's statistics are never touched."""
        ...

    def get_statistics(
        self, namespace: str, encoder_name: str, encoder_version: str
    ) -> GalleryStatistics | None: ...

    def log_activity(
        self,
        namespace: str,
        action: str,
        *,
        profile_id: str | None,
        result: str,
        score: float | None = None,
        detail: str | None = None,
    ) -> None: ...

    def list_activity(
        self,
        namespace: str,
        *,
        limit: int = 100,
        offset: int = 0,
        profile_id: str | None = None,
        before_id: int | None = None,
    ) -> list[ActivityEntry]:
        """The namespace's entries, newest first, skipping the ``offset`` newest
        (optionally only those of one profile, and only those whose id is below
        ``before_id``: a cursor that entries written meanwhile do not shift)."""
        ...

    def writable(self) -> bool:
        """Whether the store can take writes now (False: read-only or unreachable)."""
        ...

    def close(self) -> None: ...


class KeyStore(Protocol):
    """API keys: public records plus the hash of each secret (never the secret)."""

    def add_key(self, key: ApiKey, secret_hash: bytes) -> ApiKey: ...

    def get_key(self, key_id: str) -> tuple[ApiKey, bytes]:
        """The key and its secret hash; raises :class:`ApiKeyNotFoundError`."""
        ...

    def list_keys(self) -> list[ApiKey]: ...

    def revoke_key(self, key_id: str) -> ApiKey:
        """Mark the key revoked (idempotent); raises :class:`ApiKeyNotFoundError`."""
        ...


class ScoringStore(Protocol):
    """Per-encoder scoring set-up: fitted calibrations and the AS-Norm impostor cohort.

    Both are keyed by encoder name and version, not by namespace: they describe how
    an encoder's scores behave, and a cohort holds no enrolled voice. Saving replaces
    what was there (a calibration: that of its bands); deleting a cohort removes its
    embeddings for good.
    """

    def scoring_version(self) -> int:
        """A counter that changes (in the same transaction) with every saved or deleted
        calibration or cohort: operating points cached elsewhere re-read when it moves."""
        ...

    def save_calibration(self, calibration: StoredCalibration) -> StoredCalibration:
        """Store a calibration for the bands it decides: it replaces exactly the stored
        calibrations of the same encoder version and scale that share a band with it (one
        stored before bands were recorded shares every band) and keeps the others, so
        that an encoder version and scale keep at most one calibration per band."""
        ...

    def get_calibrations(
        self, encoder_name: str, encoder_version: str, scale: ScoreScale | None = None
    ) -> tuple[StoredCalibration, ...]:
        """The encoder version's calibrations (of one scale, or all), in
        :meth:`~voxprint.store.records.StoredCalibration.order`: cosine first, then the
        one deciding the most bands."""
        ...

    def delete_calibrations(
        self, encoder_name: str, encoder_version: str, scale: ScoreScale | None = None
    ) -> int:
        """Delete the encoder version's calibrations (of one scale, or all); returns how many."""
        ...

    def save_cohort(self, cohort: Cohort) -> Cohort: ...

    def get_cohort(self, encoder_name: str, encoder_version: str) -> Cohort | None: ...

    def delete_cohort(self, encoder_name: str, encoder_version: str) -> bool:
        """Delete the cohort for good; ``False`` when there was none."""
        ...


class StreamStore(Protocol):
    """Audio streams of the service, shared by every worker on the store.

    Every call first drops the streams whose ``expires_at`` has passed (by ``now``, the
    caller's clock), and every use of a stream moves its expiry to ``now +
    limits.idle_seconds``. A stream of another namespace is "not found"
    (:class:`StreamNotFoundError`). Limits are checked in the same transaction as the
    write, so workers that share the store cannot overrun them together.
    """

    def create_stream(
        self,
        namespace: str,
        stream_id: str,
        fmt: StreamFormat,
        *,
        limits: StreamLimits,
        now: float,
    ) -> StreamRecord:
        """Open an empty stream; :class:`ServiceBusyError` when the namespace already
        has ``limits.max_streams``."""
        ...

    def append_stream(
        self, namespace: str, stream_id: str, chunk: bytes, *, limits: StreamLimits, now: float
    ) -> StreamRecord:
        """Add ``chunk`` at the end; :class:`AudioTooLargeError` (and nothing written) when
        it does not fit the stream's or the namespace's limit."""
        ...

    def stream_room(
        self, namespace: str, stream_id: str, *, limits: StreamLimits, now: float
    ) -> int:
        """Bytes the stream may still take."""
        ...

    def get_stream(
        self, namespace: str, stream_id: str, *, limits: StreamLimits, now: float
    ) -> StreamRecord: ...

    def stream_audio(
        self, namespace: str, stream_id: str, *, limits: StreamLimits, now: float
    ) -> tuple[StreamRecord, bytes]:
        """The stream and every byte appended so far, in order."""
        ...

    def delete_stream(self, namespace: str, stream_id: str, *, now: float) -> None:
        """Delete the stream and its audio for good."""
        ...

    def sweep_streams(self, *, now: float) -> int:
        """Drop expired streams now; returns how many."""
        ...

    def count_streams(self, namespace: str | None, *, now: float) -> int: ...


class PhraseStore(Protocol):
    """Passphrases of text-dependent profiles, and spoken challenges.

    Everything is scoped by ``namespace`` like profiles: another namespace's profile or
    challenge behaves as not found. A profile with no phrase record is text-independent;
    deleting a profile deletes its record.
    """

    def set_phrase_profile(self, namespace: str, record: PhraseProfile) -> PhraseProfile:
        """Store (or replace) a profile's kind, locale and passphrase; raises
        :class:`ProfileNotFoundError` when the profile is not in ``namespace``."""
        ...

    def get_phrase_profile(self, namespace: str, profile_id: str) -> PhraseProfile:
        """The profile's record; a text-independent one when none is stored. Raises
        :class:`ProfileNotFoundError` when the profile is not in ``namespace``."""
        ...

    def get_phrase_profiles(
        self, namespace: str, profile_ids: Sequence[str]
    ) -> dict[str, PhraseProfile]:
        """Stored records of those of ``profile_ids`` that have one (for listings)."""
        ...

    def fix_passphrase(self, namespace: str, profile_id: str, passphrase: str) -> str:
        """Set the passphrase if the profile has none yet (atomically) and return the
        passphrase in force: the one given, or the one set before."""
        ...

    def clear_passphrase(self, namespace: str, profile_id: str) -> None:
        """Forget the passphrase (a reset): the next first clip fixes a new one."""
        ...

    def create_challenge(self, challenge: Challenge) -> Challenge: ...

    def get_challenge(self, namespace: str, challenge_id: str) -> Challenge:
        """Raises :class:`ChallengeNotFoundError` (also for another namespace's)."""
        ...

    def use_challenge(
        self, namespace: str, challenge_id: str, *, now: datetime, profile_id: str | None
    ) -> Challenge:
        """Mark the challenge used, atomically: of concurrent calls exactly one succeeds.
        Raises :class:`ChallengeNotFoundError`, :class:`ChallengeUsedError` or
        :class:`ChallengeExpiredError` (at ``now``) and changes nothing then."""
        ...

    def purge_challenges(self, before: datetime) -> int:
        """Delete challenges that expired before ``before``; returns how many."""
        ...


class Store(ProfileStore, KeyStore, ScoringStore, StreamStore, PhraseStore, Protocol):
    """Every ability a voxprint store has: profiles and clips, galleries and their
    statistics, the activity log, API keys, calibrations and cohorts, audio streams,
    passphrases and spoken challenges."""
