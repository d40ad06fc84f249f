"""Converting between SQLite rows and store records (the value checks are in
:mod:`voxprint.store.checks`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence

# The checks shared by every backend, kept importable from here.
from voxprint.store.checks import (
    ID_CHUNK,
    blob_vector,
    check_external_id,
    check_name,
    chunks,
    metadata_text,
    now,
    optional_band,
    optional_float,
    parse_time,
    time_text,
    vector_blob,
)
from voxprint.store.records import (
    ActivityEntry,
    ApiKey,
    Clip,
    EnrollmentStatus,
    Profile,
)

__all__ = [
    "ACTIVITY_COLUMNS",
    "CLIP_COLUMNS",
    "ID_CHUNK",
    "KEY_COLUMNS",
    "PROFILE_COLUMNS",
    "activity_from_row",
    "blob_vector",
    "check_external_id",
    "check_name",
    "chunks",
    "clip_from_row",
    "key_from_row",
    "metadata_text",
    "now",
    "parse_time",
    "profile_from_row",
    "rows_of_profiles",
    "time_text",
    "vector_blob",
]


def rows_of_profiles(
    conn: sqlite3.Connection, query: str, namespace: str, profile_ids: Sequence[str]
) -> Iterator[sqlite3.Row]:
    """The rows of ``query`` for ``profile_ids`` (duplicates dropped) in ``namespace``,
    read in chunks of ids: ``query`` takes the namespace as its first parameter and
    ``{marks}`` where the ids' placeholders go."""
    for chunk in chunks(list(dict.fromkeys(profile_ids))):
        marks = ", ".join("?" * len(chunk))
        yield from conn.execute(query.format(marks=marks), (namespace, *chunk))


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
        band=optional_band(row["band"]),
        statistics_band=optional_band(row["statistics_band"]),
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
        bandwidth_hz=optional_float(row["bandwidth_hz"]),
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
