"""Audio streams in the SQLite store: one row per stream, one per chunk (see
:class:`~voxprint.store.base.StreamStore`)."""

from __future__ import annotations

import sqlite3

from voxprint.errors import AudioTooLargeError, ServiceBusyError, StreamNotFoundError
from voxprint.store.records import StreamFormat, StreamLimits, StreamRecord
from voxprint.store.sqlite.codecs import now as utc_now
from voxprint.store.sqlite.codecs import parse_time, time_text
from voxprint.store.sqlite.connection import SQLiteDatabase

_COLUMNS = "id, namespace, format, bytes, chunks, created_at, expires_at"


def _record(row: sqlite3.Row) -> StreamRecord:
    return StreamRecord(
        id=row["id"],
        namespace=row["namespace"],
        format=StreamFormat(row["format"]),
        bytes=int(row["bytes"]),
        chunks=int(row["chunks"]),
        created_at=parse_time(row["created_at"]),
        expires_at=float(row["expires_at"]),
    )


def _not_found(stream_id: str) -> StreamNotFoundError:
    return StreamNotFoundError(f"no stream {stream_id!r} (it may have expired)")


class SQLiteStreams(SQLiteDatabase):
    """:class:`~voxprint.store.base.StreamStore` on SQLite."""

    @staticmethod
    def _sweep(conn: sqlite3.Connection, now: float) -> int:
        return int(conn.execute("DELETE FROM streams WHERE expires_at <= ?", (now,)).rowcount)

    @classmethod
    def _touch(
        cls,
        conn: sqlite3.Connection,
        namespace: str,
        stream_id: str,
        limits: StreamLimits,
        now: float,
    ) -> StreamRecord:
        cls._sweep(conn, now)
        updated = conn.execute(
            "UPDATE streams SET expires_at = ? WHERE id = ? AND namespace = ?",
            (now + limits.idle_seconds, stream_id, namespace),
        ).rowcount
        if not updated:
            raise _not_found(stream_id)
        row = conn.execute(f"SELECT {_COLUMNS} FROM streams WHERE id = ?", (stream_id,)).fetchone()
        return _record(row)

    @staticmethod
    def _room(conn: sqlite3.Connection, stream: StreamRecord, limits: StreamLimits) -> int:
        used = conn.execute(
            "SELECT COALESCE(SUM(bytes), 0) FROM streams WHERE namespace = ?",
            (stream.namespace,),
        ).fetchone()[0]
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
            self._sweep(conn, now)
            count = conn.execute(
                "SELECT COUNT(*) FROM streams WHERE namespace = ?", (namespace,)
            ).fetchone()[0]
            if count >= limits.max_streams:
                raise ServiceBusyError(
                    f"too many open streams (limit {limits.max_streams}); delete or use some first"
                )
            conn.execute(
                f"INSERT INTO streams ({_COLUMNS}) VALUES (?, ?, ?, 0, 0, ?, ?)",
                (
                    stream_id,
                    namespace,
                    StreamFormat(fmt).value,
                    time_text(utc_now(), "created_at"),
                    now + limits.idle_seconds,
                ),
            )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM streams WHERE id = ?", (stream_id,)
            ).fetchone()
            return _record(row)

    def append_stream(
        self, namespace: str, stream_id: str, chunk: bytes, *, limits: StreamLimits, now: float
    ) -> StreamRecord:
        with self._transaction(write=True) as conn:
            stream = self._touch(conn, namespace, stream_id, limits, now)
            if len(chunk) > self._room(conn, stream, limits):
                raise AudioTooLargeError(
                    f"stream would exceed its limit ({limits.max_stream_bytes} bytes "
                    f"per stream, {limits.max_namespace_bytes} per namespace)"
                )
            conn.execute(
                "INSERT INTO stream_chunks (stream_id, seq, data) VALUES (?, ?, ?)",
                (stream_id, stream.chunks, bytes(chunk)),
            )
            conn.execute(
                "UPDATE streams SET bytes = bytes + ?, chunks = chunks + 1 WHERE id = ?",
                (len(chunk), stream_id),
            )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM streams WHERE id = ?", (stream_id,)
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
                "SELECT data FROM stream_chunks WHERE stream_id = ? ORDER BY seq", (stream_id,)
            ).fetchall()
        return stream, b"".join(bytes(row["data"]) for row in rows)

    def delete_stream(self, namespace: str, stream_id: str, *, now: float) -> None:
        with self._transaction(write=True) as conn:
            self._sweep(conn, now)
            deleted = conn.execute(
                "DELETE FROM streams WHERE id = ? AND namespace = ?", (stream_id, namespace)
            ).rowcount
        if not deleted:
            raise _not_found(stream_id)
        self._checkpoint()

    def sweep_streams(self, *, now: float) -> int:
        with self._transaction(write=True) as conn:
            dropped = self._sweep(conn, now)
        if dropped:
            self._checkpoint()
        return dropped

    def count_streams(self, namespace: str | None, *, now: float) -> int:
        with self._transaction(write=True) as conn:
            self._sweep(conn, now)
            if namespace is None:
                return int(conn.execute("SELECT COUNT(*) FROM streams").fetchone()[0])
            return int(
                conn.execute(
                    "SELECT COUNT(*) FROM streams WHERE namespace = ?", (namespace,)
                ).fetchone()[0]
            )
