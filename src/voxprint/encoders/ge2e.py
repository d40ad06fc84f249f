"""GE2E speaker encoder: the pretrained LSTM of Resemblyzer (Wan et al., 2018).

The utterance is cut into 1.6 s partial windows (160 mel frames) at 1.3 windows per
second; each partial is embedded, and the utterance embedding is the L2-normalised
mean — as Resemblyzer's ``VoiceEncoder.embed_utterance`` does. Resemblyzer's own
webrtcvad silence trimming is not applied: voxprint gives encoders speech only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from voxprint.encoders.campplus import validate_waveform
from voxprint.encoders.weights import (
    GE2E_WEIGHTS,
    check_weights_file,
    find_weights,
    load_state_strictly,
    load_torch_file,
    torch_threads,
    weights_digest,
)
from voxprint.errors import InvalidParameterError, ModelError, NoSpeechError
from voxprint.features import GE2E_HOP_LENGTH, GE2E_MEL_BANDS, GE2E_SAMPLE_RATE, ge2e_mel

logger = logging.getLogger(__name__)

EMBEDDING_DIMENSION = 256
HIDDEN_SIZE = 256
NUM_LAYERS = 3
PARTIAL_FRAMES = 160
TARGET_DBFS = -30.0
MIN_SPEECH_SECONDS = 0.1
_INT16_MAX = 2**15 - 1
# Keys of the checkpoint's model_state that belong to the training loss, not the encoder.
_LOSS_KEYS = frozenset({"similarity_weight", "similarity_bias"})
# Partials pushed through the LSTM at once (bounds memory on very long inputs).
_PARTIAL_BATCH = 256


@dataclass(frozen=True)
class PartialConfig:
    """How an utterance is split into partial windows.

    ``rate``: partial windows per second. ``min_coverage``: the fraction of the last
    window that must hold real audio for it to be kept (the first is always kept).
    """

    rate: float = 1.3
    min_coverage: float = 0.75

    def __post_init__(self) -> None:
        if not 0.0 < self.min_coverage <= 1.0:
            raise InvalidParameterError(f"min_coverage must be in (0, 1], got {self.min_coverage}")
        step = round(GE2E_SAMPLE_RATE / self.rate / GE2E_HOP_LENGTH) if self.rate > 0 else 0
        if not 0 < step <= PARTIAL_FRAMES:
            raise InvalidParameterError(
                f"rate {self.rate} gives a step of {step} frames; it must be 1..{PARTIAL_FRAMES}"
            )

    @property
    def frame_step(self) -> int:
        return round(GE2E_SAMPLE_RATE / self.rate / GE2E_HOP_LENGTH)


def partial_frame_ranges(num_samples: int, config: PartialConfig | None = None) -> list[range]:
    """Mel-frame ranges of the partial windows for a waveform of ``num_samples``.

    Every range spans :data:`PARTIAL_FRAMES` frames; consecutive ones start
    ``config.frame_step`` frames apart. The ranges may reach past the audio: the
    caller zero-pads the waveform to ``ranges[-1].stop * 160`` samples. A last window
    covering less than ``min_coverage`` real audio is dropped unless it is the only one.
    """
    cfg = config if config is not None else PartialConfig()
    hop = GE2E_HOP_LENGTH
    total_frames = math.ceil((num_samples + 1) / hop)
    step = cfg.frame_step
    span = max(1, total_frames - PARTIAL_FRAMES + step + 1)
    ranges = [range(start, start + PARTIAL_FRAMES) for start in range(0, span, step)]
    last = ranges[-1]
    coverage = (num_samples - last.start * hop) / (PARTIAL_FRAMES * hop)
    if coverage < cfg.min_coverage and len(ranges) > 1:
        ranges.pop()
    return ranges


def normalise_volume(waveform: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Raise the level of ``waveform`` to ``target_dbfs`` (RMS, int16 full scale); never lower it.

    waveform: ``(n,) float32``. Returns ``(n,) float32`` (silence is returned unchanged).
    """
    rms = float(np.sqrt(np.mean(np.square(waveform, dtype=np.float64)))) * _INT16_MAX
    if rms == 0.0:
        return waveform
    change_db = target_dbfs - 20.0 * math.log10(rms / _INT16_MAX)
    if change_db <= 0.0:
        return waveform
    return (waveform * 10.0 ** (change_db / 20.0)).astype(np.float32)


class Ge2eNet(nn.Module):
    """3-layer LSTM (40 → 256) and a ReLU projection (256 → 256).

    ``forward``: mel power frames ``(batch, frames, 40) float32`` →
    L2-normalised embeddings ``(batch, 256)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(GE2E_MEL_BANDS, HIDDEN_SIZE, NUM_LAYERS, batch_first=True)
        self.linear = nn.Linear(HIDDEN_SIZE, EMBEDDING_DIMENSION)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        raw = torch.relu(self.linear(hidden[-1]))
        return raw / raw.norm(dim=1, keepdim=True).clamp_min(1e-12)


class Ge2eEncoder:
    """Resemblyzer's GE2E speaker embeddings, 256-dimensional, from 16 kHz speech."""

    def __init__(
        self,
        weights_path: Path | None = None,
        *,
        partials: PartialConfig | None = None,
        num_threads: int | None = None,
    ) -> None:
        if num_threads is not None and num_threads < 1:
            raise InvalidParameterError(f"num_threads must be at least 1, got {num_threads}")
        if weights_path is None:
            path = find_weights(GE2E_WEIGHTS)
        else:
            path = check_weights_file(Path(weights_path), GE2E_WEIGHTS.install_hint)
        self._weights_path = path
        self._partials = partials if partials is not None else PartialConfig()
        self._num_threads = num_threads
        self._version = f"resemblyzer-ge2e-{weights_digest(path)}"

        checkpoint = load_torch_file(path)
        if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model_state"), dict):
            raise ModelError(f"{path} is not a Resemblyzer checkpoint (no model_state)")
        state = {k: v for k, v in checkpoint["model_state"].items() if k not in _LOSS_KEYS}
        network = Ge2eNet()
        load_state_strictly(network, state, path, "GE2E")
        self._network = network
        logger.debug("loaded GE2E weights from %s (%s)", path, self._version)

    @property
    def name(self) -> str:
        return "ge2e"

    @property
    def version(self) -> str:
        return self._version

    @property
    def sample_rate(self) -> int:
        return GE2E_SAMPLE_RATE

    @property
    def dimension(self) -> int:
        return EMBEDDING_DIMENSION

    @property
    def weights_path(self) -> Path:
        return self._weights_path

    def partial_embeddings(self, waveform: np.ndarray) -> np.ndarray:
        """Embeddings of each partial window: ``(partials, 256) float32``, rows L2-normalised.

        waveform: ``(n,) float32`` mono 16 kHz speech, at least 0.1 s.
        """
        samples = normalise_volume(
            validate_waveform(waveform, MIN_SPEECH_SECONDS, GE2E_SAMPLE_RATE)
        )
        ranges = partial_frame_ranges(samples.shape[0], self._partials)
        needed = ranges[-1].stop * GE2E_HOP_LENGTH
        if needed >= samples.shape[0]:
            samples = np.pad(samples, (0, needed - samples.shape[0]))
        mel = ge2e_mel(samples)
        starts = np.array([r.start for r in ranges])
        # (partials, 160, 40) gathered without a Python loop over frames.
        mels = mel[starts[:, None] + np.arange(PARTIAL_FRAMES)[None, :]]
        pieces: list[np.ndarray] = []
        with torch_threads(self._num_threads), torch.inference_mode():
            for first in range(0, mels.shape[0], _PARTIAL_BATCH):
                batch = torch.from_numpy(np.ascontiguousarray(mels[first : first + _PARTIAL_BATCH]))
                pieces.append(self._network(batch).numpy())
        return np.concatenate(pieces, axis=0).astype(np.float32)

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        """Embed speech.

        waveform: ``(n,) float32`` mono 16 kHz speech in [-1, 1], at least 0.1 s.
        Returns ``(256,) float32``, L2-normalised.
        """
        partials = self.partial_embeddings(waveform)
        mean = partials.astype(np.float64).mean(axis=0)
        norm = float(np.linalg.norm(mean))
        if norm == 0.0:
            raise NoSpeechError("GE2E found no speaker information in the audio (silent input?)")
        return (mean / norm).astype(np.float32)

    def embed_batch(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        """Embed several utterances: ``n`` waveforms → ``(n, 256) float32`` rows, L2-normalised."""
        if len(waveforms) == 0:
            return np.zeros((0, EMBEDDING_DIMENSION), dtype=np.float32)
        return np.stack([self.embed(waveform) for waveform in waveforms])
