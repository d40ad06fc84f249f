"""Turn any supported audio source into mono float32 samples at the source's own rate.

Encoded media (files, bytes, file-like objects) is demuxed and decoded with PyAV,
whose wheels ship FFmpeg's codecs: WAV, FLAC, OGG (Vorbis, Opus), MP3, M4A/AAC,
WebM and the audio track of MP4/MKV/MOV video all go through the same path.
``(array, rate)`` pairs are validated and converted without any decoding.
Sample-rate conversion is not done here (see :mod:`voxprint.audio.resample`).
"""

from __future__ import annotations

import functools
import io
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias

import numpy as np

from voxprint.audio.limits import AudioLimits, check_sample_rate
from voxprint.audio.resample import resample
from voxprint.errors import (
    AudioError,
    AudioFileNotFoundError,
    CorruptAudioError,
    EmptyAudioError,
    InvalidSampleRateError,
    UnsupportedAudioError,
)

if TYPE_CHECKING:
    import av

logger = logging.getLogger(__name__)

AudioSource: TypeAlias = (
    str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO | tuple[np.ndarray, int]
)

#: A 2-D array whose smaller axis is at most this long may be given channels-first.
MAX_CHANNELS_FIRST = 8

#: Decoded frames are mixed down to mono in batches of about this many samples,
#: which bounds memory to the mono signal instead of all its channels.
_MIX_BATCH_SAMPLES = 1 << 16

#: Containers whose declared duration comes from a header (not a bitrate guess),
#: so that decoding much less than it means the file was cut short.
_EXACT_DURATION_FORMATS = frozenset(
    {"flac", "wav", "ogg", "mov", "mp4", "m4a", "matroska", "webm", "aiff", "caf"}
)

#: Undecodable packets tolerated: this many, plus this fraction of all packets.
_MAX_BAD_PACKETS = 1
_MAX_BAD_PACKET_FRACTION = 0.01


@functools.cache
def _pyav() -> Any:
    """PyAV, imported at the first decode: it takes 80 ms to import, and commands that
    decode nothing (``profiles list``, ``--help``) should not pay it."""
    import av
    import av.error

    return av


@functools.cache
def _decode_errors() -> tuple[type[BaseException], ...]:
    """Errors PyAV (and the file objects it reads from) raise for unreadable media."""
    return (_pyav().error.FFmpegError, OSError, EOFError, ValueError)


@dataclass(frozen=True)
class DecodedAudio:
    """Mono audio at its native rate: ``samples`` is ``(n,) float32``."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_seconds(self) -> float:
        return self.samples.shape[0] / self.sample_rate if self.sample_rate else 0.0


def decode_source(source: AudioSource, limits: AudioLimits) -> DecodedAudio:
    """Decode ``source`` to mono float32 at its own sample rate.

    Accepted sources: a path (``str`` or ``os.PathLike``); encoded bytes
    (``bytes``, ``bytearray``, ``memoryview``); a binary file-like object (read
    from its current position); or ``(array, rate)`` with ``array`` ``(n,)``,
    ``(n, channels)`` or — when the first axis is the small one (at most 8) and
    the second is longer — ``(channels, n)``. Integer arrays are scaled to
    [-1, 1] (int16 by 1/32768, unsigned types re-centred first); float arrays
    are kept as they are. Channels are averaged.

    Raises the :class:`~voxprint.errors.AudioError` subclasses described in
    :func:`voxprint.audio.load_audio`.
    """
    if isinstance(source, tuple):
        return _from_array_pair(source, limits)
    if isinstance(source, np.ndarray):
        raise UnsupportedAudioError(
            "a bare array has no sample rate: pass (array, sample_rate) instead"
        )
    if isinstance(source, str | os.PathLike):
        return _from_path(Path(os.fspath(source)), limits)
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        _check_encoded_size(view.nbytes, limits, "audio data")
        data = view.tobytes() if not isinstance(source, bytes) else source
        return _plain_wav(data, limits) or _decode_media(io.BytesIO(data), data[:64], limits)
    if hasattr(source, "read"):
        data = _read_capped(source, limits)
        return _plain_wav(data, limits) or _decode_media(io.BytesIO(data), data[:64], limits)
    raise UnsupportedAudioError(
        f"unsupported audio source type {type(source).__name__}: expected a path, bytes, "
        "a binary file object or (array, sample_rate)"
    )


# --- (array, rate) --------------------------------------------------------------------------


def _from_array_pair(pair: tuple[Any, ...], limits: AudioLimits) -> DecodedAudio:
    if len(pair) != 2:
        raise UnsupportedAudioError(
            f"an audio tuple must be (array, sample_rate), got {len(pair)} items"
        )
    array_like, rate_like = pair
    rate = _as_sample_rate(rate_like)
    check_sample_rate(rate)
    try:
        array = np.asarray(array_like)
    except (TypeError, ValueError) as exc:
        raise UnsupportedAudioError(f"audio samples are not an array: {exc}") from exc
    if array.dtype.kind not in "iuf" or array.dtype.itemsize > 8:
        raise UnsupportedAudioError(
            f"audio samples must be integers or floats, got dtype {array.dtype}"
        )
    channels_first = _channels_first(array)
    if channels_first.shape[0] == 0 or channels_first.shape[1] == 0:
        raise EmptyAudioError(f"audio array has no samples (shape {array.shape})")
    limits.check_seconds(channels_first.shape[1] / rate)
    return DecodedAudio(pcm_to_mono(channels_first, copy=True), rate)


def _as_sample_rate(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidSampleRateError(f"sample rate must be a number in Hz, got {value!r}")
    if isinstance(value, float | np.floating) and not float(value).is_integer():
        raise InvalidSampleRateError(f"sample rate must be a whole number of Hz, got {value!r}")
    return int(value)


def _channels_first(array: np.ndarray) -> np.ndarray:
    """View ``array`` as ``(channels, n)``; see :func:`decode_source` for the accepted shapes."""
    if array.ndim == 1:
        return array[np.newaxis, :]
    if array.ndim == 2:
        rows, cols = array.shape
        if rows >= cols:
            return array.T
        if rows <= MAX_CHANNELS_FIRST:
            return array
        raise UnsupportedAudioError(
            f"ambiguous audio array shape {array.shape}: expected (n,), (n, channels) or "
            f"(channels, n) with at most {MAX_CHANNELS_FIRST} channels"
        )
    raise UnsupportedAudioError(
        f"audio array must be 1-D or 2-D, got {array.ndim}-D with shape {array.shape}"
    )


#: Two channels whose difference carries this many times the power of their sum (10 dB)
#: were recorded in opposite phase: averaging would cancel the speech and keep only what
#: they share (hum, an offset), so their difference is used instead.
SIDE_OVER_MID = 10.0
#: More channels whose mix keeps less than this share of their mean power (-20 dB) cancel
#: out: the loudest channel is used instead.
CANCELLED_MIX_POWER = 0.01


def pcm_to_mono(channels_first: np.ndarray, *, copy: bool = False) -> np.ndarray:
    """Scale ``(channels, n)`` PCM to float and average the channels: ``(n,) float32``.

    Signed integers are divided by ``2**(bits-1)``; unsigned ones are first
    re-centred on zero. Floats are not rescaled. With ``copy`` the result never
    shares memory with the input. Channels recorded in opposite phase, which cancel out
    when averaged, give their difference (two channels, :data:`SIDE_OVER_MID`) or the
    loudest channel (more, :data:`CANCELLED_MIX_POWER`) instead, with a warning.
    """
    mono, cancelled = _mix(channels_first, copy=copy)
    if cancelled:
        _warn_cancelled(channels_first.shape[0])
    return mono


def _warn_cancelled(channels: int) -> None:
    instead = "their difference is used" if channels == 2 else "the loudest channel is used"
    logger.warning(
        "the %d channels cancel out when mixed (recorded in opposite phase): %s",
        channels,
        instead,
    )


def _mix(channels_first: np.ndarray, *, copy: bool) -> tuple[np.ndarray, bool]:
    """:func:`pcm_to_mono`, and whether the channels cancelled out."""
    dtype = channels_first.dtype
    count, samples = channels_first.shape
    centred = False  # the result no longer holds an unsigned format's offset
    cancelled = False
    if count == 1:
        mono = channels_first[0].astype(np.float32, copy=copy or dtype.kind != "f")
    else:
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf are reported later
            mono = channels_first.mean(axis=0, dtype=np.float32)
            if samples:
                instead = _instead_of_mix(channels_first, mono)
                if instead is not None:
                    mono, centred = instead
                    cancelled = True
    if dtype.kind in "iu":
        half_range = float(2 ** (8 * dtype.itemsize - 1))
        if dtype.kind == "u" and not centred:
            mono -= np.float32(half_range)
        mono *= np.float32(1.0 / half_range)
    return mono, cancelled


def _ac_power(signal: np.ndarray) -> float:
    """The power of ``(n,) float32`` samples about their mean (an offset is not sound)."""
    centred = signal - np.float32(signal.mean(dtype=np.float64))
    return float(np.dot(centred, centred)) / signal.size


def _instead_of_mix(channels_first: np.ndarray, mix: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """What to use instead of the channels' average ``mix`` when they cancel out (and
    whether it is already centred), or ``None`` to keep the average. Works channel by
    channel in float32: no copy of all channels at once."""
    if channels_first.shape[0] == 2:
        left = channels_first[0].astype(np.float32)
        side = left - channels_first[1].astype(np.float32)
        side *= np.float32(0.5)
        if _ac_power(side) > SIDE_OVER_MID * _ac_power(mix):
            return side, True
        return None
    powers = [_ac_power(channel.astype(np.float32)) for channel in channels_first]
    mean_power = sum(powers) / len(powers)
    if mean_power > 0.0 and _ac_power(mix) < CANCELLED_MIX_POWER * mean_power:
        loudest = int(np.argmax(powers))
        return channels_first[loudest].astype(np.float32, copy=True), False
    return None


# --- encoded media --------------------------------------------------------------------------


def _check_encoded_size(size: int, limits: AudioLimits, what: str) -> None:
    if size == 0:
        raise EmptyAudioError(f"{what} is empty (0 bytes)")
    limits.check_bytes(size, what)


def _from_path(path: Path, limits: AudioLimits) -> DecodedAudio:
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise AudioFileNotFoundError(f"audio file not found: {path}") from exc
    except OSError as exc:
        raise AudioError(f"could not read audio file {path}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise AudioFileNotFoundError(f"audio path is a directory, not a file: {path}")
    what = f"audio file {path}"
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise AudioError(f"could not read audio file {path}: {exc.strerror or exc}") from exc
    with handle:
        if not stat.S_ISREG(info.st_mode):
            # A pipe or device: its size is unknown until read, so read it capped.
            data = _read_capped(handle, limits, what)
            return _decode_media(io.BytesIO(data), data[:64], limits)
        _check_encoded_size(info.st_size, limits, what)
        try:
            head = handle.read(64)
            plain = _plain_wav(head + handle.read(), limits) if _is_riff_wave(head) else None
            if plain is not None:
                return plain
            handle.seek(0)
        except OSError as exc:
            raise AudioError(f"could not read audio file {path}: {exc.strerror or exc}") from exc
        # Decoding streams from the open file; passing a file object rather than
        # the path also keeps FFmpeg from interpreting the name as a URL.
        return _decode_media(handle, head, limits)


def _is_riff_wave(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def _plain_wav(data: bytes, limits: AudioLimits) -> DecodedAudio | None:
    """Decode a complete 16-bit PCM WAV file straight from its bytes, or ``None`` for
    anything else (other formats and sample types, extensible headers, a data chunk
    that runs past the end), which the general decoder then handles.

    The samples are exactly those the general decoder gives (FFmpeg reads the same
    integers, mixed by :func:`pcm_to_mono` alike), without FFmpeg's set-up: opening a
    container costs about 5 ms, this a fraction of one (docs/benchmarks.md, "Fast on
    every CPU").
    """
    if len(data) < 44 or not _is_riff_wave(data):
        return None
    position, fmt, data_start, data_size = 12, b"", -1, -1
    while position + 8 <= len(data):
        chunk = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        if chunk == b"fmt ":
            fmt = data[position + 8 : position + 8 + size]
        elif chunk == b"data":
            data_start, data_size = position + 8, size
            break
        position += 8 + size + (size & 1)
    if len(fmt) < 16 or data_start < 0:
        return None
    tag = int.from_bytes(fmt[0:2], "little")
    channels = int.from_bytes(fmt[2:4], "little")
    rate = int.from_bytes(fmt[4:8], "little")
    block = int.from_bytes(fmt[12:14], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    if tag != 1 or bits != 16 or channels < 1 or block != 2 * channels:
        return None
    if data_size == 0 or data_size % block or data_start + data_size > len(data):
        return None
    check_sample_rate(rate)
    frames = data_size // block
    limits.check_seconds(frames / rate)
    pcm = np.frombuffer(data, dtype="<i2", count=frames * channels, offset=data_start)
    return DecodedAudio(pcm_to_mono(pcm.reshape(frames, channels).T, copy=True), rate)


def _read_capped(stream: Any, limits: AudioLimits, what: str = "audio stream") -> bytes:
    """Read at most ``limits.max_bytes + 1`` bytes from a binary file-like object."""
    budget = limits.max_bytes + 1
    parts: list[bytes] = []
    total = 0
    while total < budget:
        try:
            chunk = stream.read(min(budget - total, 1 << 20))
        except OSError as exc:
            raise AudioError(f"could not read {what}: {exc.strerror or exc}") from exc
        if chunk is None:
            raise AudioError(f"{what} returned no data (a non-blocking stream?)")
        if isinstance(chunk, str):
            raise UnsupportedAudioError(f"{what} is in text mode; open it in binary mode ('rb')")
        if not chunk:
            break
        parts.append(bytes(chunk))
        total += len(chunk)
    if total == 0:
        raise EmptyAudioError(f"{what} is empty (0 bytes)")
    limits.check_bytes(total, what, at_least=total > limits.max_bytes)
    return b"".join(parts)


def _error_reason(exc: BaseException) -> str:
    reason = getattr(exc, "strerror", None)
    return str(reason or exc or type(exc).__name__)


def _looks_like_media(head: bytes) -> bool:
    """Whether the first bytes carry the signature of a common audio/video container."""
    if head[:4] in (b"fLaC", b"OggS", b"RF64", b"FORM", b"caff", b"\x1a\x45\xdf\xa3"):
        return True
    if head[:4] == b"RIFF" or head[:3] == b"ID3" or head[4:8] == b"ftyp":
        return True
    # MPEG audio / ADTS frame sync: 11 (MP3) or 12 (AAC) set bits.
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0


def _mp3_truncation(stream: BinaryIO) -> tuple[int, int] | None:
    """``(declared, present)`` audio bytes of an MP3 whose Xing/Info header states its size.

    The header's byte count covers the MPEG frames from the first one to the
    end; fewer bytes than that in the file means it was cut short. Returns None
    when there is no such header or it cannot be read. ``stream`` holds the MP3
    from offset 0; its position is restored.
    """
    try:
        position = stream.tell()
        stream.seek(0)
        header = stream.read(10)
        offset = 0
        if header[:3] == b"ID3" and len(header) == 10:
            size = 0
            for byte in header[6:10]:
                size = (size << 7) | (byte & 0x7F)
            offset = 10 + size + (10 if header[5] & 0x10 else 0)
        stream.seek(offset)
        first_frame = stream.read(200)
        total = stream.seek(0, io.SEEK_END)
        stream.seek(position)
    except (OSError, ValueError):
        return None
    for tag in (b"Xing", b"Info"):
        at = first_frame.find(tag)
        if at < 0 or len(first_frame) < at + 16:
            continue
        flags = int.from_bytes(first_frame[at + 4 : at + 8], "big")
        if not flags & 0x2:  # no byte count
            return None
        field = at + 8 + (4 if flags & 0x1 else 0)
        declared = int.from_bytes(first_frame[field : field + 4], "big")
        return declared, total - offset
    return None


def _decode_media(stream: BinaryIO, head: bytes, limits: AudioLimits) -> DecodedAudio:
    try:
        container = _pyav().open(stream, mode="r", metadata_errors="ignore")
    except _decode_errors() as exc:
        if _looks_like_media(head):
            raise CorruptAudioError(f"could not decode audio: {_error_reason(exc)}") from exc
        raise UnsupportedAudioError(
            f"input is not a recognised audio or video format ({_error_reason(exc)})"
        ) from exc
    with container:
        return _decode_container(container, stream, limits)


def _decode_container(
    container: av.container.InputContainer, stream: BinaryIO, limits: AudioLimits
) -> DecodedAudio:
    if not container.streams:
        raise CorruptAudioError(
            "could not decode audio: the container holds no streams (truncated or damaged file?)"
        )
    if not container.streams.audio:
        kinds = ", ".join(sorted({str(s.type) for s in container.streams}))
        raise UnsupportedAudioError(f"no audio stream in input (found only {kinds})")
    best = container.streams.best("audio")
    audio = best if isinstance(best, _pyav().AudioStream) else container.streams.audio[0]
    declared_rate = audio.codec_context.sample_rate
    if declared_rate:
        check_sample_rate(declared_rate)

    if "mp3" in container.format.name.split(","):
        sizes = _mp3_truncation(stream)
        if sizes is not None and sizes[0] > sizes[1]:
            raise CorruptAudioError(
                f"could not decode audio: the MP3 header declares {sizes[0]} bytes of audio "
                f"but only {sizes[1]} are present (truncated file?)"
            )

    declared = _declared_seconds(container, audio)
    if declared is not None and declared > limits.max_seconds * 1.01 + 1.0:
        limits.check_seconds(declared)

    mixer = _MonoMixer()
    seconds = 0.0
    packets = bad_packets = 0
    try:
        for packet in container.demux(audio):
            packets += 1
            try:
                frames = audio.decode(packet)
            except _decode_errors() as exc:
                # Like FFmpeg's own tools, skip an isolated bad packet (a glitch, or a
                # tag between concatenated files); many of them mean the media is broken.
                bad_packets += 1
                if bad_packets > _MAX_BAD_PACKETS + _MAX_BAD_PACKET_FRACTION * packets:
                    raise CorruptAudioError(
                        f"could not decode audio: {_error_reason(exc)} "
                        f"({bad_packets} bad packets, after {seconds:.2f} s)"
                    ) from exc
                continue
            for frame in frames:
                if frame.samples:
                    mixer.add(frame)
                    seconds += frame.samples / frame.sample_rate
                    limits.check_seconds(seconds)
    except _decode_errors() as exc:
        raise CorruptAudioError(
            f"could not decode audio: {_error_reason(exc)} (after {seconds:.2f} s)"
        ) from exc
    skipped = f"skipped {bad_packets} undecodable audio packets of {packets}"
    try:
        decoded = _complete(mixer.finish(), declared, container.format.name)
    except AudioError:
        # A cut-off file's last packet is undecodable too: its error says what is wrong,
        # in one line, so the skipped packet is no warning of its own.
        if bad_packets:
            logger.debug("%s", skipped)
        raise
    if bad_packets:
        logger.warning("%s", skipped)
    return decoded


def _complete(decoded: DecodedAudio, declared: float | None, format_name: str) -> DecodedAudio:
    """``decoded``, unless it holds no samples or less than its header ``declared``."""
    if decoded.samples.shape[0] == 0:
        if declared:
            raise CorruptAudioError(
                f"could not decode audio: no samples in a stream that declares {declared:.2f} s"
            )
        raise EmptyAudioError("audio stream contains no samples")
    if declared is not None:
        missing = declared - decoded.duration_seconds
        # FLAC states its exact sample count; lossy codecs' headers are off by a frame or so.
        lossless = "flac" in format_name.split(",")
        if missing > (0.005 if lossless else max(0.25, 0.02 * declared)):
            raise CorruptAudioError(
                f"could not decode audio: it ends after {decoded.duration_seconds:.2f} s "
                f"of the {declared:.2f} s its header declares (truncated file?)"
            )
    return decoded


def _declared_seconds(
    container: av.container.InputContainer, audio: av.AudioStream
) -> float | None:
    """The audio duration a header states exactly, or None when unknown or only estimated."""
    if not set(container.format.name.split(",")) & _EXACT_DURATION_FORMATS:
        return None
    if audio.duration is not None and audio.time_base is not None:
        return float(audio.duration * audio.time_base)
    if len(container.streams) == 1 and container.duration is not None:
        return container.duration / _pyav().time_base
    return None


class _MonoMixer:
    """Collects decoded frames and mixes them down to mono float32 in batches."""

    def __init__(self) -> None:
        self._pending: list[np.ndarray] = []
        self._pending_samples = 0
        self._key: tuple[int, int, bool, str] | None = None
        self._pieces: list[tuple[np.ndarray, int]] = []
        self._cancelled = False

    def add(self, frame: av.AudioFrame) -> None:
        rate = frame.sample_rate
        key = (rate, frame.layout.nb_channels, frame.format.is_planar, frame.format.name)
        if key != self._key:
            self._flush()
            check_sample_rate(rate)
            self._key = key
        self._pending.append(frame.to_ndarray())
        self._pending_samples += frame.samples
        if self._pending_samples >= _MIX_BATCH_SAMPLES:
            self._flush()

    def _flush(self) -> None:
        if not self._pending or self._key is None:
            return
        rate, channels, planar, _ = self._key
        raw = np.concatenate(self._pending, axis=1)
        if not planar:
            # Packed frames come as (1, n * channels), interleaved.
            raw = raw.reshape(-1, channels).T
        mono, cancelled = _mix(raw, copy=False)
        self._cancelled = self._cancelled or cancelled
        self._pieces.append((mono, rate))
        self._pending = []
        self._pending_samples = 0

    def finish(self) -> DecodedAudio:
        self._flush()
        if self._cancelled and self._key is not None:
            _warn_cancelled(self._key[1])
        if not self._pieces:
            return DecodedAudio(np.zeros(0, dtype=np.float32), self._key[0] if self._key else 0)
        rate = self._pieces[0][1]
        parts = [piece for piece, _ in self._pieces]
        if any(piece_rate != rate for _, piece_rate in self._pieces):
            logger.debug("sample rate changes mid-stream; resampling all of it to %d Hz", rate)
            parts = [resample(piece, piece_rate, rate) for piece, piece_rate in self._pieces]
        samples = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return DecodedAudio(samples, rate)
