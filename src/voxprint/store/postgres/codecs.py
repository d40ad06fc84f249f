"""Converting between PostgreSQL rows (dicts) and store records."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import numpy as np

from voxprint.store.checks import blob_vector, optional_band, optional_float
from voxprint.store.records import ActivityEntry, ApiKey, Clip, EnrollmentStatus, Profile

PROFILE_COLUMNS = (
    "id, namespace, name, external_id, metadata, encoder_name, encoder_version, status, "
    "clip_count, audio_seconds, net_speech_seconds, voiceprint, created_at, updated_at, "
    "band, statistics_band"
)
CLIP_COLUMNS = (
    "id, profile_id, embedding, audio_seconds, net_speech_seconds, label, created_at, "
    "bandwidth_hz, content_hash"
)
ACTIVITY_COLUMNS = "id, time, namespace, action, profile_id, result, score, detail"
KEY_COLUMNS = "id, name, namespace, created_at, revoked_at"


def vector_array(value: Any) -> np.ndarray:
    """A pgvector value (as loaded by ``pgvector.psycopg``) as ``(dim,) float32``."""
    return np.array(value.to_numpy(), dtype=np.float32)


def profile_from_row(row: dict[str, Any]) -> Profile:
    voiceprint = row["voiceprint"]
    return Profile(
        id=row["id"],
        namespace=row["namespace"],
        name=row["name"],
        external_id=row["external_id"],
        metadata=dict(row["metadata"]),
        encoder_name=row["encoder_name"],
        encoder_version=row["encoder_version"],
        status=EnrollmentStatus(row["status"]),
        clip_count=int(row["clip_count"]),
        audio_seconds=float(row["audio_seconds"]),
        net_speech_seconds=float(row["net_speech_seconds"]),
        voiceprint=None if voiceprint is None else vector_array(voiceprint),
        created_at=row["created_at"].astimezone(UTC),
        updated_at=row["updated_at"].astimezone(UTC),
        band=optional_band(row["band"]),
        statistics_band=optional_band(row["statistics_band"]),
    )


def clip_from_row(row: dict[str, Any]) -> Clip:
    return Clip(
        id=row["id"],
        profile_id=row["profile_id"],
        embedding=blob_vector(bytes(row["embedding"])),
        audio_seconds=float(row["audio_seconds"]),
        net_speech_seconds=float(row["net_speech_seconds"]),
        label=row["label"],
        created_at=row["created_at"].astimezone(UTC),
        bandwidth_hz=optional_float(row["bandwidth_hz"]),
        content_hash=row["content_hash"],
    )


def activity_from_row(row: dict[str, Any]) -> ActivityEntry:
    score = row["score"]
    return ActivityEntry(
        id=int(row["id"]),
        time=row["time"].astimezone(UTC),
        namespace=row["namespace"],
        action=row["action"],
        profile_id=row["profile_id"],
        result=row["result"],
        score=None if score is None else float(score),
        detail=row["detail"],
    )


def key_from_row(row: dict[str, Any]) -> ApiKey:
    revoked = row["revoked_at"]
    return ApiKey(
        id=row["id"],
        name=row["name"],
        namespace=row["namespace"],
        created_at=row["created_at"].astimezone(UTC),
        revoked_at=None if revoked is None else revoked.astimezone(UTC),
    )
