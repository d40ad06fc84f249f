"""The part of a recording a phrase check reads: the speech, with a margin, pauses kept."""

from __future__ import annotations

import numpy as np

from voxprint.audio import resample
from voxprint.vad import SpeechSegments

#: Audio kept before the first and after the last speech, in seconds.
PHRASE_MARGIN_SECONDS = 0.3


def phrase_audio(
    waveform: np.ndarray,
    segments: SpeechSegments,
    target_rate: int,
    *,
    margin_seconds: float = PHRASE_MARGIN_SECONDS,
) -> np.ndarray:
    """From the first speech to the last (inner pauses kept), widened by
    ``margin_seconds``, at ``target_rate``. The whole waveform when no speech was found."""
    if segments.segments:
        margin = int(margin_seconds * segments.sample_rate)
        start = max(0, segments.segments[0][0] - margin)
        end = min(len(waveform), segments.segments[-1][1] + margin)
        waveform = waveform[start:end]
    samples = np.asarray(waveform, dtype=np.float32)
    if segments.sample_rate != target_rate:
        samples = resample(samples, segments.sample_rate, target_rate)
    return samples
