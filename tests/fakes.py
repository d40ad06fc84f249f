"""Small deterministic stand-ins for the models, for unit tests of the logic around them.

``ToneEncoder`` embeds a signal as its normalised band-energy spectrum, so
signals built from different tone sets behave like different "speakers".
``EnergyVad`` marks loud 32 ms frames as speech.
"""

from __future__ import annotations

import numpy as np

from voxprint.adaptation import Band, ImpostorPrior
from voxprint.operating_points import ScoringPrior
from voxprint.scoring.llr import TargetScores
from voxprint.store.base import ProfileStore
from voxprint.store.records import ScoreScale, StoredCalibration
from voxprint.thresholds import Thresholds
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


#: How ``ToneEncoder`` scores behave: different tone sets sit near 0.3, one tone set near 1.
_TONE_IMPOSTORS = ImpostorPrior(
    mean=0.3, domain_std=0.05, std=0.1, pair_std=0.1, mean_floor=0.2, std_floor=0.08
)
TONE_PRIOR = ScoringPrior(
    impostors={Band.WIDE: _TONE_IMPOSTORS, Band.NARROW: _TONE_IMPOSTORS},
    targets=TargetScores(ceiling=0.99, std_floor=0.03, std_short=0.0),
    shrink_seconds=0.01,
    source="unit-test fake",
)
TONE_OPERATING_POINT = TONE_PRIOR.operating_point()


def tone_thresholds(store: ProfileStore, version: str = "1") -> Thresholds:
    """The operating-point source of a service on ``ToneEncoder(version)``."""
    return Thresholds(
        store=store,
        encoder_name=ToneEncoder.name,
        encoder_version=version,
        prior=TONE_PRIOR,
        fallback=TONE_OPERATING_POINT,
    )


def tone_calibration(
    scale: ScoreScale = ScoreScale.COSINE,
    threshold: float = 0.5,
    *,
    slope: float = 20.0,
    offset: float = -10.0,
) -> StoredCalibration:
    """A calibration of ``ToneEncoder`` version 1 as ``voxprint calibrate`` stores one."""
    from datetime import UTC, datetime

    return StoredCalibration(
        encoder_name="tone",
        encoder_version="1",
        scale=scale,
        slope=slope,
        offset=offset,
        threshold=threshold,
        target_far=0.01,
        achieved_far=0.009,
        achieved_frr=0.02,
        impostor_mean=0.1,
        impostor_std=0.1,
        target_trials=50,
        nontarget_trials=1000,
        created_at=datetime.now(UTC),
        source="trials.txt",
    )
