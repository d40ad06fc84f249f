"""Waveform transforms that derive evaluation conditions from clean recordings.

Each transform is a small frozen (hashable) dataclass whose random choices
(where a crop starts, which stretch of a noise file is used) were drawn when
the protocol was built, so applying it is deterministic and every system under
test receives bit-identical input. Positions are stored as fractions in
``[0, 1]`` of the available slack, so a protocol can be built without decoding
any audio.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from voxprint.audio import load_audio
from voxprint.audio.resample import band_limited
from voxprint.errors import InvalidParameterError


class WaveformTransform(Protocol):
    """Maps ``(n,) float32`` audio at ``sample_rate`` to ``(m,) float32`` at the same rate."""

    def apply(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray: ...


def _check_position(position: float) -> None:
    if not 0.0 <= position <= 1.0:
        raise InvalidParameterError(f"position must be in [0, 1], got {position}")


@dataclass(frozen=True)
class Crop:
    """Keep ``seconds`` of audio starting ``position`` of the way into the slack.

    A waveform no longer than ``seconds`` is returned whole.
    """

    seconds: float
    position: float = 0.0

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise InvalidParameterError(f"crop length must be positive, got {self.seconds}")
        _check_position(self.position)

    def apply(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray:
        length = round(self.seconds * sample_rate)
        slack = len(waveform) - length
        if slack <= 0:
            return waveform
        start = round(self.position * slack)
        return waveform[start : start + length]


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add ``noise`` to ``speech`` scaled so that the mix has the given SNR.

    speech, noise: ``(n,)`` float arrays of the same length. The SNR is the
    ratio of mean powers over the whole of both signals (pauses in the speech
    included), ``10 * log10(P_speech / P_noise_scaled)``. Returns ``(n,)``
    float32; the mix is not clipped (clipping would change the SNR).
    """
    s = np.asarray(speech, dtype=np.float64)
    n = np.asarray(noise, dtype=np.float64)
    if s.shape != n.shape:
        raise InvalidParameterError(f"speech {s.shape} and noise {n.shape} differ in length")
    speech_power = float(np.mean(s**2)) if s.size else 0.0
    noise_power = float(np.mean(n**2)) if n.size else 0.0
    if speech_power == 0.0 or noise_power == 0.0:
        return s.astype(np.float32)
    gain = np.sqrt(speech_power / (noise_power * 10.0 ** (snr_db / 10.0)))
    return (s + gain * n).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _noise_waveform(path: Path, sample_rate: int) -> np.ndarray:
    samples = load_audio(path, sample_rate=sample_rate)
    samples.setflags(write=False)
    return samples


@dataclass(frozen=True)
class MixNoise:
    """Mix a stretch of the noise file ``noise`` into the audio at ``snr_db``.

    The stretch starts ``position`` of the way into the part of the noise file
    that can hold the whole utterance (the noise is tiled when it is shorter).
    """

    noise: Path
    snr_db: float
    position: float = 0.0

    def __post_init__(self) -> None:
        _check_position(self.position)

    def apply(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray:
        noise = _noise_waveform(Path(self.noise), sample_rate)
        if len(noise) < len(waveform):
            noise = np.tile(noise, -(-len(waveform) // max(len(noise), 1)))
        start = round(self.position * (len(noise) - len(waveform)))
        return mix_at_snr(waveform, noise[start : start + len(waveform)], self.snr_db)


@dataclass(frozen=True)
class BandLimit:
    """Telephone-like band limit: resample to ``rate`` Hz and back (same length out)."""

    rate: int = 8000

    def __post_init__(self) -> None:
        if self.rate < 1000:
            raise InvalidParameterError(
                f"band-limit rate must be at least 1000 Hz, got {self.rate}"
            )

    def apply(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray:
        return band_limited(waveform, sample_rate, self.rate)


def apply_transforms(
    waveform: np.ndarray, sample_rate: int, transforms: tuple[WaveformTransform, ...]
) -> np.ndarray:
    """Apply ``transforms`` in order to ``(n,) float32`` audio."""
    for transform in transforms:
        waveform = transform.apply(waveform, sample_rate)
    return np.ascontiguousarray(waveform, dtype=np.float32)


@dataclass(frozen=True)
class Segment:
    """Keep the audio from ``start`` to ``end`` seconds (e.g. a speaker turn of an RTTM)."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.start < self.end:
            raise InvalidParameterError(
                f"a segment needs 0 <= start < end, got {self.start} and {self.end}"
            )

    def apply(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray:
        return waveform[round(self.start * sample_rate) : round(self.end * sample_rate)]


@dataclass(frozen=True)
class Append:
    """Append the recordings ``paths``, in order, to the audio (e.g. digits said one after
    another as a PIN), each after ``gap_seconds`` of silence."""

    paths: tuple[Path, ...]
    gap_seconds: float = 0.15

    def __post_init__(self) -> None:
        if self.gap_seconds < 0:
            raise InvalidParameterError("the gap between appended recordings cannot be negative")

    def apply(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray:
        gap = np.zeros(round(self.gap_seconds * sample_rate), dtype=np.float32)
        pieces = [np.asarray(waveform, dtype=np.float32)]
        for path in self.paths:
            pieces += [gap, load_audio(path, sample_rate=sample_rate)]
        return np.concatenate(pieces)
