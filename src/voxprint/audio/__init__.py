"""Audio intake: any supported source in, ``(n,) float32`` mono at one sample rate out."""

from __future__ import annotations

import logging

import numpy as np

from voxprint.audio.decode import AudioSource, decode_source
from voxprint.audio.limits import AudioLimits, check_sample_rate
from voxprint.audio.resample import resample
from voxprint.errors import EmptyAudioError, InvalidSampleRateError, NonFiniteAudioError

__all__ = ["AudioLimits", "AudioSource", "load_audio", "resample"]

logger = logging.getLogger(__name__)

#: The default limits (a module-level instance, so the default argument is not a call).
DEFAULT_LIMITS = AudioLimits()


def load_audio(
    source: AudioSource, *, sample_rate: int = 16000, limits: AudioLimits = DEFAULT_LIMITS
) -> np.ndarray:
    """Decode ``source`` and return it as ``(n,) float32`` mono at ``sample_rate`` Hz.

    ``source`` may be a path (``str`` / ``os.PathLike``), encoded bytes
    (``bytes`` / ``bytearray`` / ``memoryview``), a binary file-like object, or
    ``(array, rate)``. Encoded media is anything FFmpeg (through PyAV) reads:
    WAV (PCM 8/16/24/32-bit, float32/64), FLAC, OGG Vorbis/Opus, MP3, M4A/AAC,
    WebM, and the audio track of MP4/MKV video. Arrays may be ``(n,)``,
    ``(n, channels)``, or ``(channels, n)`` when the first axis is the small
    one (at most 8) and the second is longer; integer arrays are scaled to
    [-1, 1] and float arrays kept as they are. Channels are averaged to mono,
    then soxr resamples (band-limited) from any rate in 8–192 kHz.

    Raises (all :class:`~voxprint.errors.AudioError`):
        AudioFileNotFoundError: the path does not exist or is a directory.
        EmptyAudioError: zero bytes or zero samples.
        AudioTooLargeError: more than ``limits.max_bytes`` of encoded input (before decoding).
        AudioTooLongError: longer than ``limits.max_seconds`` (decoding stops early).
        UnsupportedAudioError: not a media format, no audio stream, or a bad array.
        CorruptAudioError: recognisable media that fails to decode or is truncated.
        InvalidSampleRateError: a source or target rate outside 8–192 kHz.
        NonFiniteAudioError: NaN or infinite samples.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int):
        raise InvalidSampleRateError(f"target sample_rate must be an int, got {sample_rate!r}")
    check_sample_rate(sample_rate, "target sample_rate")
    decoded = decode_source(source, limits)
    _check_finite(decoded.samples)
    waveform = resample(decoded.samples, decoded.sample_rate, sample_rate)
    if waveform.shape[0] == 0:
        raise EmptyAudioError(
            f"audio is too short: {decoded.samples.shape[0]} samples at "
            f"{decoded.sample_rate} Hz leave none at {sample_rate} Hz"
        )
    logger.debug(
        "loaded %.2f s of audio (%d Hz -> %d Hz)",
        waveform.shape[0] / sample_rate,
        decoded.sample_rate,
        sample_rate,
    )
    return waveform


def _check_finite(samples: np.ndarray) -> None:
    """Raise ``NonFiniteAudioError`` when ``samples`` (``(n,) float32``) holds NaN or inf."""
    if np.isfinite(samples).all():
        return
    bad = int(np.count_nonzero(~np.isfinite(samples)))
    if bad == samples.shape[0] and np.isnan(samples).all():
        raise NonFiniteAudioError(f"audio is entirely NaN ({bad} samples)")
    raise NonFiniteAudioError(
        f"audio contains {bad} non-finite samples (NaN or infinity) out of {samples.shape[0]}"
    )
