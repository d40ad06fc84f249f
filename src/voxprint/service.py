"""The voxprint service: profiles, enrolment, verification and identification.

This is the one place the CLI and the REST API call. It joins the embedding
pipeline, scoring, decisions and a store, and writes every enrol, verify,
identify, reset and delete to the activity log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from voxprint.audio import AudioSource
from voxprint.decision import Decision, OperatingPoint
from voxprint.enrollment import EnrollmentPolicy
from voxprint.errors import (
    AmbiguousProfileError,
    ClipRejectedError,
    EncoderMismatchError,
    InvalidParameterError,
    InvalidProfileError,
    ProfileNotEnrolledError,
    ProfileNotFoundError,
)
from voxprint.normalization import ScoreNormalization
from voxprint.pipeline import EmbeddingPipeline, Utterance
from voxprint.quality import ClipQuality, assess_clip
from voxprint.scoring.similarity import cosine_scores, cosine_similarity
from voxprint.store.base import ProfileStore
from voxprint.store.records import (
    DEFAULT_NAMESPACE,
    ActivityEntry,
    Clip,
    EnrollmentStatus,
    Profile,
    ProfileChanges,
)

logger = logging.getLogger(__name__)

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

    @property
    def status(self) -> EnrollmentStatus:
        return self.profile.status


@dataclass(frozen=True)
class VerificationResult:
    """Raw cosine, calibrated score in [0, 1], and the decision against ``threshold``.

    With AS-Norm in use, ``normalized_score`` is the AS-Norm score; the decision,
    ``threshold`` and the calibrated ``score`` are then on that score, not the cosine.
    """

    profile_id: str
    profile_name: str
    cosine: float
    score: float
    decision: Decision
    threshold: float
    net_speech_seconds: float
    normalized_score: float | None = None


@dataclass(frozen=True)
class Candidate:
    profile_id: str
    name: str
    cosine: float
    score: float
    normalized_score: float | None = None


@dataclass(frozen=True)
class IdentificationResult:
    """Open-set answer: ``identified`` is ``None`` when the speaker is unknown."""

    candidates: tuple[Candidate, ...]
    identified: Candidate | None
    threshold: float
    gallery_size: int
    net_speech_seconds: float

    @property
    def is_unknown(self) -> bool:
        return self.identified is None


@dataclass(frozen=True)
class ComparisonResult:
    cosine: float
    score: float
    decision: Decision
    threshold: float
    normalized_score: float | None = None


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
    store: ProfileStore
    operating_point: OperatingPoint
    enrollment: EnrollmentPolicy = field(default_factory=EnrollmentPolicy)
    namespace: str = DEFAULT_NAMESPACE
    #: AS-Norm with its own operating point; ``None`` scores raw cosines.
    normalization: ScoreNormalization | None = None

    def in_namespace(self, namespace: str) -> VoxprintService:
        """The same service, scoped to another namespace."""
        if not namespace:
            raise InvalidParameterError("namespace cannot be empty")
        return replace(self, namespace=namespace)

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
    ) -> Profile:
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
        created = self.store.create_profile(profile)
        self.store.log_activity(self.namespace, "create", profile_id=created.id, result="created")
        return created

    def get_profile(self, profile_id: str) -> Profile:
        return self.store.get_profile(self.namespace, profile_id)

    def get_by_external_id(self, external_id: str) -> Profile:
        return self.store.find_by_external_id(self.namespace, external_id)

    def resolve_profile(self, reference: str) -> Profile:
        """Find a profile by id, external id, or unique display name, in that order."""
        for lookup in (self.store.get_profile, self.store.find_by_external_id):
            try:
                return lookup(self.namespace, reference)
            except ProfileNotFoundError:
                pass
        matches = self.store.find_by_name(self.namespace, reference)
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(p.id for p in matches)
            raise AmbiguousProfileError(
                f"{len(matches)} profiles are named {reference!r} ({ids}); use an id"
            )
        raise ProfileNotFoundError(f"no profile with id, external id or name {reference!r}")

    def ensure_profile(self, reference: str, *, external_id: str | None = None) -> Profile:
        """The profile ``reference`` resolves to, or a new one named ``reference``."""
        try:
            return self.resolve_profile(reference)
        except ProfileNotFoundError:
            return self.create_profile(reference, external_id=external_id)

    def list_profiles(self, *, limit: int = 100, offset: int = 0) -> list[Profile]:
        if limit < 1 or offset < 0:
            raise InvalidParameterError("limit must be >= 1 and offset >= 0")
        return self.store.list_profiles(self.namespace, limit=limit, offset=offset)

    def count_profiles(self) -> int:
        return self.store.count_profiles(self.namespace)

    def update_profile(self, profile_id: str, changes: ProfileChanges) -> Profile:
        if changes.name is not None and not changes.name.strip():
            raise InvalidProfileError("a profile needs a non-empty name")
        return self.store.update_profile(self.namespace, profile_id, changes)

    def delete_profile(self, profile_id: str) -> None:
        """Delete the profile, its voiceprint and every clip embedding for good."""
        self.store.delete_profile(self.namespace, profile_id)
        self.store.log_activity(self.namespace, "delete", profile_id=profile_id, result="deleted")

    def reset_profile(self, profile_id: str) -> Profile:
        """Forget every enrolment clip; the profile goes back to ``enrolling``."""
        profile = self.store.reset_profile(self.namespace, profile_id, self.enrollment.summarize)
        self.store.log_activity(self.namespace, "reset", profile_id=profile_id, result="reset")
        return profile

    def export_voiceprint(self, profile_id: str) -> VoiceprintExport:
        profile = self.get_profile(profile_id)
        if profile.voiceprint is None:
            raise ProfileNotEnrolledError(f"profile {profile_id} has no enrolment audio yet")
        return VoiceprintExport(
            profile.id, profile.encoder_name, profile.encoder_version, profile.voiceprint
        )

    def activity(self, *, limit: int = 100, profile_id: str | None = None) -> list[ActivityEntry]:
        return self.store.list_activity(self.namespace, limit=limit, profile_id=profile_id)

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
    ) -> EnrollmentReport:
        """Add one clip to a profile and report progress toward the enrolment minimum.

        The clip's quality is measured and, unless ``check_quality`` is off, checked by
        the enrolment policy's quality gate: a refused clip raises
        :class:`ClipRejectedError` (with the reasons and measures) and stores nothing.
        """
        profile = self.get_profile(profile_id)
        self._check_encoder(profile)
        waveform = self.pipeline.load(source)
        utterance = self.pipeline.process_waveform(waveform, force=force)
        gate = self.enrollment.quality_gate
        quality = assess_clip(waveform, utterance.segments, self.pipeline.encoder, gate)
        problems = gate.problems(quality) if check_quality else ()
        if problems:
            self.store.log_activity(
                self.namespace,
                "enroll",
                profile_id=profile.id,
                result="rejected",
                detail="; ".join(problems),
            )
            raise ClipRejectedError(
                f"clip refused: {'; '.join(problems)} [{quality.summary()}]",
                reasons=problems,
                quality=quality,
            )
        return self._add_clip(profile, utterance, label, quality)

    def enroll_utterance(
        self, profile_id: str, utterance: Utterance, *, label: str | None = None
    ) -> EnrollmentReport:
        """Add an already embedded clip (e.g. from a batch or a stream)."""
        profile = self.get_profile(profile_id)
        self._check_encoder(profile)
        return self._add_clip(profile, utterance, label)

    def _add_clip(
        self,
        profile: Profile,
        utterance: Utterance,
        label: str | None,
        quality: ClipQuality | None = None,
    ) -> EnrollmentReport:
        clip = Clip(
            id=str(uuid.uuid4()),
            profile_id=profile.id,
            embedding=utterance.embedding,
            audio_seconds=utterance.audio_seconds,
            net_speech_seconds=utterance.net_speech_seconds,
            created_at=datetime.now(UTC),
            label=label,
        )
        updated = self.store.add_clip(self.namespace, clip, self.enrollment.summarize)
        self.store.log_activity(
            self.namespace,
            "enroll",
            profile_id=profile.id,
            result=updated.status.value,
            detail=f"net_speech={utterance.net_speech_seconds:.2f}s",
        )
        return EnrollmentReport(
            profile=updated,
            clip_audio_seconds=utterance.audio_seconds,
            clip_net_speech_seconds=utterance.net_speech_seconds,
            net_speech_seconds=updated.net_speech_seconds,
            remaining_speech_seconds=self.enrollment.remaining_seconds(updated.net_speech_seconds),
            quality=quality,
        )

    def verify(
        self, profile_id: str, source: AudioSource, *, force: bool = False
    ) -> VerificationResult:
        """1:1 — is the speaker in ``source`` the profile's owner?"""
        profile = self._enrolled_profile(profile_id)
        utterance = self.pipeline.process(source, force=force)
        return self.verify_utterance(profile, utterance)

    def verify_utterance(
        self, profile: Profile, utterance: Utterance, *, record: bool = True
    ) -> VerificationResult:
        """Score an embedded utterance against ``profile``; ``record=False`` keeps the
        call out of the activity log (live windows, scored twice a second)."""
        self._check_encoder(profile)
        assert profile.voiceprint is not None  # guaranteed by _enrolled_profile
        cosine = cosine_similarity(utterance.embedding, profile.voiceprint)
        point, normalized = self._normalized(
            profile.voiceprint[None, :], utterance.embedding, np.array([cosine])
        )
        value = cosine if normalized is None else float(normalized[0])
        policy = point.verification_policy()
        decision = policy.decide(value)
        score = point.calibration(value)
        if record:
            self.store.log_activity(
                self.namespace, "verify", profile_id=profile.id, result=decision.value, score=score
            )
        return VerificationResult(
            profile_id=profile.id,
            profile_name=profile.name,
            cosine=cosine,
            score=score,
            decision=decision,
            threshold=policy.threshold,
            net_speech_seconds=utterance.net_speech_seconds,
            normalized_score=None if normalized is None else value,
        )

    def identify(
        self,
        source: AudioSource,
        *,
        top_n: int = 5,
        profile_ids: Sequence[str] | None = None,
        force: bool = False,
    ) -> IdentificationResult:
        """1:N open-set identification over all enrolled profiles or a subset."""
        if top_n < 1:
            raise InvalidParameterError("top_n must be at least 1")
        if profile_ids is not None:
            self._check_candidates(profile_ids)
        utterance = self.pipeline.process(source, force=force)
        return self.identify_utterance(utterance, top_n=top_n, profile_ids=profile_ids)

    def identify_utterance(
        self,
        utterance: Utterance,
        *,
        top_n: int = 5,
        profile_ids: Sequence[str] | None = None,
        record: bool = True,
    ) -> IdentificationResult:
        """Open-set identification of an embedded utterance; ``record=False`` keeps the
        call out of the activity log."""
        gallery = self.store.gallery(
            self.namespace,
            encoder_name=self.encoder_name,
            encoder_version=self.encoder_version,
            profile_ids=profile_ids,
        )
        scores = cosine_scores(utterance.embedding, gallery.voiceprints)
        point, normalized = (
            self._normalized(gallery.voiceprints, utterance.embedding, scores)
            if len(gallery)
            else (self.operating_point, None)
        )
        values = scores.astype(np.float64) if normalized is None else normalized
        policy = point.identification_policy()
        threshold = policy.threshold(len(gallery))
        order = np.argsort(-values, kind="stable")[:top_n]
        calibration = point.calibration
        candidates = tuple(
            Candidate(
                profile_id=gallery.profile_ids[i],
                name=gallery.names[i],
                cosine=float(scores[i]),
                score=calibration(float(values[i])),
                normalized_score=None if normalized is None else float(values[i]),
            )
            for i in order
        )
        best = candidates[0] if candidates else None
        best_value = float(values[order[0]]) if candidates else 0.0
        identified = (
            best
            if best is not None and policy.decide(best_value, len(gallery)) is Decision.ACCEPT
            else None
        )
        if record:
            self.store.log_activity(
                self.namespace,
                "identify",
                profile_id=identified.profile_id if identified else None,
                result="identified" if identified else "unknown",
                score=best.score if best else None,
                detail=f"gallery={len(gallery)}",
            )
        return IdentificationResult(
            candidates=candidates,
            identified=identified,
            threshold=threshold,
            gallery_size=len(gallery),
            net_speech_seconds=utterance.net_speech_seconds,
        )

    def compare(
        self, first: AudioSource, second: AudioSource, *, force: bool = False
    ) -> ComparisonResult:
        """Score two recordings against each other without touching any profile."""
        a = self.pipeline.process(first, force=force)
        b = self.pipeline.process(second, force=force)
        return self.compare_embeddings(a.embedding, b.embedding)

    def compare_embeddings(self, first: np.ndarray, second: np.ndarray) -> ComparisonResult:
        """Score two ``(dim,)`` voiceprints made by this service's encoder."""
        dimension = self.pipeline.encoder.dimension
        for vector in (first, second):
            if np.asarray(vector).shape != (dimension,):
                raise InvalidParameterError(
                    f"voiceprints must have {dimension} values for encoder {self.encoder_name}"
                )
        cosine = cosine_similarity(first, second)
        point, normalized = self._normalized(
            np.asarray(first)[None, :], np.asarray(second), np.array([cosine])
        )
        value = cosine if normalized is None else float(normalized[0])
        policy = point.verification_policy()
        return ComparisonResult(
            cosine=cosine,
            score=point.calibration(value),
            decision=policy.decide(value),
            threshold=policy.threshold,
            normalized_score=None if normalized is None else value,
        )

    def _normalized(
        self, enrol: np.ndarray, test: np.ndarray, cosines: np.ndarray
    ) -> tuple[OperatingPoint, np.ndarray | None]:
        """The operating point to decide with, and ``(n,)`` AS-Norm scores when in use.

        enrol: ``(n, dim)`` voiceprints; test: ``(dim,)``; cosines: their ``(n,)`` raw scores.
        """
        if self.normalization is None:
            return self.operating_point, None
        scores = self.normalization.normalize(enrol, test, cosines)
        return self.normalization.operating_point, scores

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

    def _enrolled_profile(self, profile_id: str) -> Profile:
        profile = self.get_profile(profile_id)
        self._check_encoder(profile)
        if profile.status is not EnrollmentStatus.ENROLLED or profile.voiceprint is None:
            remaining = self.enrollment.remaining_seconds(profile.net_speech_seconds)
            raise ProfileNotEnrolledError(
                f"profile {profile.name!r} is still enrolling: {remaining:.1f} s more "
                "net speech is needed"
            )
        return profile

    def _check_candidates(self, profile_ids: Sequence[str]) -> None:
        if not profile_ids:
            raise InvalidParameterError("profile_ids, when given, cannot be empty")
        for profile_id in profile_ids:
            self._enrolled_profile(profile_id)
