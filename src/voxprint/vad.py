"""Voice activity detection with Silero VAD's ONNX model, run by onnxruntime.

The model scores 32 ms windows (512 samples at 16 kHz, each preceded by the
previous window's last 64 samples as context) with a recurrent network, giving
one speech probability per window. Windows are turned into speech segments by
hysteresis (start at ``threshold``, end ``0.15`` below it after
``min_silence_ms``), dropping segments shorter than ``min_speech_ms`` and
padding each by ``speech_pad_ms``.

By default the "sequence" export bundled with ``silero-vad`` is used: it runs
a whole block of windows per ONNX call with bit-identical probabilities to the
stock streaming model, about twice as fast and without a Python loop per
window. The stock streaming export (``silero_vad.onnx``) is accepted too.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voxprint.errors import (
    InvalidParameterError,
    ModelError,
    NonFiniteAudioError,
    NoSpeechError,
    WeightsNotFoundError,
)

logger = logging.getLogger(__name__)

#: Model files looked up in the ``silero_vad`` package's ``data`` folder, best first.
BUNDLED_MODELS = ("silero_vad_16k_sequence.onnx", "silero_vad.onnx")

_WINDOW = 512  # samples per scored window at 16 kHz
_CONTEXT = 64  # samples of the previous window fed in front of each window
_BLOCK_WINDOWS = 512  # windows per ONNX call for the sequence model (~16 s)
_STATE_SIZE = 128
_NEG_THRESHOLD_GAP = 0.15


@dataclass(frozen=True)
class VadConfig:
    """How speech probabilities become segments."""

    threshold: float = 0.5
    min_speech_ms: int = 250
    min_silence_ms: int = 100
    speech_pad_ms: int = 30

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise InvalidParameterError(f"VAD threshold must be in (0, 1), got {self.threshold}")
        for name in ("min_speech_ms", "min_silence_ms", "speech_pad_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidParameterError(f"{name} must be a non-negative int, got {value!r}")


@dataclass(frozen=True)
class SpeechSegments:
    """Where the speech is in a waveform.

    ``segments`` holds ``[start, end)`` sample indices, sorted and
    non-overlapping, within ``[0, total_samples]``.
    """

    segments: tuple[tuple[int, int], ...]
    sample_rate: int
    total_samples: int

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise InvalidParameterError(f"sample_rate must be positive, got {self.sample_rate}")
        if self.total_samples < 0:
            raise InvalidParameterError(f"total_samples cannot be negative: {self.total_samples}")
        previous_end = 0
        for start, end in self.segments:
            if not previous_end <= start <= end <= self.total_samples:
                raise InvalidParameterError(
                    f"speech segments must be sorted, non-overlapping and within "
                    f"[0, {self.total_samples}]: got {self.segments}"
                )
            previous_end = end

    @property
    def net_speech_seconds(self) -> float:
        """Total length of the segments in seconds."""
        return sum(end - start for start, end in self.segments) / self.sample_rate

    @property
    def duration_seconds(self) -> float:
        """Length of the whole analysed waveform in seconds."""
        return self.total_samples / self.sample_rate

    def widened(self, pad_seconds: float, bridge_seconds: float) -> SpeechSegments:
        """Segments grown by ``pad_seconds`` on each side, with gaps shorter than
        ``bridge_seconds`` filled in (clipped to the waveform).

        Speaker encoders do better on speech with its natural edges and short
        pauses kept than on tightly cut speech; net speech is still measured on
        the tight segments.
        """
        if pad_seconds < 0 or bridge_seconds < 0:
            raise InvalidParameterError("pad and bridge lengths cannot be negative")
        pad = round(pad_seconds * self.sample_rate)
        bridge = round(bridge_seconds * self.sample_rate)
        merged: list[tuple[int, int]] = []
        for start, end in self.segments:
            start, end = max(0, start - pad), min(self.total_samples, end + pad)
            if merged and start - merged[-1][1] < bridge:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return SpeechSegments(tuple(merged), self.sample_rate, self.total_samples)

    def extract(self, waveform: np.ndarray) -> np.ndarray:
        """Concatenate the speech of ``waveform`` (``(total_samples,)``) into ``(m,) float32``."""
        if waveform.ndim != 1 or waveform.shape[0] != self.total_samples:
            raise InvalidParameterError(
                f"waveform of shape {waveform.shape} does not match the "
                f"{self.total_samples} samples these segments describe"
            )
        if not self.segments:
            return np.zeros(0, dtype=np.float32)
        pieces = [waveform[start:end] for start, end in self.segments]
        return np.concatenate(pieces).astype(np.float32, copy=False)


def require_speech(segments: SpeechSegments) -> SpeechSegments:
    """Return ``segments`` unchanged, or raise ``NoSpeechError`` when there are none."""
    if not segments.segments:
        raise NoSpeechError(f"no speech detected in {segments.duration_seconds:.1f} s of audio")
    return segments


class SileroVad:
    """Silero VAD on 16 kHz mono audio.

    The ONNX session is loaded once; :meth:`detect` keeps its recurrent state
    per call, so one instance can serve several threads at once.
    """

    sample_rate: int = 16000

    def __init__(self, config: VadConfig = VadConfig(), model_path: Path | None = None) -> None:
        self.config = config
        self.model_path = Path(model_path) if model_path is not None else _bundled_model()
        if not self.model_path.is_file():
            raise WeightsNotFoundError(
                f"Silero VAD model not found at {self.model_path}; "
                "install it with `pip install silero-vad`"
            )
        self._session = _open_session(self.model_path)
        inputs = {node.name for node in self._session.get_inputs()}
        if {"input", "h", "c"} <= inputs:
            self._sequence = True
        elif {"input", "state", "sr"} <= inputs:
            self._sequence = False
        else:
            raise ModelError(
                f"{self.model_path} is not a Silero VAD model (inputs: {sorted(inputs)})"
            )
        logger.debug("loaded Silero VAD from %s (sequence=%s)", self.model_path, self._sequence)

    def probabilities(self, waveform: np.ndarray) -> np.ndarray:
        """Speech probability of each 512-sample window: ``(ceil(n / 512),) float32``.

        ``waveform`` is ``(n,)`` float at 16 kHz; the last window is zero-padded.
        """
        samples = level_for_detection(_as_waveform(waveform))
        windows = _windows_with_context(samples)
        if windows.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        if self._sequence:
            return self._run_sequence(windows)
        return self._run_streaming(windows)

    def detect(self, waveform: np.ndarray) -> SpeechSegments:
        """Find the speech in ``waveform`` (``(n,) float32`` at 16 kHz).

        Silence, noise and empty input give empty segments; this never raises
        for lack of speech (see :func:`require_speech`).
        """
        samples = _as_waveform(waveform)
        probabilities = self.probabilities(samples)
        spans = speech_spans(probabilities, samples.shape[0], self.config, self.sample_rate)
        return SpeechSegments(spans, self.sample_rate, samples.shape[0])

    def _run_sequence(self, windows: np.ndarray) -> np.ndarray:
        hidden = np.zeros((1, 1, _STATE_SIZE), dtype=np.float32)
        cell = np.zeros((1, 1, _STATE_SIZE), dtype=np.float32)
        out: list[np.ndarray] = []
        for first in range(0, windows.shape[0], _BLOCK_WINDOWS):
            block = windows[first : first + _BLOCK_WINDOWS]
            probs, hidden, cell = self._session.run(
                ["speech_probs", "hn", "cn"], {"input": block, "h": hidden, "c": cell}
            )
            out.append(np.asarray(probs, dtype=np.float32).reshape(-1))
        return np.concatenate(out)

    def _run_streaming(self, windows: np.ndarray) -> np.ndarray:
        state = np.zeros((2, 1, _STATE_SIZE), dtype=np.float32)
        rate = np.array(self.sample_rate, dtype=np.int64)
        out = np.empty(windows.shape[0], dtype=np.float32)
        for index in range(windows.shape[0]):
            probs, state = self._session.run(
                None, {"input": windows[index : index + 1], "state": state, "sr": rate}
            )
            out[index] = float(np.asarray(probs).reshape(-1)[0])
        return out


#: The level quiet audio is raised to before detection: the 99.9th percentile of the
#: absolute amplitude (a click does not set it), and the most it is raised (40 dB). Raising
#: every recording to 0.5 changed the segments of ordinary ones too (decisions across
#: domains better on FSDD, worse on PIN strings and 0 dB noise: docs/benchmarks.md); at
#: 0.1 only quiet recordings are raised.
DETECTION_LEVEL = 0.1
MAX_DETECTION_GAIN = 100.0


def level_for_detection(samples: np.ndarray) -> np.ndarray:
    """``samples`` raised to :data:`DETECTION_LEVEL` when quieter (never lowered), for
    the detector only: Silero's probabilities fall with the level, so a quiet telephone
    line's words read as no speech (found in a walkthrough: FSDD digits at a tenth of
    their level, 61 % without speech against 27 % raised; noise raised stays noise).
    The embedding's features are level-normalised already."""
    if samples.size == 0:
        return samples
    level = float(np.percentile(np.abs(samples), 99.9))
    if level <= 0.0 or level >= DETECTION_LEVEL:
        return samples
    gain = min(DETECTION_LEVEL / level, MAX_DETECTION_GAIN)
    return (samples * np.float32(gain)).astype(np.float32, copy=False)


def speech_spans(
    probabilities: np.ndarray, total_samples: int, config: VadConfig, sample_rate: int = 16000
) -> tuple[tuple[int, int], ...]:
    """Turn per-window probabilities (``(w,) float32``) into padded ``[start, end)`` spans."""
    threshold = config.threshold
    neg_threshold = max(threshold - _NEG_THRESHOLD_GAP, 0.01)
    min_speech = sample_rate * config.min_speech_ms // 1000
    min_silence = sample_rate * config.min_silence_ms // 1000
    pad = sample_rate * config.speech_pad_ms // 1000

    raw: list[list[int]] = []
    start: int | None = None
    silence_start: int | None = None  # where a possible end of the current segment began
    for index, probability in enumerate(probabilities.tolist()):
        position = index * _WINDOW
        if probability >= threshold:
            silence_start = None
            if start is None:
                start = position
            continue
        if start is None or probability >= neg_threshold:
            continue
        if silence_start is None:
            silence_start = position
        if position - silence_start >= min_silence:
            if silence_start - start > min_speech:
                raw.append([start, silence_start])
            start = silence_start = None
    if start is not None and total_samples - start > min_speech:
        raw.append([start, total_samples])

    # Pad every segment; where two are closer than two pads, split the gap between them.
    for index, segment in enumerate(raw):
        if index == 0:
            segment[0] = max(0, segment[0] - pad)
        if index + 1 < len(raw):
            following = raw[index + 1]
            gap = following[0] - segment[1]
            if gap < 2 * pad:
                segment[1] += gap // 2
                following[0] = max(0, following[0] - gap // 2)
            else:
                segment[1] = min(total_samples, segment[1] + pad)
                following[0] = max(0, following[0] - pad)
        else:
            segment[1] = min(total_samples, segment[1] + pad)
    return tuple((begin, end) for begin, end in raw)


def _as_waveform(waveform: np.ndarray) -> np.ndarray:
    samples = np.asarray(waveform)
    if samples.ndim != 1:
        raise InvalidParameterError(
            f"VAD expects a (n,) mono waveform at 16 kHz, got shape {samples.shape}"
        )
    if samples.dtype.kind != "f":
        raise InvalidParameterError(f"VAD expects float samples, got dtype {samples.dtype}")
    samples = samples.astype(np.float32, copy=False)
    if not np.isfinite(samples).all():
        raise NonFiniteAudioError("waveform contains NaN or infinite samples")
    return samples


def _windows_with_context(samples: np.ndarray) -> np.ndarray:
    """``(w, 576) float32``: each 512-sample window led by the previous one's last 64 samples."""
    count = -(-samples.shape[0] // _WINDOW)
    padded = np.zeros(count * _WINDOW, dtype=np.float32)
    padded[: samples.shape[0]] = samples
    body = padded.reshape(count, _WINDOW)
    windows = np.empty((count, _CONTEXT + _WINDOW), dtype=np.float32)
    windows[:, _CONTEXT:] = body
    if count:
        windows[0, :_CONTEXT] = 0.0
        windows[1:, :_CONTEXT] = body[:-1, -_CONTEXT:]
    return windows


def _bundled_model() -> Path:
    spec = importlib.util.find_spec("silero_vad")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise WeightsNotFoundError(
            "the Silero VAD model is not installed; install it with `pip install silero-vad`"
        )
    data = Path(locations[0]) / "data"
    for name in BUNDLED_MODELS:
        if (data / name).is_file():
            return data / name
    raise WeightsNotFoundError(
        f"no Silero VAD ONNX model in {data}; reinstall it with `pip install silero-vad`"
    )


def _open_session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the sequence export trips harmless initializer warnings
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise ModelError(f"could not load the Silero VAD model {path}: {exc}") from exc
