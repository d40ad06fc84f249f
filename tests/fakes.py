"""Small deterministic stand-ins for the models, for unit tests of the logic around them.

``ToneEncoder`` embeds a signal as its normalised band-energy spectrum, so
signals built from different tone sets behave like different "speakers".
``EnergyVad`` marks loud 32 ms frames as speech.
"""

from __future__ import annotations

import numpy as np

from voxprint.decision import ImpostorModel, OperatingPoint
from voxprint.scoring.calibration import ScoreCalibration
from voxprint.vad import SpeechSegments

RATE = 16000


def voice(fundamental: float, seconds: float, *, seed: int = 0, silence: float = 0.0) -> np.ndarray:
    """A harmonic 'voice' with a little noise, optionally framed by silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    signal = sum(np.sin(2 * np.pi * fundamental * k * t) / k for k in range(1, 6))
    signal = 0.2 * signal / np.max(np.abs(signal)) + 0.005 * rng.normal(size=t.size)
    pad = np.zeros(int(silence * RATE))
    return np.concatenate([pad, signal, pad]).astype(np.float32)


class ToneEncoder:
    name = "tone"
    sample_rate = RATE
    dimension = 64

    def __init__(self, version: str = "1") -> None:
        self.version = version

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        # Energy in 64 bands of 31.25 Hz below 2 kHz: harmonics of different
        # fundamentals fall in different bands.
        frames = np.resize(waveform, (max(1, int(np.ceil(len(waveform) / RATE))), RATE))
        spectrum = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).sum(axis=0)
        bands = np.sqrt(spectrum[:2048].reshape(self.dimension, -1).sum(axis=1))
        return (bands / np.linalg.norm(bands)).astype(np.float32)


class EnergyVad:
    sample_rate = RATE

    def detect(self, waveform: np.ndarray) -> SpeechSegments:
        frame = 512
        n = len(waveform) // frame
        loud = np.sqrt(np.mean(waveform[: n * frame].reshape(n, frame) ** 2, axis=1)) > 0.01
        segments: list[tuple[int, int]] = []
        for i in np.flatnonzero(loud):
            start, end = int(i) * frame, (int(i) + 1) * frame
            if segments and segments[-1][1] == start:
                segments[-1] = (segments[-1][0], end)
            else:
                segments.append((start, end))
        return SpeechSegments(tuple(segments), RATE, len(waveform))


TONE_OPERATING_POINT = OperatingPoint(
    verification_threshold=0.9,
    calibration=ScoreCalibration(slope=20.0, offset=-18.0),
    impostors=ImpostorModel(mean=0.3, std=0.1),
    source="unit-test fake",
)
