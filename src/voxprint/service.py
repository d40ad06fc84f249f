"""The voxprint service: profiles, enrolment, verification and identification.

This is the one place the CLI and the REST API call. It joins the embedding
pipeline, scoring, decisions and a store, and writes every enrol, verify,
identify, reset and delete to the activity log.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from voxprint.adaptation import Band, band_of, pair_band, telephone_copy_helps
from voxprint.audio import AudioSource
from voxprint.decision import Decision, DecisionReason, OperatingPoint, ThresholdSource
from voxprint.enrollment import EnrollmentPolicy
from voxprint.errors import (
    AmbiguousProfileError,
    ClipRejectedError,
    DuplicateClipError,
    EncoderMismatchError,
    InvalidParameterError,
    InvalidProfileError,
    ProfileKindError,
    ProfileNotEnrolledError,
    ProfileNotFoundError,
    StoreError,
    VoicesDifferError,
    VoxprintError,
)
from voxprint.gallery_index import CANDIDATES, Candidates, GalleryIndex
from voxprint.pipeline import EmbeddingPipeline, PreparedSpeech, Utterance
from voxprint.quality import ClipQuality, QualityGate, assess_clip
from voxprint.scorer import Probe, Ranking, Rivals, Scorer
from voxprint.similar_voices import SIMILAR_VOICE_Z, similar_voices, voice_distances
from voxprint.store.base import Store
from voxprint.store.checks import check_same_encoder, check_two_profiles
from voxprint.store.records import (
    AZURE_METADATA_KEY,
    DEFAULT_NAMESPACE,
    Activity,
    ActivityEntry,
    Clip,
    EnrollmentStatus,
    PhraseProfile,
    Profile,
    ProfileChanges,
    ProfileKind,
    ProfileMerge,
    check_namespace,
)
from voxprint.thresholds import ThresholdReport, Thresholds, threshold_report

logger = logging.getLogger(__name__)

#: Most rows a listing may return or skip (stores count in 64-bit integers; nobody pages
#: further).
MAX_LISTED = 1_000_000_000
#: The largest activity-log id (a signed 64-bit integer in every store).
MAX_ACTIVITY_ID = 2**63 - 1

#: Most profiles one identification may be limited to (``profile_ids``).
MAX_CANDIDATE_PROFILES = 1000

#: The profile id Azure returns when nobody matches; used by the compatible API.
UNKNOWN_PROFILE_ID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class EnrollmentReport:
    """What one enrolment clip added, and how far the profile still has to go."""

    profile: Profile
    clip_audio_seconds: float
    clip_net_speech_seconds: float
    net_speech_seconds: float
    remaining_speech_seconds: float
    #: Quality measures of the clip; ``None`` for clips enrolled already embedded.
    quality: ClipQuality | None = None
    #: The profile already had this audio: nothing was added (a retried enrolment).
    duplicate: bool = False
    #: Other enrolled profiles of the namespace whose voices are too close to this one's
    #: to tell apart reliably (:mod:`voxprint.similar_voices`), closest first; looked for
    #: whenever a clip leaves the profile enrolled.
    similar_voices: tuple[SimilarProfile, ...] = ()

    @property
    def status(self) -> EnrollmentStatus:
        return self.profile.status


@dataclass(frozen=True)
class ActivityPage:
    """A page of the namespace's activity log, newest first, with the current name of
    each profile it mentions (``None``: deleted since). ``next_offset`` is where the next
    page starts, ``None`` on the last; ``next_before_id`` is the same place as a cursor
    (the ``before_id`` of the next page), which entries logged meanwhile do not shift."""

    entries: list[ActivityEntry]
    names: dict[str, str | None]
    limit: int
    offset: int
    next_offset: int | None
    before_id: int | None = None
    next_before_id: int | None = None


@dataclass(frozen=True)
class SimilarProfile:
    """An enrolled profile whose voice is close to another's: its voiceprints' ``cosine``
    and ``z``, how many of the namespace's impostor standard deviations above their mean."""

    profile_id: str
    name: str
    cosine: float
    z: float


@dataclass(frozen=True)
class SimilarVoices:
    """An enrolled profile and the others whose voices are too close to its own, closest
    first."""

    profile: Profile
    voices: tuple[SimilarProfile, ...]


@dataclass(frozen=True)
class VerificationResult:
    """The cosine the decision read (centred on the namespace's voices where the prior
    centres), the calibrated score (the probability that the claim is true), and the
    decision: accept when ``score`` reaches ``threshold`` and there was enough speech.

    ``reason`` says why (``insufficient_speech`` rejects without deciding); ``source`` is
    how the operating point in force was derived. ``cosine_threshold`` is the cosine this
    claim needed at its speech durations. With AS-Norm in use, ``normalized_score`` is the
    AS-Norm score the calibration was fitted on.
    """

    profile_id: str
    profile_name: str
    cosine: float
    score: float
    decision: Decision
    threshold: float
    net_speech_seconds: float
    reason: DecisionReason
    source: ThresholdSource
    normalized_score: float | None = None
    cosine_threshold: float | None = None
    #: ``False`` when the decision could not be written to the activity log (a read-only
    #: or full store): the answer stands, the log has a gap.
    activity_logged: bool = True
    #: The other enrolled profile whose likeness to the voice turned an accepted claim
    #: into a rejection (:mod:`voxprint.scoring.rivals`); ``None`` when none did.
    look_alike: LookAlike | None = None


@dataclass(frozen=True)
class LookAlike:
    """Another enrolled profile a verified voice resembles: its id, name and cosine."""

    profile_id: str
    name: str
    cosine: float


@dataclass(frozen=True)
class Candidate:
    """A profile the speaker may be: ``score`` is the posterior that it is this profile."""

    profile_id: str
    name: str
    cosine: float
    score: float
    normalized_score: float | None = None


@dataclass(frozen=True)
class IdentificationResult:
    """Open-set answer: ``identified`` is ``None`` when the speaker is unknown, and
    ``reason`` says why (``no_match``, ``look_alike`` or ``insufficient_speech``).

    Candidate scores and ``unknown_probability`` (the posterior that the speaker is none
    of the profiles) sum to 1 over the whole gallery; the best candidate is named when
    its score reaches ``threshold`` and its voice stands out from the next profiles
    (:attr:`voxprint.decision.OperatingPoint.standout_margin`; else ``look_alike``).
    """

    candidates: tuple[Candidate, ...]
    identified: Candidate | None
    threshold: float
    gallery_size: int
    net_speech_seconds: float
    reason: DecisionReason
    source: ThresholdSource
    unknown_probability: float
    #: ``False`` when the answer could not be written to the activity log.
    activity_logged: bool = True
    #: When nobody is named: about how much speech an ordinary owner needs to be named
    #: among this gallery (``None``: not known, or no amount would do).
    speech_needed_seconds: float | None = None

    @property
    def is_unknown(self) -> bool:
        return self.identified is None


@dataclass(frozen=True)
class IdentityClaim:
    """What identifying one utterance among some candidates scores
    (:meth:`VoxprintService.identity_claim`, the one rule identify and diarization
    share): the utterance as ``probe``; its telephone copy (``copy``) for each candidate
    ``copied`` flags (a wideband probe against a telephone enrolment, with the
    narrowband model), ``None`` when no candidate needs it; ``by_band``: each candidate
    judged by its own enrolment band; ``pairs``: the bands of the pairs scored (the copy
    against a telephone enrolment is a narrowband pair), which the scorer's calibration
    must cover (:meth:`VoxprintService.identify_scorer`)."""

    probe: Probe
    copy: Probe | None
    copied: tuple[bool, ...]
    by_band: bool
    pairs: frozenset[Band]

    def rank(self, scorer: Scorer, candidates: Candidates, *, top_n: int) -> Ranking:
        """The open-set ranking of the probe among ``candidates`` (those it was made for)."""
        return scorer.identify(
            self.probe,
            candidates.voiceprints,
            candidates.seconds,
            top_n=top_n,
            gallery_size=candidates.gallery_size,
            bands=candidates.bands if self.by_band or self.copy is not None else None,
            telephone=None if self.copy is None else (self.copy, self.copied),
            sides=candidates.statistics_bands,
        )


def _judged_by_band(probe: Band, telephone: bool) -> bool:
    """Whether a probe of band ``probe`` is judged against each candidate by the
    candidate's own enrolment band (and so searched for among the best of each band):
    a telephone probe always; a wideband one when its telephone copy can be made for
    the telephone-enrolled candidates (``telephone``)."""
    return probe is Band.NARROW or (telephone and probe is Band.WIDE)


@dataclass(frozen=True)
class ComparisonResult:
    cosine: float
    score: float
    decision: Decision
    threshold: float
    reason: DecisionReason
    source: ThresholdSource
    normalized_score: float | None = None


@dataclass(frozen=True)
class MeasuredClip:
    """An enrolment clip embedded and measured, not stored yet: what batch workers hand
    back to the process that writes to the store."""

    utterance: Utterance
    quality: ClipQuality
    #: SHA-256 of the decoded samples (a retried clip is recognised by it).
    content_hash: str


def audio_hash(waveform: np.ndarray) -> str:
    """SHA-256 of decoded ``(n,) float32`` samples: how a clip the profile already has
    (a retried request, a copied file) is recognised."""
    return hashlib.sha256(np.ascontiguousarray(waveform).tobytes()).hexdigest()


def measure_waveform(
    pipeline: EmbeddingPipeline, gate: QualityGate, waveform: np.ndarray, *, force: bool = False
) -> MeasuredClip:
    """Embed ``(n,) float32`` audio at the encoder's rate and measure its quality."""
    content_hash = audio_hash(waveform)
    utterance = pipeline.process_waveform(waveform, force=force)
    quality = assess_clip(waveform, utterance.segments, pipeline.encoder, gate)
    return MeasuredClip(utterance, quality, content_hash)


def measure_clip(
    pipeline: EmbeddingPipeline, gate: QualityGate, source: AudioSource, *, force: bool = False
) -> MeasuredClip:
    """Decode, embed and measure one enrolment clip (needs no store)."""
    return measure_waveform(pipeline, gate, pipeline.load(source), force=force)


@dataclass(frozen=True)
class VoiceprintExport:
    """A profile's voiceprint with the encoder that made it: ``vector`` is ``(dim,) float32``."""

    profile_id: str
    encoder_name: str
    encoder_version: str
    vector: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class VoxprintService:
    """Speaker recognition over one store, for one namespace (tenant)."""

    pipeline: EmbeddingPipeline
    store: Store
    #: Where each namespace's operating point comes from (the one source for decisions).
    thresholds: Thresholds
    enrollment: EnrollmentPolicy = field(default_factory=EnrollmentPolicy)
    namespace: str = DEFAULT_NAMESPACE
    #: In-memory galleries for 1:N search; ``None`` reads the gallery from the store on
    #: every identification.
    index: GalleryIndex | None = None

    def __post_init__(self) -> None:
        check_namespace(self.namespace)

    def in_namespace(self, namespace: str) -> VoxprintService:
        """The same service, scoped to another namespace."""
        return replace(self, namespace=namespace)

    def prepare_search(self) -> int:
        """Load this namespace's gallery for identification now (a large one takes minutes
        to index; see :meth:`GalleryIndex.load`); returns its voiceprints, 0 without an
        index."""
        return self.index.load(self.namespace) if self.index is not None else 0

    @property
    def encoder_name(self) -> str:
        return self.pipeline.encoder.name

    @property
    def encoder_version(self) -> str:
        return self.pipeline.encoder.version

    # --- profiles -----------------------------------------------------------

    def create_profile(
        self,
        name: str,
        *,
        external_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        kind: ProfileKind = ProfileKind.TEXT_INDEPENDENT,
        locale: str | None = None,
        passphrase: str | None = None,
    ) -> Profile:
        """A new, empty profile. A text-dependent one (``kind``) is stored with its
        ``locale`` and its ``passphrase`` (``None``: fixed by its first clip) in the same
        transaction, so it is never seen, even for a moment, as text-independent. The
        phrase's words are the caller's to check (:mod:`voxprint.passphrase.service`)."""
        if not name or not name.strip():
            raise InvalidProfileError("a profile needs a non-empty name")
        now = datetime.now(UTC)
        profile = Profile(
            id=str(uuid.uuid4()),
            namespace=self.namespace,
            name=name.strip(),
            encoder_name=self.encoder_name,
            encoder_version=self.encoder_version,
            created_at=now,
            updated_at=now,
            external_id=external_id,
            metadata=dict(metadata or {}),
        )
        phrase = None
        if kind is ProfileKind.TEXT_DEPENDENT:
            phrase = PhraseProfile(profile.id, kind, locale, passphrase)
        elif locale is not None or passphrase is not None:
            raise ProfileKindError("a locale or passphrase needs a text-dependent profile")
        return self.store.create_profile(
            profile, activity=Activity("create", "created", profile_id=profile.id), phrase=phrase
        )

    def get_profile(self, profile_id: str) -> Profile:
        return self.store.get_profile(self.namespace, profile_id)

    def get_by_external_id(self, external_id: str) -> Profile:
        return self.store.find_by_external_id(self.namespace, external_id)

    def resolve_profile(self, reference: str) -> Profile:
        """Find a profile by id, else by external id or display name. A reference that
        is the external id of one profile and the name of another (or the name of
        several) is ambiguous: it never silently picks one of them."""
        try:
            return self.store.get_profile(self.namespace, reference)
        except ProfileNotFoundError:
            pass
        matches: dict[str, tuple[Profile, str]] = {}
        try:
            by_external = self.store.find_by_external_id(self.namespace, reference)
            matches[by_external.id] = (by_external, "external id")
        except ProfileNotFoundError:
            pass
        for profile in self.store.find_by_name(self.namespace, reference):
            matches.setdefault(profile.id, (profile, "name"))
        if len(matches) == 1:
            return next(iter(matches.values()))[0]
        if matches:
            which = ", ".join(f"{p.id} (by {how})" for p, how in matches.values())
            raise AmbiguousProfileError(
                f"{len(matches)} profiles answer to {reference!r}: {which}; use an id"
            )
        raise ProfileNotFoundError(f"no profile with id, external id or name {reference!r}")

    def resolve_for_enrolment(self, reference: str, external_id: str | None) -> Profile:
        """:meth:`resolve_profile` for an enrolment that names an ``external_id``: the
        profile found must have that external id (an enrolment never changes it)."""
        found = self.resolve_profile(reference)
        if external_id is not None and found.external_id != external_id:
            held = "no external id" if found.external_id is None else f"{found.external_id!r}"
            raise InvalidProfileError(
                f"profile {found.name!r} ({found.id}) exists with {held}, not "
                f"{external_id!r}; enrol it without an external id, or name another profile"
            )
        return found

    def find_profile(self, reference: str) -> Profile | None:
        """:meth:`resolve_profile`, or ``None`` when no profile matches (an ambiguous name
        still raises)."""
        try:
            return self.resolve_profile(reference)
        except ProfileNotFoundError:
            return None

    def discard_if_empty(self, profile_id: str) -> bool:
        """Delete the profile if it holds no clip (one just made for an enrolment that
        stored nothing); whether it was deleted. Never raises: a store that cannot answer
        leaves the profile (logged), so that the enrolment's own error is what the caller
        reports."""
        try:
            if self.store.list_clips(self.namespace, profile_id):
                return False
            self.delete_profile(profile_id)
            return True
        except VoxprintError as error:
            logger.warning("empty profile %s not discarded: %s", profile_id, error)
            return False

    def ensure_profile(self, reference: str, *, external_id: str | None = None) -> Profile:
        """The profile ``reference`` resolves to (which must have ``external_id`` when one
        is given), or a new one named ``reference``."""
        try:
            return self.resolve_for_enrolment(reference, external_id)
        except ProfileNotFoundError:
            return self.create_profile(reference, external_id=external_id)

    def list_profiles(self, *, limit: int = 100, offset: int = 0) -> list[Profile]:
        _check_page(limit, offset)
        return self.store.list_profiles(self.namespace, limit=limit, offset=offset)

    def count_profiles(self) -> int:
        return self.store.count_profiles(self.namespace)

    def update_profile(self, profile_id: str, changes: ProfileChanges) -> Profile:
        if changes.name is not None and not changes.name.strip():
            raise InvalidProfileError("a profile needs a non-empty name")
        return self.store.update_profile(self.namespace, profile_id, changes)

    def delete_profile(self, profile_id: str) -> None:
        """Delete the profile, its voiceprint and every clip embedding for good."""
        self.store.delete_profile(
            self.namespace, profile_id, activity=Activity("delete", "deleted", profile_id)
        )
        self.refresh_thresholds()

    def reset_profile(self, profile_id: str) -> Profile:
        """Forget every enrolment clip; the profile goes back to ``enrolling``."""
        profile = self.store.reset_profile(
            self.namespace,
            profile_id,
            self.enrollment.summarize,
            activity=Activity("reset", "reset", profile_id),
        )
        self.refresh_thresholds()
        return profile

    def merge_profiles(self, into_id: str, from_id: str, *, force: bool = False) -> ProfileMerge:
        """Merge profile ``from_id`` into ``into_id`` (one person enrolled twice): every
        clip moves, the voiceprint, speech totals and status are rebuilt from all the
        clips by the enrolment rule, and ``from_id`` is deleted for good, in one
        transaction. ``into_id`` keeps its name, external id and metadata. A clip whose
        audio ``into_id`` already has is dropped, not held twice.

        Refused, changing nothing: one id twice (:class:`InvalidParameterError`), a profile
        not in this namespace (:class:`ProfileNotFoundError`), profiles of different
        encoders or of another encoder than this one's (:class:`EncoderMismatchError`), a
        text-dependent profile on either side (:class:`ProfileKindError`), a profile
        whose voiceprint has no clips to rebuild it from (:class:`InvalidProfileError`),
        and, unless ``force``, two voiceprints that do not sound like one voice
        (:class:`VoicesDifferError`).
        """
        into, source = self.check_merge(into_id, from_id, force=force)
        merge = self.store.merge_profiles(
            self.namespace,
            into.id,
            source.id,
            self.enrollment.summarize,
            activities=(
                Activity("merge", None, into.id, detail=f"from={source.id}"),
                Activity("merge", "deleted", source.id, detail=f"into={into.id}"),
            ),
        )
        self.refresh_thresholds()
        return merge

    def check_merge(
        self, into_id: str, from_id: str, *, force: bool = False
    ) -> tuple[Profile, Profile]:
        """The two profiles if :meth:`merge_profiles` would merge them (raises what it
        would raise otherwise; writes nothing): for asking before merging. A merge is
        only of one voice's text-independent clips of this encoder: a passphrase
        profile's clips all say its phrase (and are scored as such), and a voiceprint
        given without clips cannot be rebuilt from them."""
        check_two_profiles(into_id, from_id)
        into, source = self.get_profile(into_id), self.get_profile(from_id)
        check_same_encoder(into, source)
        self._check_encoder(into)
        kinds = self.store.get_phrase_profiles(self.namespace, [into.id, source.id])
        both = (into, source)
        for kept_out, verbs, why in (
            (
                [
                    p
                    for p in both
                    if p.id in kinds and kinds[p.id].kind is ProfileKind.TEXT_DEPENDENT
                ],
                ("is", "are"),
                "text-dependent; only text-independent profiles merge (a passphrase "
                "profile's clips all say its passphrase)",
            ),
            (
                [p for p in both if AZURE_METADATA_KEY in p.metadata],
                ("was", "were"),
                "made through the Azure-compatible routes, whose enrolment rules (length, "
                "kind, locale) are Azure's; delete the duplicate there instead",
            ),
        ):
            if kept_out:
                which = " and ".join(f"{p.name!r} ({p.id})" for p in kept_out)
                verb = verbs[0] if len(kept_out) == 1 else verbs[1]
                raise ProfileKindError(
                    f"cannot merge {source.name!r} into {into.name!r}: {which} {verb} {why}"
                )
        for profile in (into, source):
            if profile.voiceprint is not None and profile.clip_count == 0:
                raise InvalidProfileError(
                    f"cannot merge: {profile.name!r} ({profile.id}) has a voiceprint but no "
                    "enrolment clips to rebuild it from"
                )
        if not force:
            self._check_one_voice(into, source)
        return into, source

    def _check_one_voice(self, into: Profile, source: Profile) -> None:
        """Refuse to merge two voiceprints that do not sound like one voice by the
        similar-voice rule (:data:`SIMILAR_VOICE_Z` sd above how strangers score here,
        measured without ``source``): merging two people would let each pass as the
        other, and cannot be undone. Profiles still enrolling, or a point without an
        impostor scale (a user's calibration), cannot be measured and are not refused."""
        if into.voiceprint is None or source.voiceprint is None:
            return
        point = self.thresholds.impostor_point(self.namespace, excluding=source.id)
        if point is None:
            return
        band = pair_band(Band.WIDE if into.band is None else into.band, source.band)
        measured = voice_distances(
            point,
            band,
            into.voiceprint,
            source.voiceprint[None, :],
            side=into.statistics_band,
            sides=[source.statistics_band],
        )
        if measured is None:
            return
        cosine, z = float(measured[0][0]), float(measured[1][0])
        if z < SIMILAR_VOICE_Z:
            raise VoicesDifferError(
                f"{source.name!r} and {into.name!r} do not sound like one voice (cosine "
                f"{cosine:.2f}, {z:.1f} sd above strangers here; one voice enrolled twice "
                f"scores at least {SIMILAR_VOICE_Z:g}); nothing was merged: if they were, "
                "either person could pass as the other. "
                'To merge anyway, force it (--force, or "force": true)'
            )

    def export_voiceprint(self, profile_id: str) -> VoiceprintExport:
        profile = self.get_profile(profile_id)
        if profile.voiceprint is None:
            raise ProfileNotEnrolledError(f"profile {profile_id} has no enrolment audio yet")
        return VoiceprintExport(
            profile.id, profile.encoder_name, profile.encoder_version, profile.voiceprint
        )

    def activity(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        profile_id: str | None = None,
        before_id: int | None = None,
    ) -> list[ActivityEntry]:
        """The namespace's activity log, newest first (optionally one profile's only, and
        only entries whose id is below ``before_id``)."""
        _check_page(limit, offset)
        _check_before_id(before_id)
        return self.store.list_activity(
            self.namespace,
            limit=limit,
            offset=offset,
            profile_id=profile_id,
            before_id=before_id,
        )

    def activity_page(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        profile_id: str | None = None,
        before_id: int | None = None,
    ) -> ActivityPage:
        """A page of :meth:`activity` with the profiles' current names and where the
        next page starts: its offset, and its ``before_id`` (the cursor to page with
        while entries are being logged: an offset counts from the newest entry, so a new
        one shifts it and an entry is seen twice). ``profile_id`` may be a deleted
        profile's: its entries stay."""
        _check_page(limit, offset)
        _check_before_id(before_id)
        rows = self.store.list_activity(
            self.namespace,
            limit=limit + 1,
            offset=offset,
            profile_id=profile_id,
            before_id=before_id,
        )
        entries = rows[:limit]
        names: dict[str, str | None] = {}
        for entry in entries:
            if entry.profile_id is not None and entry.profile_id not in names:
                try:
                    names[entry.profile_id] = self.store.get_profile(
                        self.namespace, entry.profile_id
                    ).name
                except ProfileNotFoundError:  # deleted since
                    names[entry.profile_id] = None
        more = len(rows) > limit
        return ActivityPage(
            entries,
            names,
            limit,
            offset,
            offset + limit if more else None,
            before_id=before_id,
            next_before_id=entries[-1].id if more else None,
        )

    # --- recognition --------------------------------------------------------

    def embed(self, source: AudioSource, *, force: bool = False) -> Utterance:
        """Embed the speech in ``source`` with this service's encoder."""
        return self.pipeline.process(source, force=force)

    def enroll(
        self,
        profile_id: str,
        source: AudioSource,
        *,
        label: str | None = None,
        force: bool = False,
        check_quality: bool = True,
        measured: MeasuredClip | None = None,
    ) -> EnrollmentReport:
        """Add one clip to a profile and report progress toward the enrolment minimum.

        The clip's quality is measured and, unless ``check_quality`` is off, checked by
        the enrolment policy's quality gate: a refused clip raises
        :class:`ClipRejectedError` (with the reasons and measures) and stores nothing.
        ``measured``: the clip as :func:`measure_waveform` already measured it (with
        ``force``), used instead of measuring it again when its samples are this
        ``source``'s (the same content hash); otherwise ignored.

        Enrolment is idempotent: audio the profile already has (the same decoded samples,
        e.g. a retried request) is not stored again; the report says ``duplicate``.
        """
        profile = self.get_profile(profile_id)
        self._check_encoder(profile)
        waveform = self.pipeline.load(source)
        content_hash = audio_hash(waveform)
        if self._has_audio(profile, content_hash):
            return self._duplicate(profile)
        if measured is not None and measured.content_hash == content_hash:
            clip = measured
        else:
            gate = self.enrollment.quality_gate
            clip = measure_waveform(self.pipeline, gate, waveform, force=force)
        return self._enroll_measured(profile, clip, label=label, check_quality=check_quality)

    def enroll_measured(
        self,
        profile_id: str,
        clip: MeasuredClip,
        *,
        label: str | None = None,
        check_quality: bool = True,
    ) -> EnrollmentReport:
        """Add a clip embedded and measured elsewhere (:func:`measure_clip`, e.g. by a
        batch worker) exactly as :meth:`enroll` would: the same duplicate check, quality
        gate and report. A text-dependent profile is refused (:meth:`_check_embedded_clip`)."""
        profile = self.get_profile(profile_id)
        self._check_encoder(profile)
        self._check_embedded_clip(profile)
        if self._has_audio(profile, clip.content_hash):
            return self._duplicate(profile)
        return self._enroll_measured(profile, clip, label=label, check_quality=check_quality)

    def _has_audio(self, profile: Profile, content_hash: str) -> bool:
        clips = self.store.list_clips(self.namespace, profile.id)
        return any(c.content_hash == content_hash for c in clips)

    def _enroll_measured(
        self, profile: Profile, clip: MeasuredClip, *, label: str | None, check_quality: bool
    ) -> EnrollmentReport:
        if check_quality:
            try:
                self.check_clip_quality(clip.quality)
                self._check_clip_voice(profile, clip)
            except ClipRejectedError as refused:
                detail = "; ".join(refused.reasons)
                self._record(Activity("enroll", "rejected", profile.id, detail=detail))
                raise
        return self._add_clip(profile, clip.utterance, label, clip.quality, clip.content_hash)

    def _check_clip_voice(self, profile: Profile, clip: MeasuredClip) -> None:
        """Refuse a clip that does not sound like the voice ``profile`` holds so far (the
        quality gate's :meth:`~voxprint.quality.QualityGate.voice_problem`): scored as a
        claim on it would be, without rivals. Not for a profile without a voiceprint yet,
        nor one made through the Azure-compatible routes (whose enrolment rules are
        Azure's), nor a clip with too little speech to decide."""
        if profile.voiceprint is None or AZURE_METADATA_KEY in profile.metadata:
            return
        gate = self.enrollment.quality_gate
        if not gate.enabled or gate.min_own_voice_score is None:
            return
        probe = Probe.of(clip.utterance)
        scorer = self.scorer(pair_band(band_of(probe.bandwidth_hz), profile.band))
        verdict = scorer.verify(
            probe,
            profile.voiceprint,
            profile.net_speech_seconds,
            band=_claim_band(scorer.point, probe, profile),
            side=profile.statistics_band,
        )
        if verdict.reason is DecisionReason.INSUFFICIENT_SPEECH:
            return
        problem = gate.voice_problem(verdict.score, profile.name)
        if problem is not None:
            raise ClipRejectedError(
                f"clip refused: {problem} [{clip.quality.summary()}]; nothing was stored. If "
                "it is that person, enrol it with the quality gate off (--no-quality-gate, "
                "or quality_gate=false)",
                reasons=(problem,),
                quality=clip.quality,
            )

    def check_clip_quality(self, quality: ClipQuality) -> None:
        """Refuse an enrolment clip the policy's quality gate finds poor (the one place
        that decides it): :class:`ClipRejectedError` with the reasons and measures. Logs
        nothing: a clip checked before its profile exists (the first clip of a new
        profile) leaves no trace."""
        problems = self.enrollment.quality_gate.problems(quality)
        if problems:
            raise ClipRejectedError(
                f"clip refused: {'; '.join(problems)} [{quality.summary()}]",
                reasons=problems,
                quality=quality,
            )

    def _duplicate(self, profile: Profile) -> EnrollmentReport:
        """The report of an enrolment whose audio the profile already has: nothing added.
        A profile still enrolling whose clips already hold the speech this policy requires
        (the requirement was lowered since its last clip, e.g. ``--enroll-seconds``) is
        enrolled now, as a new clip would have enrolled it (found in a walkthrough: the
        same files sent again with a lower requirement left it enrolling)."""
        current = self.get_profile(profile.id)
        if current.status is EnrollmentStatus.ENROLLING and self.enrollment.met_by(current):
            current = self.store.rebuild_profile(
                self.namespace,
                current.id,
                self.enrollment.summarize,
                activity=Activity("enroll", None, current.id, detail="requirement met"),
            )
            self.refresh_thresholds()
        return EnrollmentReport(
            profile=current,
            clip_audio_seconds=0.0,
            clip_net_speech_seconds=0.0,
            net_speech_seconds=current.net_speech_seconds,
            remaining_speech_seconds=self.enrollment.remaining_for(current),
            duplicate=True,
            similar_voices=self._similar_profiles(current),
        )

    def enroll_utterance(
        self,
        profile_id: str,
        utterance: Utterance,
        *,
        label: str | None = None,
        content_hash: str | None = None,
    ) -> EnrollmentReport:
        """Add an already embedded clip (e.g. a diarized speaker's speech). With the
        ``content_hash`` of its audio (:func:`audio_hash`), audio the profile already has
        is not stored again (the report says ``duplicate``). A text-dependent profile is
        refused (:meth:`_check_embedded_clip`)."""
        profile = self.get_profile(profile_id)
        self._check_encoder(profile)
        self._check_embedded_clip(profile)
        if content_hash is not None and self._has_audio(profile, content_hash):
            return self._duplicate(profile)
        return self._add_clip(profile, utterance, label, content_hash=content_hash)

    def _check_embedded_clip(self, profile: Profile) -> None:
        """Refuse a clip embedded elsewhere for a text-dependent profile (the one place
        that decides it): each of its clips must say its passphrase, which only the
        passphrase service (:meth:`voxprint.passphrase.service.PassphraseService.enroll`)
        checks, on the clip's audio; an embedding (a diarized speaker's speech, a batch
        worker's clip) has no words to check. :class:`ProfileKindError`, nothing stored."""
        record = self.store.get_phrase_profile(self.namespace, profile.id)
        if record.kind is ProfileKind.TEXT_DEPENDENT:
            raise ProfileKindError(
                f"profile {profile.name!r} is text-dependent: it enrols only clips that say "
                "its passphrase, one by one; other speech cannot be added to it"
            )

    def _add_clip(
        self,
        profile: Profile,
        utterance: Utterance,
        label: str | None,
        quality: ClipQuality | None = None,
        content_hash: str | None = None,
    ) -> EnrollmentReport:
        clip = Clip(
            id=str(uuid.uuid4()),
            profile_id=profile.id,
            embedding=utterance.embedding,
            audio_seconds=utterance.audio_seconds,
            net_speech_seconds=utterance.net_speech_seconds,
            created_at=datetime.now(UTC),
            label=label,
            bandwidth_hz=utterance.bandwidth_hz,
            content_hash=content_hash,
        )
        activity = Activity(
            "enroll",
            None,  # the profile's status after the clip
            profile.id,
            detail=f"net_speech={utterance.net_speech_seconds:.2f}s",
        )
        try:
            updated = self.store.add_clip(
                self.namespace, clip, self.enrollment.summarize, activity=activity
            )
        except DuplicateClipError:  # the same audio arrived twice at once: stored once
            return self._duplicate(profile)
        similar: tuple[SimilarProfile, ...] = ()
        if updated.status is EnrollmentStatus.ENROLLED:
            self.refresh_thresholds()
            similar = self._similar_profiles(updated)
        return EnrollmentReport(
            profile=updated,
            clip_audio_seconds=utterance.audio_seconds,
            clip_net_speech_seconds=utterance.net_speech_seconds,
            net_speech_seconds=updated.net_speech_seconds,
            remaining_speech_seconds=self.enrollment.remaining_for(updated),
            quality=quality,
            similar_voices=similar,
        )

    def similar_voices(self, profile_id: str) -> SimilarVoices:
        """The namespace's other enrolled profiles whose voices are too close to this
        enrolled profile's to tell apart reliably, closest first: what enrolment reports,
        asked again later (e.g. of profiles enrolled before others joined).

        Raises :class:`ProfileNotEnrolledError` while the profile is still enrolling.
        """
        profile = self._enrolled_profile(profile_id)
        return SimilarVoices(profile, self._find_similar(profile))

    def _similar_profiles(self, profile: Profile) -> tuple[SimilarProfile, ...]:
        """:meth:`_find_similar` for an enrolment's answer: advisory, so a store that cannot
        answer leaves it empty (logged) and the enrolment stands."""
        try:
            return self._find_similar(profile)
        except StoreError as error:
            logger.warning("similar voices of %s not checked: %s", profile.id, error)
            return ()

    def _find_similar(self, profile: Profile) -> tuple[SimilarProfile, ...]:
        """Similar voices of ``profile`` (none while it is not enrolled), measured on how
        strangers score in the namespace without it, so that a second enrolment of one
        voice does not lift its own bar."""
        if profile.status is not EnrollmentStatus.ENROLLED or profile.voiceprint is None:
            return ()
        point = self.thresholds.impostor_point(self.namespace, excluding=profile.id)
        if point is None:
            return ()
        # A telephone-enrolled profile's app-enrolled twin scores below telephone
        # strangers (as in identify): the best of each band are candidates then.
        narrow = profile.band is Band.NARROW
        gallery = self._candidates(profile.voiceprint, CANDIDATES, None, by_band=narrow)
        others = [i for i, pid in enumerate(gallery.profile_ids) if pid != profile.id]
        if not others:
            return ()
        if gallery.bands is None:
            pairs: Band | list[Band] = Band.WIDE  # not known: the wider net of warnings
        else:
            own = Band.WIDE if profile.band is None else profile.band
            pairs = [pair_band(own, gallery.bands[i]) for i in others]
        sides = (
            None
            if gallery.statistics_bands is None
            else [gallery.statistics_bands[i] for i in others]
        )
        found = similar_voices(
            point,
            pairs,
            profile.voiceprint,
            gallery.voiceprints[others],
            side=profile.statistics_band,
            sides=sides,
        )
        return tuple(
            SimilarProfile(
                gallery.profile_ids[others[v.index]], gallery.names[others[v.index]], v.cosine, v.z
            )
            for v in found
        )

    def operating_point_source(self) -> ThresholdSource:
        """How the operating point in force for this namespace was derived."""
        return self.thresholds.operating_point(self.namespace).source

    def threshold_report(self) -> ThresholdReport:
        """The operating point in force for this namespace, how it was derived and when
        it last changed."""
        return threshold_report(self.thresholds, self.namespace)

    def scorer(self, *bands: Band, force: bool = False) -> Scorer:
        """The scorer of this namespace's operating point for a decision scoring pairs of
        recordings of ``bands`` (none given: not known; a calibration decides only when it
        was fitted on every one of them); ``force`` decides even with less speech than its
        minimum."""
        scorer = self.thresholds.scorer(self.namespace, *bands)
        if force:
            return replace(scorer, point=replace(scorer.point, min_speech_seconds=0.0))
        return scorer

    def identify_scorer(self, *claims: IdentityClaim, force: bool = False) -> Scorer:
        """The scorer that decides ``claims`` (:meth:`identity_claim`) as one decision:
        one identification, or the speakers of one recording. A calibration decides only
        when its trials covered every pair they score (none given: not known)."""
        bands: set[Band] = set()
        for claim in claims:
            bands |= claim.pairs
        return self.scorer(*sorted(bands), force=force)

    def identity_claim(
        self,
        utterance: Utterance,
        candidates: Candidates,
        *,
        telephone: Callable[[], Utterance] | None = None,
    ) -> IdentityClaim:
        """How ``utterance`` is scored among ``candidates``: each candidate judged by its
        own enrolment band, as a claim on it would be (a namespace may mix app and
        telephone enrolments), and the candidates enrolled wholly by telephone against
        the utterance's telephone copy where it is wideband
        (:func:`voxprint.adaptation.telephone_copy_helps`). ``telephone`` makes that copy
        (:meth:`EmbeddingPipeline.telephone_copy`); it is asked for only when a candidate
        needs it."""
        probe_band = band_of(utterance.bandwidth_hz)
        copied = tuple(
            telephone_copy_helps(probe_band, band) for band in candidates.statistics_bands or ()
        )
        copy = Probe.of(telephone()) if telephone is not None and any(copied) else None
        enrolled = candidates.bands or (None,) * len(candidates.profile_ids)
        pairs = frozenset(
            Band.NARROW if copy is not None and copied[i] else pair_band(probe_band, band)
            for i, band in enumerate(enrolled)
        ) or frozenset({probe_band})
        return IdentityClaim(
            Probe.of(utterance),
            copy,
            copied,
            _judged_by_band(probe_band, telephone is not None),
            pairs,
        )

    def _record(self, activity: Activity) -> bool:
        """Log a decision; a store that cannot write does not stop the decision being
        answered. Returns whether it was logged."""
        try:
            self.store.log_activity(
                self.namespace,
                activity.action,
                profile_id=activity.profile_id,
                result=activity.result or "",
                score=activity.score,
                detail=activity.detail,
            )
            return True
        except StoreError as error:
            logger.warning("activity of namespace %r not logged: %s", self.namespace, error)
            return False

    def refresh_thresholds(self) -> None:
        """Recompute this namespace's adapted operating point from its enrolled profiles.

        Called after every enrolment, reset and deletion. A failure leaves the previous
        statistics in force (the change itself is already stored) and is logged.
        """
        try:
            self.thresholds.refresh(self.namespace)
        except StoreError as error:
            logger.warning("could not update the thresholds of %r: %s", self.namespace, error)

    def verify(
        self, profile_id: str, source: AudioSource, *, force: bool = False
    ) -> VerificationResult:
        """1:1 — is the speaker in ``source`` the profile's owner?

        Any amount of speech is scored; under the operating point's minimum the answer is
        a rejection with reason ``insufficient_speech`` (``force`` decides anyway).
        """
        profile = self._enrolled_profile(profile_id)
        waveform = self.pipeline.load(source)
        utterance = self.claim_utterance(
            profile, waveform, self.pipeline.prepare(waveform, force=True)
        )
        return self.verify_utterance(profile, utterance, force=force)

    def claim_utterance(
        self, profile: Profile, waveform: np.ndarray, speech: PreparedSpeech
    ) -> Utterance:
        """What a claim on ``profile`` is scored as, from ``speech`` found in ``(n,)
        float32`` audio at the encoder's rate (:meth:`EmbeddingPipeline.prepare`): the
        speech embedded as it is, or only its telephone copy where the claim is better
        judged with it (:func:`voxprint.adaptation.telephone_copy_helps`: a wideband
        probe against a telephone enrolment). One embedding either way."""
        if telephone_copy_helps(band_of(speech.bandwidth_hz), profile.statistics_band):
            return self.pipeline.telephone_copy(waveform, speech.segments)
        return self.pipeline.embed(speech)

    def verify_utterance(
        self,
        profile: Profile,
        utterance: Utterance,
        *,
        record: bool = True,
        force: bool = False,
        rivals: bool = True,
        neighbours: bool = True,
    ) -> VerificationResult:
        """Score an embedded utterance against an enrolled ``profile`` (made by
        :meth:`claim_utterance`, which knows when the telephone copy is what to score);
        ``record=False`` keeps the call out of the activity log (live windows, scored
        twice a second). ``rivals``:
        weigh the claim against the namespace's other profiles too
        (:mod:`voxprint.scoring.rivals`); off where they are not the same kind of
        profile (the Azure-compatible routes, passphrase profiles). ``neighbours``: the
        claim must also stand out from the profiles nearest the claimed one, where the
        operating point has that guard (``verify_neighbour_margin``); off for passphrase
        profiles, whose voiceprints were made from other words than their neighbours'."""
        self._check_encoder(profile)
        if profile.status is not EnrollmentStatus.ENROLLED or profile.voiceprint is None:
            raise self._not_enrolled(profile)
        probe = Probe.of(utterance)
        scorer = self.scorer(pair_band(band_of(probe.bandwidth_hz), profile.band), force=force)
        band = _claim_band(scorer.point, probe, profile)
        weigh = rivals and scorer.point.rival_weight > 0.0
        guard = neighbours and scorer.point.verify_neighbour_margin is not None
        others = self._other_profiles(profile, probe, scorer) if weigh or guard else None
        weighed = others if weigh else None
        verdict = scorer.verify(
            probe,
            profile.voiceprint,
            profile.net_speech_seconds,
            band=band,
            rivals=None if weighed is None else weighed[1],
            side=profile.statistics_band,
            neighbours=others[1] if guard and others is not None else None,
        )
        look_alike = None
        if verdict.rival is not None and weighed is not None:
            found, weighed_rivals = weighed
            look_alike = LookAlike(
                found.profile_ids[verdict.rival],
                found.names[verdict.rival],
                float(
                    scorer.cosines(
                        probe,
                        weighed_rivals.voiceprints[verdict.rival],
                        None
                        if weighed_rivals.sides is None
                        else [weighed_rivals.sides[verdict.rival]],
                    )[0]
                ),
            )
        detail = verdict.reason.value
        if look_alike is not None:
            detail = f"{DecisionReason.LOOK_ALIKE.value}={look_alike.profile_id}"
        logged = record and self._record(
            Activity("verify", verdict.decision.value, profile.id, verdict.score, detail)
        )
        return VerificationResult(
            profile_id=profile.id,
            profile_name=profile.name,
            cosine=verdict.cosine,
            score=verdict.score,
            decision=verdict.decision,
            threshold=verdict.threshold,
            net_speech_seconds=utterance.net_speech_seconds,
            reason=verdict.reason,
            source=scorer.point.source,
            normalized_score=verdict.normalized_score,
            cosine_threshold=verdict.cosine_threshold,
            activity_logged=logged,
            look_alike=look_alike,
        )

    def _other_profiles(
        self, profile: Profile, probe: Probe, scorer: Scorer
    ) -> tuple[Candidates, Rivals]:
        """The namespace's other enrolled profiles that a claim on ``profile`` is weighed
        against (its rivals) and whose nearest to it the claim must stand out from (its
        neighbours): the best candidates for ``probe``, found as identify finds them, less
        passphrase profiles, among how many others there are (all of the namespace's
        profiles but the claimed one, passphrase ones included: a slightly lighter
        weight per rival)."""
        by_band = scorer.point.profile_bands_matter(probe.bandwidth_hz)
        found = self._candidates(probe.embedding, 1, None, by_band=by_band)
        # Passphrase profiles are another kind, often this user's own: never rivals.
        kinds = self.store.get_phrase_profiles(self.namespace, list(found.profile_ids))
        passphrase = {pid for pid, r in kinds.items() if r.kind is ProfileKind.TEXT_DEPENDENT}
        rows = [
            i
            for i, pid in enumerate(found.profile_ids)
            if pid != profile.id and pid not in passphrase
        ]
        others = max(found.gallery_size - 1, len(rows))
        found = found.take(rows)
        bands = found.bands if by_band else None
        return found, Rivals(
            found.voiceprints, found.seconds, bands, others=others, sides=found.statistics_bands
        )

    def identify(
        self,
        source: AudioSource,
        *,
        top_n: int = 5,
        profile_ids: Sequence[str] | None = None,
        force: bool = False,
    ) -> IdentificationResult:
        """1:N open-set identification over all enrolled profiles or a subset.

        Under the operating point's minimum speech the answer is "unknown" with reason
        ``insufficient_speech`` (``force`` decides anyway).
        """
        if top_n < 1:
            raise InvalidParameterError("top_n must be at least 1")
        if profile_ids is not None:
            self._check_candidates(profile_ids)
        waveform = self.pipeline.load(source)
        utterance = self.pipeline.process_waveform(waveform, force=True)
        return self.identify_utterance(
            utterance,
            top_n=top_n,
            profile_ids=profile_ids,
            force=force,
            telephone=lambda: self.pipeline.telephone_copy(waveform, utterance.segments),
        )

    def identify_utterance(
        self,
        utterance: Utterance,
        *,
        top_n: int = 5,
        profile_ids: Sequence[str] | None = None,
        record: bool = True,
        force: bool = False,
        telephone: Callable[[], Utterance] | None = None,
    ) -> IdentificationResult:
        """Open-set identification of an embedded utterance; ``record=False`` keeps the
        call out of the activity log. ``telephone`` makes the utterance's telephone copy
        (:meth:`EmbeddingPipeline.telephone_copy`), asked for only when a candidate is
        judged better with it (a wideband probe against telephone enrolments)."""
        # Each candidate judged by its own enrolment band, as a claim on it would be: a
        # namespace may mix app and telephone enrolments. Then the best of each band are
        # candidates, not only the best overall: an app-enrolled owner calling in scores
        # lower than telephone-enrolled strangers do, and a telephone-enrolled owner
        # using the app lower than app-enrolled strangers (until judged as the probe's
        # telephone copy).
        by_band = _judged_by_band(band_of(utterance.bandwidth_hz), telephone is not None)
        gallery = self._candidates(utterance.embedding, top_n, profile_ids, by_band=by_band)
        if gallery.gallery_size == 0 and profile_ids is None and record:
            self._check_gallery_encoder()  # live windows (not recorded) skip the scan
        claim = self.identity_claim(utterance, gallery, telephone=telephone)
        scorer = self.identify_scorer(claim, force=force)
        ranking = claim.rank(scorer, gallery, top_n=top_n)
        candidates = tuple(
            Candidate(
                profile_id=gallery.profile_ids[c.index],
                name=gallery.names[c.index],
                cosine=c.cosine,
                score=c.score,
                normalized_score=c.normalized_score,
            )
            for c in ranking.candidates
        )
        identified = candidates[0] if ranking.identified else None
        logged = record and self._record(
            Activity(
                "identify",
                "identified" if identified else "unknown",
                identified.profile_id if identified else None,
                candidates[0].score if candidates else None,
                f"gallery={gallery.gallery_size}; {ranking.reason.value}",
            )
        )
        return IdentificationResult(
            candidates=candidates,
            identified=identified,
            threshold=ranking.threshold,
            gallery_size=ranking.gallery_size,
            net_speech_seconds=utterance.net_speech_seconds,
            reason=ranking.reason,
            source=scorer.point.source,
            unknown_probability=ranking.unknown_probability,
            activity_logged=logged,
            speech_needed_seconds=ranking.speech_needed_seconds,
        )

    def _candidates(
        self,
        embedding: np.ndarray,
        top_n: int,
        profile_ids: Sequence[str] | None,
        *,
        by_band: bool = False,
    ) -> Candidates:
        """The profiles to score for ``embedding``: the best of the namespace's gallery (from
        the in-memory index when the service has one; with ``by_band``, the best of each
        enrolment band), or exactly ``profile_ids``."""
        if self.index is not None:
            return self.index.candidates(
                self.namespace,
                embedding,
                k=max(CANDIDATES, top_n),
                profile_ids=profile_ids,
                by_band=by_band,
            )
        gallery = self.store.gallery(
            self.namespace,
            encoder_name=self.encoder_name,
            encoder_version=self.encoder_version,
            profile_ids=profile_ids,
        )
        return Candidates.of(gallery, len(gallery))

    def compare(
        self, first: AudioSource, second: AudioSource, *, force: bool = False
    ) -> ComparisonResult:
        """Score two recordings against each other without touching any profile; a
        wideband recording against a telephone one is scored as its telephone copy."""
        waves: list[np.ndarray] = []
        utterances: list[Utterance] = []
        for position, source, other in (("first", first, second), ("second", second, first)):
            try:
                waves.append(self.pipeline.load(source))
                utterances.append(self.pipeline.process_waveform(waves[-1], force=True))
            except VoxprintError as error:
                raise _about_recording(error, position, source, other) from None
        a, b = utterances
        a_band, b_band = band_of(a.bandwidth_hz), band_of(b.bandwidth_hz)
        if telephone_copy_helps(a_band, b_band):
            a = self.pipeline.telephone_copy(waves[0], a.segments)
        elif telephone_copy_helps(b_band, a_band):
            b = self.pipeline.telephone_copy(waves[1], b.segments)
        band = pair_band(band_of(a.bandwidth_hz), band_of(b.bandwidth_hz))
        return self._comparison(Probe.of(a), Probe.of(b), band, force=force)

    def compare_embeddings(self, first: np.ndarray, second: np.ndarray) -> ComparisonResult:
        """Score two ``(dim,)`` voiceprints made by this service's encoder (each taken as
        enrolled from the enrolment minimum of speech)."""
        dimension = self.pipeline.encoder.dimension
        for vector in (first, second):
            if np.asarray(vector).shape != (dimension,):
                raise InvalidParameterError(
                    f"voiceprints must have {dimension} values for encoder {self.encoder_name}"
                )
        seconds = max(self.enrollment.min_net_speech_seconds, 1.0)
        return self._comparison(
            Probe(np.asarray(first, dtype=np.float32), seconds),
            Probe(np.asarray(second, dtype=np.float32), seconds),
        )

    def _comparison(
        self, first: Probe, second: Probe, *bands: Band, force: bool = False
    ) -> ComparisonResult:
        """``bands``: the pair's band (none given: not known)."""
        scorer = self.scorer(*bands, force=force)
        verdict = scorer.compare(first, second)
        return ComparisonResult(
            cosine=verdict.cosine,
            score=verdict.score,
            decision=verdict.decision,
            threshold=verdict.threshold,
            reason=verdict.reason,
            source=scorer.point.source,
            normalized_score=verdict.normalized_score,
        )

    # --- checks -------------------------------------------------------------

    def _check_encoder(self, profile: Profile) -> None:
        if (profile.encoder_name, profile.encoder_version) != (
            self.encoder_name,
            self.encoder_version,
        ):
            raise EncoderMismatchError(
                f"profile {profile.id} was enrolled with {profile.encoder_name} "
                f"({profile.encoder_version}) but the encoder in use is {self.encoder_name} "
                f"({self.encoder_version}); use the same model or re-enrol the profile"
            )

    def _check_gallery_encoder(self) -> None:
        """An empty gallery for this encoder while profiles here are enrolled with another
        one (a wrong model setting) is an error, not "unknown" for everybody."""
        page, offset = 500, 0
        while batch := self.store.list_profiles(self.namespace, limit=page, offset=offset):
            other = next(
                (
                    p
                    for p in batch
                    if p.status is EnrollmentStatus.ENROLLED
                    and (p.encoder_name, p.encoder_version)
                    != (self.encoder_name, self.encoder_version)
                ),
                None,
            )
            if other is not None:
                raise EncoderMismatchError(
                    f"no profile here is enrolled with {self.encoder_name} "
                    f"({self.encoder_version}), the encoder in use, but {other.name!r} is "
                    f"enrolled with {other.encoder_name} ({other.encoder_version}); use that "
                    "model or re-enrol the profiles"
                )
            offset += page

    def _enrolled_profile(self, profile_id: str) -> Profile:
        """The profile, if it is enrolled with this encoder (the one place that decides
        "is this profile enrolled?")."""
        profile = self.get_profile(profile_id)
        self._check_encoder(profile)
        if profile.status is not EnrollmentStatus.ENROLLED or profile.voiceprint is None:
            raise self._not_enrolled(profile)
        return profile

    def enrolled_profile(self, profile_id: str) -> Profile:
        """The profile ``profile_id`` if it can be verified against, else
        :class:`ProfileNotEnrolledError` (or not found / encoder mismatch)."""
        return self._enrolled_profile(profile_id)

    def _not_enrolled(self, profile: Profile) -> ProfileNotEnrolledError:
        """ "still enrolling", with what the enrolment policy still needs (net speech, or
        for text-dependent enrolment passphrase clips)."""
        return ProfileNotEnrolledError(
            f"profile {profile.name!r} is still enrolling: {self.enrollment.still_needed(profile)}"
        )

    def _check_candidates(self, profile_ids: Sequence[str]) -> None:
        if not profile_ids:
            raise InvalidParameterError("profile_ids, when given, cannot be empty")
        if len(profile_ids) > MAX_CANDIDATE_PROFILES:
            raise InvalidParameterError(
                f"{len(profile_ids)} profile ids given; at most {MAX_CANDIDATE_PROFILES}"
            )
        for profile_id in profile_ids:
            self._enrolled_profile(profile_id)


def _claim_band(point: OperatingPoint, probe: Probe, profile: Profile) -> Band:
    """The band whose score model judges ``probe`` as a claim on ``profile``: the claimed
    profile's own enrolment band, not the namespace's (a namespace may mix app and
    telephone enrolments, and its statistics sample at most 200 profiles per band)."""
    if point.profile_bands_matter(probe.bandwidth_hz):
        return pair_band(band_of(probe.bandwidth_hz), profile.band)
    return point.band_for(probe.bandwidth_hz)


def _about_recording(
    error: VoxprintError, position: str, source: AudioSource, other: AudioSource
) -> VoxprintError:
    """``error`` saying which of two recordings it is about (found in a walkthrough:
    "input is not a recognised audio or video format" for one of two files, not saying
    which): the file's name, or its path as given when the ``other`` file has the same
    name in another folder (``a/x.wav`` and ``b/x.wav``), or "first recording" /
    "second recording"; unchanged when the message already names the file."""
    if isinstance(source, str | os.PathLike):
        if str(source) in error.message:
            return error
        name = Path(source).name
        if (
            isinstance(other, str | os.PathLike)
            and Path(other).name == name
            and os.fspath(other) != os.fspath(source)
        ):
            name = os.fspath(source)
        return error.prefixed(f"{name}: ")
    return error.prefixed(f"{position} recording: ")


def _check_page(limit: int, offset: int) -> None:
    """Refuse a page no store could count (the bounds of every listing)."""
    if not 1 <= limit <= MAX_LISTED:
        raise InvalidParameterError(f"limit must be 1 to {MAX_LISTED:,}, got {limit:,}")
    if not 0 <= offset <= MAX_LISTED:
        raise InvalidParameterError(f"offset must be 0 to {MAX_LISTED:,}, got {offset:,}")


def _check_before_id(before_id: int | None) -> None:
    """Refuse an activity cursor no store could compare (ids are 64-bit, from 1)."""
    if before_id is not None and not 1 <= before_id <= MAX_ACTIVITY_ID:
        raise InvalidParameterError(
            f"before_id must be 1 to {MAX_ACTIVITY_ID:,}, got {before_id:,}"
        )
