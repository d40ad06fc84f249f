"""Audio streams: chunked uploads kept in the shared store, per namespace, until used,
deleted or idle.

A stream holds one of two formats, chosen when it is created:

- ``encoded`` (the default): the bytes of one audio or video file (WAV, FLAC, OGG,
  MP3, WebM...) uploaded in pieces, in order; it is decoded only when used.
- ``pcm16``: raw little-endian 16-bit PCM, 16 kHz, mono, with no header; chunks
  may split a sample (an odd byte is kept until the next chunk).

Streams and their chunks live in the store (:class:`~voxprint.store.base.StreamStore`),
not in the memory of one process: with several workers (``voxprint serve --workers N``,
or several hosts on one PostgreSQL), a stream opened on one worker is appended to and
used on any other.

A stream is seen only by keys of the namespace that created it; any other key
gets :class:`StreamNotFoundError` (404), as for an id that never existed. Each
append or use refreshes its expiry; a stream idle for ``idle_seconds`` is dropped
by the sweep that runs (lazily) on every registry call, so no background task is
needed. Storage is bounded per namespace: at most ``max_streams`` streams and
``max_namespace_bytes`` bytes, and at most ``max_stream_bytes`` in one stream.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from voxprint.audio import AudioSource
from voxprint.errors import EmptyAudioError, UnsupportedAudioError
from voxprint.live import pcm16_to_float, whole_samples
from voxprint.store.base import StreamStore
from voxprint.store.records import StreamFormat, StreamLimits, StreamRecord

PCM_RATE = 16000
MB = 1024 * 1024

__all__ = [
    "MB",
    "PCM_RATE",
    "StreamFormat",
    "StreamInfo",
    "StreamLimits",
    "StreamRegistry",
]


@dataclass(frozen=True)
class StreamInfo:
    """A snapshot of one stream (the audio itself stays in the store)."""

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


#: The first bytes of audio files, by what they are: signatures that raw 16-bit PCM
#: speech does not start with (four or more fixed bytes; no bare MPEG frame sync).
_CONTAINERS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"RIFF", "WAV"),
    (0, b"RF64", "WAV"),
    (0, b"fLaC", "FLAC"),
    (0, b"OggS", "Ogg"),
    (0, b"ID3", "MP3"),
    (0, b"\x1a\x45\xdf\xa3", "WebM/Matroska"),
    (4, b"ftyp", "MP4/M4A"),
    (0, b"FORM", "AIFF"),
    (0, b"caff", "CAF"),
)


def container_name(chunk: bytes) -> str | None:
    """What kind of audio file ``chunk`` starts with, or ``None`` (raw samples, or the
    middle of a file)."""
    for offset, signature, name in _CONTAINERS:
        if chunk[offset : offset + len(signature)] == signature:
            return name
    return None


class StreamRegistry:
    """The streams of one app, over a shared store. ``clock`` (seconds; wall-clock epoch
    seconds by default, since several processes compare expiries) is injectable for
    tests."""

    def __init__(
        self,
        streams: StreamStore,
        limits: StreamLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits or StreamLimits()
        self._streams = streams
        self._clock = clock

    def create(self, namespace: str, fmt: StreamFormat = StreamFormat.ENCODED) -> StreamInfo:
        record = self._streams.create_stream(
            namespace,
            secrets.token_hex(16),
            StreamFormat(fmt),
            limits=self.limits,
            now=self._clock(),
        )
        return self._info(record)

    def append(self, namespace: str, stream_id: str, chunk: bytes) -> StreamInfo:
        """Add ``chunk`` to the end of the stream; 413 past the stream or namespace limit.

        A ``pcm16`` stream refuses (415) a chunk that starts like an audio file (a WAV,
        FLAC, Ogg, MP3, WebM or MP4 header): its header and compressed frames would be
        taken for samples (found in a walkthrough: a WAV file appended to a pcm16 stream
        was identified, header and all, with no word said). Only a first chunk is looked
        at, as the live WebSockets look only at a first frame: later raw samples that happen
        to start like a header are samples."""
        container = container_name(chunk)
        if container is not None:
            record = self._streams.get_stream(
                namespace, stream_id, limits=self.limits, now=self._clock()
            )
            if record.format is StreamFormat.PCM16 and record.bytes == 0:
                raise UnsupportedAudioError(
                    f"this chunk is a {container} file, but stream {stream_id} takes raw "
                    "16 kHz mono 16-bit PCM with no header; send the samples alone, or open "
                    'the stream with {"format": "encoded"} for a file sent in pieces'
                )
        record = self._streams.append_stream(
            namespace, stream_id, chunk, limits=self.limits, now=self._clock()
        )
        return self._info(record)

    def room(self, namespace: str, stream_id: str) -> int:
        """Bytes the stream may still take (for refusing a chunk before reading it)."""
        return self._streams.stream_room(
            namespace, stream_id, limits=self.limits, now=self._clock()
        )

    def info(self, namespace: str, stream_id: str) -> StreamInfo:
        return self._info(
            self._streams.get_stream(namespace, stream_id, limits=self.limits, now=self._clock())
        )

    def audio(self, namespace: str, stream_id: str) -> AudioSource:
        """The stream's audio as a source for the service: bytes, or ``(array, 16000)``."""
        record, data = self._streams.stream_audio(
            namespace, stream_id, limits=self.limits, now=self._clock()
        )
        if not data:
            raise EmptyAudioError(f"stream {stream_id} has no audio yet")
        if record.format is StreamFormat.PCM16:
            whole, _odd_byte = whole_samples(data)  # a last half sample is no sound
            return (pcm16_to_float(whole), PCM_RATE)
        return data

    def delete(self, namespace: str, stream_id: str) -> None:
        self._streams.delete_stream(namespace, stream_id, now=self._clock())

    def sweep(self) -> int:
        """Drop expired streams now; returns how many were dropped."""
        return self._streams.sweep_streams(now=self._clock())

    def count(self, namespace: str | None = None) -> int:
        return self._streams.count_streams(namespace, now=self._clock())

    def _info(self, record: StreamRecord) -> StreamInfo:
        left = record.expires_at - self._clock()
        return StreamInfo(
            id=record.id,
            format=record.format,
            bytes=record.bytes,
            chunks=record.chunks,
            created_at=record.created_at,
            expires_at=datetime.now(UTC) + timedelta(seconds=max(0.0, left)),
        )
