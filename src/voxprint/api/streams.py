"""Audio streams: chunked uploads kept in memory, per namespace, until used, deleted or idle.

A stream holds one of two formats, chosen when it is created:

- ``encoded`` (the default): the bytes of one audio or video file (WAV, FLAC, OGG,
  MP3, WebM...) uploaded in pieces, in order; it is decoded only when used.
- ``pcm16``: raw little-endian 16-bit PCM, 16 kHz, mono, with no header; chunks
  may split a sample (an odd byte is kept until the next chunk).

A stream is seen only by keys of the namespace that created it; any other key
gets :class:`StreamNotFoundError` (404), as for an id that never existed. Each
append or use refreshes its expiry; a stream idle for ``idle_seconds`` is dropped
by the sweep that runs (lazily) on every registry call, so no background task is
needed. Memory is bounded per namespace: at most ``max_streams`` streams and
``max_namespace_bytes`` bytes, and at most ``max_stream_bytes`` in one stream.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import numpy as np

from voxprint.audio import AudioSource
from voxprint.errors import (
    AudioTooLargeError,
    EmptyAudioError,
    InvalidParameterError,
    ServiceBusyError,
    StreamNotFoundError,
)

PCM_RATE = 16000
MB = 1024 * 1024


class StreamFormat(StrEnum):
    ENCODED = "encoded"
    PCM16 = "pcm16"


@dataclass(frozen=True)
class StreamLimits:
    """How long idle streams live and how much memory each namespace may hold."""

    idle_seconds: float = 300.0
    max_streams: int = 16
    max_stream_bytes: int = 50 * MB
    max_namespace_bytes: int = 100 * MB

    def __post_init__(self) -> None:
        if self.idle_seconds <= 0 or self.max_streams < 1 or self.max_stream_bytes < 1:
            raise InvalidParameterError("stream limits must be positive")


@dataclass(frozen=True)
class StreamInfo:
    """A snapshot of one stream (the audio itself stays in the registry)."""

    id: str
    format: StreamFormat
    bytes: int
    chunks: int
    created_at: datetime
    expires_at: datetime

    @property
    def audio_seconds(self) -> float | None:
        """Duration of a PCM stream; ``None`` for encoded files (unknown until decoded)."""
        if self.format is StreamFormat.PCM16:
            return (self.bytes // 2) / PCM_RATE
        return None


class _Stream:
    __slots__ = ("chunks", "created_at", "data", "format", "id", "namespace", "touched")

    def __init__(self, stream_id: str, namespace: str, fmt: StreamFormat, now: float) -> None:
        self.id = stream_id
        self.namespace = namespace
        self.format = fmt
        self.data = bytearray()
        self.chunks = 0
        self.created_at = datetime.now(UTC)
        self.touched = now


class StreamRegistry:
    """All open streams of one app; thread-safe. ``clock`` is injectable for tests."""

    def __init__(
        self, limits: StreamLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or StreamLimits()
        self._clock = clock
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()

    def create(self, namespace: str, fmt: StreamFormat = StreamFormat.ENCODED) -> StreamInfo:
        with self._lock:
            now = self._sweep()
            if sum(s.namespace == namespace for s in self._streams.values()) >= (
                self.limits.max_streams
            ):
                raise ServiceBusyError(
                    f"too many open streams (limit {self.limits.max_streams}); "
                    "delete or use some first"
                )
            stream = _Stream(secrets.token_hex(16), namespace, StreamFormat(fmt), now)
            self._streams[stream.id] = stream
            return self._info(stream)

    def append(self, namespace: str, stream_id: str, chunk: bytes) -> StreamInfo:
        """Add ``chunk`` to the end of the stream; 413 past the stream or namespace limit."""
        with self._lock:
            stream = self._get(namespace, stream_id)
            room = self.room(namespace, stream_id, locked=True)
            if len(chunk) > room:
                raise AudioTooLargeError(
                    f"stream would exceed its limit ({self.limits.max_stream_bytes} bytes "
                    f"per stream, {self.limits.max_namespace_bytes} per namespace)"
                )
            stream.data.extend(chunk)
            stream.chunks += 1
            return self._info(stream)

    def room(self, namespace: str, stream_id: str, *, locked: bool = False) -> int:
        """Bytes the stream may still take (for refusing a chunk before reading it)."""
        if not locked:
            with self._lock:
                return self.room(namespace, stream_id, locked=True)
        stream = self._get(namespace, stream_id)
        used = sum(len(s.data) for s in self._streams.values() if s.namespace == namespace)
        return max(
            0,
            min(
                self.limits.max_stream_bytes - len(stream.data),
                self.limits.max_namespace_bytes - used,
            ),
        )

    def info(self, namespace: str, stream_id: str) -> StreamInfo:
        with self._lock:
            return self._info(self._get(namespace, stream_id))

    def audio(self, namespace: str, stream_id: str) -> AudioSource:
        """The stream's audio as a source for the service: bytes, or ``(array, 16000)``."""
        with self._lock:
            stream = self._get(namespace, stream_id)
            data = bytes(stream.data)
            fmt = stream.format
        if not data:
            raise EmptyAudioError(f"stream {stream_id} has no audio yet")
        if fmt is StreamFormat.PCM16:
            usable = len(data) - len(data) % 2
            samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
            return (samples, PCM_RATE)
        return data

    def delete(self, namespace: str, stream_id: str) -> None:
        with self._lock:
            stream = self._get(namespace, stream_id)
            del self._streams[stream.id]

    def sweep(self) -> int:
        """Drop expired streams now; returns how many were dropped."""
        with self._lock:
            before = len(self._streams)
            self._sweep()
            return before - len(self._streams)

    def count(self, namespace: str | None = None) -> int:
        with self._lock:
            self._sweep()
            return sum(namespace in (None, s.namespace) for s in self._streams.values())

    def clear(self) -> None:
        with self._lock:
            self._streams.clear()

    # --- inside the lock ----------------------------------------------------------

    def _sweep(self) -> float:
        now = self._clock()
        expired = [
            key
            for key, stream in self._streams.items()
            if now - stream.touched >= self.limits.idle_seconds
        ]
        for key in expired:
            del self._streams[key]
        return now

    def _get(self, namespace: str, stream_id: str) -> _Stream:
        now = self._sweep()
        stream = self._streams.get(stream_id)
        if stream is None or stream.namespace != namespace:
            raise StreamNotFoundError(f"no stream {stream_id!r} (it may have expired)")
        stream.touched = now
        return stream

    def _info(self, stream: _Stream) -> StreamInfo:
        left = self.limits.idle_seconds - (self._clock() - stream.touched)
        return StreamInfo(
            id=stream.id,
            format=stream.format,
            bytes=len(stream.data),
            chunks=stream.chunks,
            created_at=stream.created_at,
            expires_at=datetime.now(UTC) + timedelta(seconds=max(0.0, left)),
        )
