"""A stand-in for the segmentation model: loud frames are one local speaker per chunk.

With :class:`fakes.ToneEncoder`, pieces of different tone "voices" embed apart, so the
diarization engine still has to split a chunk's one local speaker by embedding.
"""

from __future__ import annotations

import numpy as np

from voxprint.diarization.segmentation import ChunkActivity, chunk_starts

RATE = 16000
CHUNK = 10 * RATE
FRAME_STEP = 270
FRAME_SAMPLES = 991
FRAMES = 589


class EnergySegmenter:
    version = "energy-fake"

    def __init__(self) -> None:
        self.calls = 0

    def segment(self, waveform, *, step_seconds=1.0, threshold=None, on_progress=None):
        self.calls += 1
        samples = np.asarray(waveform, dtype=np.float32)
        starts = chunk_starts(samples.shape[0], CHUNK, round(step_seconds * RATE))
        padded = np.zeros(int(starts[-1]) + CHUNK, dtype=np.float32)
        padded[: samples.shape[0]] = samples
        activity = np.zeros((len(starts), FRAMES, 3), dtype=np.float32)
        for c, start in enumerate(starts):
            for f in range(FRAMES):
                a = int(start) + f * FRAME_STEP
                frame = padded[a : a + FRAME_SAMPLES]
                activity[c, f, 0] = float(np.sqrt(np.mean(frame**2)) > 0.02)
            if on_progress is not None:
                on_progress(c + 1, len(starts))
        return ChunkActivity(
            activity=activity,
            chunk_starts=starts,
            chunk_samples=CHUNK,
            frame_step=FRAME_STEP,
            frame_samples=FRAME_SAMPLES,
            total_samples=samples.shape[0],
        )
