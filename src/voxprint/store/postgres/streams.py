"""Audio streams in the PostgreSQL store, shared by every worker (see
:class:`~voxprint.store.base.StreamStore`). Writes to one namespace's streams take an
advisory lock on the namespace, so that two workers cannot overrun its limits together."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from voxprint.errors import AudioTooLargeError, ServiceBusyError, StreamNotFoundError
from voxprint.store.checks import now as utc_now
from voxprint.store.postgres.connection import PostgresDatabase
from voxprint.store.records import StreamFormat, StreamLimits, StreamRecord

_COLUMNS = "id, namespace, format, bytes, chunks, created_at, expires_at"


def _record(row: dict[str, Any]) -> StreamRecord:
    return StreamRecord(
        id=row["id"],
        namespace=row["namespace"],
        format=StreamFormat(row["format"]),
        bytes=int(row["bytes"]),
        chunks=int(row["chunks"]),
        created_at=row["created_at"].astimezone(UTC),
        expires_at=float(row["expires_at"]),
    )


def _not_found(stream_id: str) -> StreamNotFoundError:
    return StreamNotFoundError(f"no stream {stream_id!r} (it may have expired)")


def _lock_namespace(conn: Any, namespace: str) -> None:
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('voxprint streams ' || %s, 0))",
        (namespace,),
    )


class PostgresStreams(PostgresDatabase):
    """:class:`~voxprint.store.base.StreamStore` on PostgreSQL."""

    @staticmethod
    def _sweep(conn: Any, now: float) -> int:
        return int(conn.execute("DELETE FROM streams WHERE expires_at <= %s", (now,)).rowcount)

    @classmethod
    def _touch(
        cls, conn: Any, namespace: str, stream_id: str, limits: StreamLimits, now: float
    ) -> StreamRecord:
        cls._sweep(conn, now)
        row = conn.execute(
            f"UPDATE streams SET expires_at = %s WHERE id = %s AND namespace = %s "
            f"RETURNING {_COLUMNS}",
            (now + limits.idle_seconds, stream_id, namespace),
        ).fetchone()
        if row is None:
            raise _not_found(stream_id)
        return _record(row)

    @staticmethod
    def _room(conn: Any, stream: StreamRecord, limits: StreamLimits) -> int:
        used = conn.execute(
            "SELECT COALESCE(SUM(bytes), 0) AS used FROM streams WHERE namespace = %s",
            (stream.namespace,),
        ).fetchone()["used"]
        return max(
            0,
            min(limits.max_stream_bytes - stream.bytes, limits.max_namespace_bytes - int(used)),
        )

    def create_stream(
        self,
        namespace: str,
        stream_id: str,
        fmt: StreamFormat,
        *,
        limits: StreamLimits,
        now: float,
    ) -> StreamRecord:
        with self._transaction(write=True) as conn:
            _lock_namespace(conn, namespace)
            self._sweep(conn, now)
            count = conn.execute(
                "SELECT COUNT(*) AS n FROM streams WHERE namespace = %s", (namespace,)
            ).fetchone()["n"]
            if count >= limits.max_streams:
                raise ServiceBusyError(
                    f"too many open streams (limit {limits.max_streams}); delete or use some first"
                )
            row = conn.execute(
                f"INSERT INTO streams ({_COLUMNS}) VALUES (%s, %s, %s, 0, 0, %s, %s) "
                f"RETURNING {_COLUMNS}",
                (
                    stream_id,
                    namespace,
                    StreamFormat(fmt).value,
                    utc_now(),
                    now + limits.idle_seconds,
                ),
            ).fetchone()
            return _record(row)

    def append_stream(
        self, namespace: str, stream_id: str, chunk: bytes, *, limits: StreamLimits, now: float
    ) -> StreamRecord:
        with self._transaction(write=True) as conn:
            _lock_namespace(conn, namespace)
            stream = self._touch(conn, namespace, stream_id, limits, now)
            if len(chunk) > self._room(conn, stream, limits):
                raise AudioTooLargeError(
                    f"stream would exceed its limit ({limits.max_stream_bytes} bytes "
                    f"per stream, {limits.max_namespace_bytes} per namespace)"
                )
            conn.execute(
                "INSERT INTO stream_chunks (stream_id, seq, data) VALUES (%s, %s, %s)",
                (stream_id, stream.chunks, bytes(chunk)),
            )
            row = conn.execute(
                "UPDATE streams SET bytes = bytes + %s, chunks = chunks + 1 WHERE id = %s "
                f"RETURNING {_COLUMNS}",
                (len(chunk), stream_id),
            ).fetchone()
            return _record(row)

    def stream_room(
        self, namespace: str, stream_id: str, *, limits: StreamLimits, now: float
    ) -> int:
        with self._transaction(write=True) as conn:
            return self._room(conn, self._touch(conn, namespace, stream_id, limits, now), limits)

    def get_stream(
        self, namespace: str, stream_id: str, *, limits: StreamLimits, now: float
    ) -> StreamRecord:
        with self._transaction(write=True) as conn:
            return self._touch(conn, namespace, stream_id, limits, now)

    def stream_audio(
        self, namespace: str, stream_id: str, *, limits: StreamLimits, now: float
    ) -> tuple[StreamRecord, bytes]:
        with self._transaction(write=True) as conn:
            stream = self._touch(conn, namespace, stream_id, limits, now)
            rows = conn.execute(
                "SELECT data FROM stream_chunks WHERE stream_id = %s ORDER BY seq", (stream_id,)
            ).fetchall()
        return stream, b"".join(bytes(row["data"]) for row in rows)

    def delete_stream(self, namespace: str, stream_id: str, *, now: float) -> None:
        with self._transaction(write=True) as conn:
            self._sweep(conn, now)
            deleted = conn.execute(
                "DELETE FROM streams WHERE id = %s AND namespace = %s", (stream_id, namespace)
            ).rowcount
        if not deleted:
            raise _not_found(stream_id)

    def sweep_streams(self, *, now: float) -> int:
        with self._transaction(write=True) as conn:
            return self._sweep(conn, now)

    def count_streams(self, namespace: str | None, *, now: float) -> int:
        with self._transaction(write=True) as conn:
            self._sweep(conn, now)
            if namespace is None:
                row = conn.execute("SELECT COUNT(*) AS n FROM streams").fetchone()
            else:
                row = conn.execute(
                    "SELECT COUNT(*) AS n FROM streams WHERE namespace = %s", (namespace,)
                ).fetchone()
        return int(row["n"])
