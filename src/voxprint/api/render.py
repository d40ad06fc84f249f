"""Core results → response models of :mod:`voxprint.api.schemas` (and voiceprints back).

Every response body of the native ``/v1`` API is built here; the routes only call these."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np

from voxprint import views
from voxprint.api.schemas import (
    ActivityList,
    BatchError,
    BatchItemResult,
    BatchOut,
    BatchResult,
    CandidateOut,
    ChallengeOut,
    ComparisonOut,
    DiarizationOut,
    EmbeddingMapOut,
    EnrollmentOut,
    IdentificationOut,
    MapPointOut,
    PhraseOut,
    PhrasesOut,
    ProfileList,
    ProfileMergeOut,
    ProfileOut,
    QualityOut,
    SimilarVoicesOut,
    StreamOut,
    ThresholdSourceOut,
    ThresholdsOut,
    VerificationOut,
    VoiceprintIn,
    VoiceprintOut,
)
from voxprint.api.streams import StreamInfo
from voxprint.decision import ThresholdSource
from voxprint.diarization import Diarization
from voxprint.diarization.formats import to_json
from voxprint.embedding_map import EmbeddingMap
from voxprint.enrollment import EnrollmentPolicy
from voxprint.errors import EncoderMismatchError, InvalidParameterError
from voxprint.passphrase.recognizer import PhraseMatch
from voxprint.passphrase.service import SpokenEnrollment, SpokenProfile, SpokenVerification
from voxprint.quality import ClipQuality
from voxprint.service import (
    ActivityPage,
    Candidate,
    ComparisonResult,
    EnrollmentReport,
    IdentificationResult,
    SimilarVoices,
    VerificationResult,
    VoiceprintExport,
)
from voxprint.store.records import Challenge, Profile, ProfileMerge
from voxprint.thresholds import ThresholdReport

VectorFormat = Literal["list", "base64"]


def profile(p: Profile, policy: EnrollmentPolicy) -> ProfileOut:
    return ProfileOut.model_validate(views.profile(p, policy))


def profile_page(
    profiles: list[Profile], total: int, limit: int, offset: int, policy: EnrollmentPolicy
) -> ProfileList:
    end = offset + len(profiles)
    return ProfileList(
        items=[profile(p, policy) for p in profiles],
        total=total,
        limit=limit,
        offset=offset,
        next_offset=end if end < total else None,
    )


def profile_merge(merge: ProfileMerge, policy: EnrollmentPolicy) -> ProfileMergeOut:
    return ProfileMergeOut.model_validate(views.profile_merge(merge, policy))


def similar_voices(result: SimilarVoices) -> SimilarVoicesOut:
    return SimilarVoicesOut.model_validate(views.similar_voices(result))


def enrollment(report: EnrollmentReport, policy: EnrollmentPolicy) -> EnrollmentOut:
    return EnrollmentOut.model_validate(views.enrollment(report, policy))


def quality(measures: ClipQuality) -> QualityOut:
    return QualityOut.model_validate(views.quality(measures))


def threshold_source(source: ThresholdSource) -> ThresholdSourceOut:
    return ThresholdSourceOut.model_validate(views.threshold_source(source))


def activity(page: ActivityPage) -> ActivityList:
    return ActivityList.model_validate(views.activity(page))


def thresholds(report: ThresholdReport) -> ThresholdsOut:
    return ThresholdsOut.model_validate(views.thresholds(report))


def verification(result: VerificationResult) -> VerificationOut:
    return VerificationOut.model_validate(views.verification(result))


def candidate(c: Candidate) -> CandidateOut:
    return CandidateOut.model_validate(views.candidate(c))


def identification(result: IdentificationResult) -> IdentificationOut:
    return IdentificationOut.model_validate(views.identification(result))


def comparison(result: ComparisonResult) -> ComparisonOut:
    return ComparisonOut.model_validate(views.comparison(result))


def voiceprint(export: VoiceprintExport, fmt: VectorFormat) -> VoiceprintOut:
    vector = np.asarray(export.vector, dtype="<f4")
    fields: dict[str, Any] = (
        {"vector": [float(v) for v in vector]}
        if fmt == "list"
        else {"vector_base64": base64.b64encode(vector.tobytes()).decode("ascii")}
    )
    return VoiceprintOut(
        profile_id=export.profile_id,
        encoder_name=export.encoder_name,
        encoder_version=export.encoder_version,
        dimension=int(vector.shape[0]),
        **fields,
    )


def voiceprint_vector(given: VoiceprintIn, encoder_name: str, encoder_version: str) -> np.ndarray:
    """The ``(dim,) float32`` vector of an exported voiceprint made by this encoder.

    Raises :class:`EncoderMismatchError` (409) for another encoder's voiceprint and
    :class:`InvalidParameterError` (400) for a missing, malformed or zero vector.
    """
    if (given.encoder_name, given.encoder_version) != (encoder_name, encoder_version):
        raise EncoderMismatchError(
            f"the voiceprint was made by {given.encoder_name} ({given.encoder_version}) but "
            f"this service uses {encoder_name} ({encoder_version}); voiceprints of different "
            "encoders cannot be compared"
        )
    if (given.vector is None) == (given.vector_base64 is None):
        raise InvalidParameterError("give exactly one of 'vector' and 'vector_base64'")
    if given.vector is not None:
        vector = np.asarray(given.vector, dtype=np.float32)
    else:
        assert given.vector_base64 is not None
        try:
            raw = base64.b64decode(given.vector_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameterError("vector_base64 is not valid base64") from None
        if len(raw) % 4:
            raise InvalidParameterError("vector_base64 must hold little-endian float32 values")
        vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if vector.size == 0 or not np.all(np.isfinite(vector)) or not np.any(vector):
        raise InvalidParameterError("a voiceprint must be a non-zero vector of finite values")
    return vector


# --- passphrases and challenges ---------------------------------------------------------


def spoken_profile(sp: SpokenProfile, policy: EnrollmentPolicy) -> ProfileOut:
    """A profile with its kind, passphrase and (text-dependent) clips still needed."""
    return ProfileOut.model_validate(views.spoken_profile(sp, policy))


def spoken_profile_page(
    profiles: list[SpokenProfile], total: int, limit: int, offset: int, policy: EnrollmentPolicy
) -> ProfileList:
    end = offset + len(profiles)
    return ProfileList(
        items=[spoken_profile(p, policy) for p in profiles],
        total=total,
        limit=limit,
        offset=offset,
        next_offset=end if end < total else None,
    )


def phrase(match: PhraseMatch) -> PhraseOut:
    return PhraseOut.model_validate(views.phrase(match))


def spoken_enrollment(result: SpokenEnrollment, policy: EnrollmentPolicy) -> EnrollmentOut:
    return EnrollmentOut.model_validate(views.spoken_enrollment(result, policy))


def spoken_verification(result: SpokenVerification) -> VerificationOut:
    return VerificationOut.model_validate(views.spoken_verification(result))


def challenge(c: Challenge) -> ChallengeOut:
    return ChallengeOut(
        id=c.id,
        kind=c.kind,
        phrase=c.phrase,
        created_at=c.created_at,
        expires_at=c.expires_at,
        used=c.used_at is not None,
    )


def phrases(locale: str, offered: Iterable[str], supported: Iterable[str]) -> PhrasesOut:
    return PhrasesOut(locale=locale, phrases=list(offered), supported_locales=list(supported))


# --- streams, diarization, the embedding map, batches -----------------------------------


def stream(info: StreamInfo) -> StreamOut:
    seconds = info.audio_seconds
    return StreamOut(
        id=info.id,
        format=info.format.value,
        bytes=info.bytes,
        chunks=info.chunks,
        audio_seconds=None if seconds is None else round(seconds, 3),
        created_at=info.created_at,
        expires_at=info.expires_at,
    )


def diarization(identifier: str, ttl_seconds: float, result: Diarization) -> DiarizationOut:
    """A diarization kept under ``identifier`` for ``ttl_seconds`` (the fields of
    :func:`voxprint.diarization.formats.to_json`, the JSON the CLI writes too)."""
    return DiarizationOut(
        diarization_id=identifier, expires_in_seconds=ttl_seconds, **to_json(result)
    )


def embedding_map(result: EmbeddingMap) -> EmbeddingMapOut:
    return EmbeddingMapOut(
        method=result.method,
        explained_variance=[round(v, 4) for v in result.explained_variance],
        points=[
            MapPointOut(
                profile_id=p.profile_id, name=p.name, kind=p.kind, x=round(p.x, 5), y=round(p.y, 5)
            )
            for p in result.points
        ],
    )


def batch_success(
    index: int, reference: str | None, op: str, status: int, result: BatchResult
) -> BatchItemResult:
    return BatchItemResult(index=index, id=reference, op=op, status=status, ok=True, result=result)


def batch_failure(
    index: int, reference: str | None, op: str | None, status: int, code: str, message: str
) -> BatchItemResult:
    return BatchItemResult(
        index=index,
        id=reference,
        op=op,
        status=status,
        ok=False,
        error=BatchError(code=code, message=message),
    )


def batch(results: list[BatchItemResult]) -> BatchOut:
    succeeded = sum(r.ok for r in results)
    return BatchOut(results=results, succeeded=succeeded, failed=len(results) - succeeded)
