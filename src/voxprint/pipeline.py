"""The embedding pipeline: audio -> speech -> embedding."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from voxprint.audio import AudioLimits, AudioSource, load_audio
from voxprint.encoders.base import SpeakerEncoder
from voxprint.errors import InvalidParameterError, SpeechTooShortError
from voxprint.vad import SileroVad, SpeechSegments, VadConfig, require_speech

logger = logging.getLogger(__name__)

#: Below about a second of speech, speaker embeddings become unreliable.
DEFAULT_MIN_SPEECH_SECONDS = 1.0


@dataclass(frozen=True)
class PipelineConfig:
    """How audio is accepted and how much speech an embedding needs."""

    min_speech_seconds: float = DEFAULT_MIN_SPEECH_SECONDS
    limits: AudioLimits = field(default_factory=AudioLimits)
    vad: VadConfig = field(default_factory=VadConfig)
    apply_vad: bool = True
    #: The encoder sees the speech widened by this much on each side ...
    embedding_pad_seconds: float = 0.17
    #: ... with pauses shorter than this kept (measured on tc100-halves: tight
    #: VAD cuts doubled CAM++'s EER, see docs/benchmarks.md).
    embedding_bridge_seconds: float = 0.5

    def __post_init__(self) -> None:
        if self.min_speech_seconds < 0:
            raise InvalidParameterError("min_speech_seconds cannot be negative")


@dataclass(frozen=True)
class Utterance:
    """One embedded utterance.

    ``embedding`` is ``(dim,) float32`` L2-normalised, computed on speech only.
    """

    embedding: np.ndarray = field(repr=False)
    audio_seconds: float
    net_speech_seconds: float
    segments: SpeechSegments = field(repr=False)
    processing_seconds: float = 0.0


class EmbeddingPipeline:
    """Decode, find the speech, embed it. Thread-safe: holds no per-call state."""

    def __init__(
        self,
        encoder: SpeakerEncoder,
        *,
        config: PipelineConfig | None = None,
        vad: SileroVad | None = None,
    ) -> None:
        self.encoder = encoder
        self.config = config or PipelineConfig()
        self.vad = vad if vad is not None else SileroVad(self.config.vad)

    def load(self, source: AudioSource) -> np.ndarray:
        """Decode any supported source to ``(n,) float32`` mono at the encoder's rate."""
        return load_audio(source, sample_rate=self.encoder.sample_rate, limits=self.config.limits)

    def process(self, source: AudioSource, *, force: bool = False) -> Utterance:
        """Embed the speech in ``source``.

        Raises ``NoSpeechError`` when there is no speech, and
        ``SpeechTooShortError`` when there is less than ``min_speech_seconds``
        of it, unless ``force`` is set.
        """
        started = time.perf_counter()
        waveform = self.load(source)
        return self.process_waveform(waveform, force=force, started=started)

    def process_waveform(
        self, waveform: np.ndarray, *, force: bool = False, started: float | None = None
    ) -> Utterance:
        """Embed ``(n,) float32`` audio already at the encoder's sample rate."""
        started = time.perf_counter() if started is None else started
        rate = self.encoder.sample_rate
        if self.config.apply_vad:
            segments = require_speech(self.vad.detect(waveform))
        else:
            segments = SpeechSegments(((0, len(waveform)),), rate, len(waveform))
        net_speech = segments.net_speech_seconds
        if not force and net_speech < self.config.min_speech_seconds:
            raise SpeechTooShortError(
                f"only {net_speech:.2f} s of speech; at least "
                f"{self.config.min_speech_seconds:.2f} s is needed",
                net_speech_seconds=net_speech,
                required_seconds=self.config.min_speech_seconds,
            )
        speech = segments.widened(
            self.config.embedding_pad_seconds, self.config.embedding_bridge_seconds
        ).extract(waveform)
        embedding = self.encoder.embed(speech)
        elapsed = time.perf_counter() - started
        logger.debug("embedded %.2f s of speech in %.3f s", net_speech, elapsed)
        return Utterance(
            embedding=embedding,
            audio_seconds=len(waveform) / rate,
            net_speech_seconds=net_speech,
            segments=segments,
            processing_seconds=elapsed,
        )
