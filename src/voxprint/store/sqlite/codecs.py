"""Converting between SQLite rows and store records, and the checks on stored values."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from voxprint.errors import InvalidProfileError
from voxprint.store.records import (
    ActivityEntry,
    ApiKey,
    Clip,
    EnrollmentStatus,
    Profile,
    unprintable,
)

#: Most ids bound in one ``IN (...)`` query (well under SQLite's variable limit).
ID_CHUNK = 500

def now() -> datetime:
    return datetime.now(UTC)


def time_text(value: datetime, what: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidProfileError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def vector_blob(vector: np.ndarray, what: str) -> bytes:
    array = np.asarray(vector, dtype="<f4")
    if array.ndim != 1 or array.size == 0:
        raise InvalidProfileError(f"{what} must be a non-empty 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidProfileError(f"{what} contains NaN or infinity")
    return array.tobytes()


def blob_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4").copy()


def metadata_text(metadata: dict[str, Any]) -> str:
    if not isinstance(metadata, dict):
        raise InvalidProfileError(f"metadata must be a dict, got {type(metadata).__name__}")
    try:
        return json.dumps(metadata, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidProfileError(f"metadata is not JSON-serialisable: {exc}") from exc


def check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InvalidProfileError("profile name must be a non-empty string")
    problem = unprintable(name)
    if problem:
        raise InvalidProfileError(f"profile name refused: {problem}")


def check_external_id(external_id: str | None) -> None:
    if external_id is not None and (not isinstance(external_id, str) or not external_id.strip()):
        raise InvalidProfileError("external id must be a non-empty string or None")
    problem = None if external_id is None else unprintable(external_id)
    if problem:
        raise InvalidProfileError(f"external id refused: {problem}")


PROFILE_COLUMNS = (
    "id, namespace, name, external_id, metadata, encoder_name, encoder_version, status, "
    "clip_count, audio_seconds, net_speech_seconds, voiceprint, created_at, updated_at"
)
CLIP_COLUMNS = (
    "id, profile_id, embedding, audio_seconds, net_speech_seconds, label, created_at, "
    "bandwidth_hz, content_hash"
)
ACTIVITY_COLUMNS = "id, time, namespace, action, profile_id, result, score, detail"


def profile_from_row(row: sqlite3.Row) -> Profile:
    voiceprint = row["voiceprint"]
    return Profile(
        id=row["id"],
        namespace=row["namespace"],
        name=row["name"],
        external_id=row["external_id"],
        metadata=json.loads(row["metadata"]),
        encoder_name=row["encoder_name"],
        encoder_version=row["encoder_version"],
        status=EnrollmentStatus(row["status"]),
        clip_count=int(row["clip_count"]),
        audio_seconds=float(row["audio_seconds"]),
        net_speech_seconds=float(row["net_speech_seconds"]),
        voiceprint=None if voiceprint is None else blob_vector(voiceprint),
        created_at=parse_time(row["created_at"]),
        updated_at=parse_time(row["updated_at"]),
    )


def clip_from_row(row: sqlite3.Row) -> Clip:
    return Clip(
        id=row["id"],
        profile_id=row["profile_id"],
        embedding=blob_vector(row["embedding"]),
        audio_seconds=float(row["audio_seconds"]),
        net_speech_seconds=float(row["net_speech_seconds"]),
        label=row["label"],
        created_at=parse_time(row["created_at"]),
        bandwidth_hz=None if row["bandwidth_hz"] is None else float(row["bandwidth_hz"]),
        content_hash=row["content_hash"],
    )


def activity_from_row(row: sqlite3.Row) -> ActivityEntry:
    score = row["score"]
    return ActivityEntry(
        id=int(row["id"]),
        time=parse_time(row["time"]),
        namespace=row["namespace"],
        action=row["action"],
        profile_id=row["profile_id"],
        result=row["result"],
        score=None if score is None else float(score),
        detail=row["detail"],
    )


KEY_COLUMNS = "id, name, namespace, created_at, revoked_at"


def key_from_row(row: sqlite3.Row) -> ApiKey:
    revoked = row["revoked_at"]
    return ApiKey(
        id=row["id"],
        name=row["name"],
        namespace=row["namespace"],
        created_at=parse_time(row["created_at"]),
        revoked_at=parse_time(revoked) if revoked is not None else None,
    )


def chunks(items: Sequence[str], size: int = ID_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
