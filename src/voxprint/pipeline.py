"""The embedding pipeline: audio -> speech -> embedding."""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from voxprint.audio import AudioLimits, AudioSource, load_audio
from voxprint.audio.resample import band_limited
from voxprint.encoders.base import SpeakerEncoder
from voxprint.errors import InvalidParameterError, SpeechTooShortError, VoxprintError
from voxprint.quality import level_snr, speech_bandwidth
from voxprint.vad import SileroVad, SpeechSegments, VadConfig, require_speech

logger = logging.getLogger(__name__)

#: Below about a second of speech, speaker embeddings become unreliable.
DEFAULT_MIN_SPEECH_SECONDS = 1.0
#: Utterances embedded together by :meth:`EmbeddingPipeline.process_many`.
DEFAULT_BATCH_SIZE = 16
#: Chunks :meth:`EmbeddingPipeline.process_many` embeds at a time. Two calls at once use
#: both cores of a 2-core machine where one call cannot: CAM++ on onnxruntime gives a
#: call that overlaps another one thread (two threads per call scale poorly), and
#: OpenVINO runs one stream per core (docs/benchmarks.md, "One thread per call when
#: calls overlap").
DEFAULT_EMBED_WORKERS = 2

_T = TypeVar("_T")
#: A chunk's embeddings (or each source's error) and the seconds they took.
_Embedded = tuple[list[np.ndarray | VoxprintError], float]


@dataclass(frozen=True)
class PipelineConfig:
    """How audio is accepted and how much speech an embedding needs."""

    min_speech_seconds: float = DEFAULT_MIN_SPEECH_SECONDS
    limits: AudioLimits = field(default_factory=AudioLimits)
    vad: VadConfig = field(default_factory=VadConfig)
    apply_vad: bool = True
    #: The encoder sees the speech widened by this much on each side ...
    embedding_pad_seconds: float = 0.5
    #: ... with pauses shorter than this kept: the VAD only cuts long silences.
    #: Tight cuts doubled CAM++'s EER on tc100-halves, and cuts on short, noisy or
    #: band-limited speech cost more (bench/suite.py variants, docs/benchmarks.md).
    embedding_bridge_seconds: float = 2.0

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
    #: Upper edge of the speech spectrum (about 4000 Hz for 8 kHz audio); ``None`` when
    #: not measured (an embedding supplied from outside).
    bandwidth_hz: float | None = None
    #: Level SNR of the audio in dB (:func:`voxprint.quality.level_snr`); ``None`` when
    #: not measured.
    snr_db: float | None = None


class EmbeddingPipeline:
    """Decode, find the speech, embed it. Thread-safe: holds no per-call state.

    The voice detector is loaded on first use (a pipeline built for profile management
    never loads it); :meth:`warm_up` loads everything before the first call.
    """

    def __init__(
        self,
        encoder: SpeakerEncoder,
        *,
        config: PipelineConfig | None = None,
        vad: SileroVad | None = None,
    ) -> None:
        self.encoder = encoder
        self.config = config or PipelineConfig()
        self._vad = vad
        self._vad_lock = threading.Lock()

    @property
    def vad(self) -> SileroVad:
        """The voice detector (Silero VAD with :attr:`PipelineConfig.vad`, loaded now if
        it was not given)."""
        if self._vad is None:
            with self._vad_lock:
                if self._vad is None:
                    self._vad = SileroVad(self.config.vad)
        return self._vad

    def warm_up(self) -> None:
        """Load the voice detector and the encoder's engines and run each once, so that
        the first request pays no loading or compilation."""
        detector = self.vad
        detector.detect(np.zeros(self.encoder.sample_rate, dtype=np.float32))
        warm = getattr(self.encoder, "warm_up", None)
        if warm is not None:
            warm()

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
        return self.embed(self.prepare(waveform, force=force, started=started))

    def prepare(
        self,
        waveform: np.ndarray,
        *,
        force: bool = False,
        segments: SpeechSegments | None = None,
        started: float | None = None,
    ) -> PreparedSpeech:
        """Everything :meth:`process_waveform` does before the embedding: the speech of
        ``(n,) float32`` audio at the encoder's rate (found by the voice detector unless
        its ``segments`` are given), its bandwidth and SNR, for a caller that decides
        from them what to embed (:meth:`embed`, or :meth:`telephone_copy`).

        Raises ``NoSpeechError`` without speech and ``SpeechTooShortError`` under
        ``min_speech_seconds`` unless ``force``."""
        started = time.perf_counter() if started is None else started
        if segments is not None and segments.total_samples != len(waveform):
            raise InvalidParameterError(
                f"segments cover {segments.total_samples} samples, the audio {len(waveform)}"
            )
        return self._prepare(waveform, force=force, started=started, segments=segments)

    def embed(self, prepared: PreparedSpeech) -> Utterance:
        """The embedded utterance of speech from :meth:`prepare`."""
        embedding = self.encoder.embed(prepared.speech)
        return prepared.utterance(embedding, time.perf_counter() - prepared.started)

    def telephone_copy(self, waveform: np.ndarray, segments: SpeechSegments) -> Utterance:
        """``(n,) float32`` audio at the encoder's rate as a telephone would carry it
        (band-limited to 8 kHz and back: :func:`voxprint.audio.resample.band_limited`),
        embedded over the speech ``segments`` found in it as it was (band-limiting moves
        no speech in time; run again, the detector could find none in a short word: found
        in review); any amount of speech. What a wideband probe is judged as against a
        telephone enrolment (:func:`voxprint.adaptation.telephone_copy_helps`)."""
        copy = band_limited(np.asarray(waveform, dtype=np.float32), self.encoder.sample_rate)
        return self.process_segments(copy, segments, force=True)

    def process_segments(
        self,
        waveform: np.ndarray,
        segments: SpeechSegments,
        *,
        force: bool = False,
        started: float | None = None,
    ) -> Utterance:
        """Embed ``(n,) float32`` audio at the encoder's rate whose speech ``segments``
        are already known (e.g. from ``self.vad.detect(waveform)``): the same result as
        :meth:`process_waveform` without running the voice detector again.

        Raises ``NoSpeechError`` when ``segments`` hold no speech (even with ``force``)
        and ``SpeechTooShortError`` under ``min_speech_seconds`` unless ``force``.
        """
        return self.embed(self.prepare(waveform, force=force, segments=segments, started=started))

    def process_many(
        self,
        sources: Iterable[_T],
        *,
        force: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        load: Callable[[_T], np.ndarray] | None = None,
        workers: int = DEFAULT_EMBED_WORKERS,
    ) -> Iterator[Utterance | VoxprintError]:
        """Embed many sources; yields one result per source, in input order.

        A source that fails (unreadable, no speech, too short unless ``force``) yields
        its :class:`~voxprint.errors.VoxprintError` instead of stopping the run.
        Decoding and VAD run in a background thread, ahead of the embedding; the speech
        of up to ``batch_size`` sources is embedded together, ``workers`` such chunks at
        a time (``encoder.embed_batch`` when the encoder has one: CAM++ groups windows
        by length into padded batches whose rows equal single embeddings). ``load``
        turns a source into ``(n,) float32`` audio at the encoder's rate (default
        :meth:`load`, for any :data:`~voxprint.audio.AudioSource`). An unexpected
        exception (a bug, not bad input) is re-raised here. ``processing_seconds`` of
        each utterance is its own decode and VAD time plus its share (by speech length)
        of its batch's embedding.
        """
        if batch_size < 1:
            raise InvalidParameterError(f"batch_size must be at least 1, got {batch_size}")
        if workers < 1:
            raise InvalidParameterError(f"workers must be at least 1, got {workers}")
        loader: Callable[[Any], np.ndarray] = load if load is not None else self.load
        prefetch = _Prefetcher(
            sources,
            lambda source: self._load_and_prepare(loader, source, force),
            (1 + workers) * batch_size,
        )
        pending: collections.deque[tuple[list[Any], Future[_Embedded]]] = collections.deque()
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="voxprint-embed")
        try:
            chunk: list[PreparedSpeech | VoxprintError] = []
            for item in prefetch:
                chunk.append(item)
                if len(chunk) == batch_size:
                    pending.append((chunk, pool.submit(self._embed_prepared, chunk)))
                    chunk = []
                    while len(pending) >= workers:
                        done, future = pending.popleft()
                        yield from self._results(done, future.result())
            if chunk:
                pending.append((chunk, pool.submit(self._embed_prepared, chunk)))
            while pending:
                done, future = pending.popleft()
                yield from self._results(done, future.result())
        finally:
            prefetch.close()
            for _, future in pending:
                future.cancel()
            pool.shutdown(wait=True)

    def _load_and_prepare(
        self, loader: Callable[[Any], np.ndarray], source: Any, force: bool
    ) -> PreparedSpeech | VoxprintError:
        started = time.perf_counter()
        try:
            waveform = loader(source)
            return self._prepare(waveform, force=force, started=started)
        except VoxprintError as error:
            return error

    def _embed_prepared(self, chunk: Sequence[PreparedSpeech | VoxprintError]) -> _Embedded:
        """The embeddings of the chunk's prepared speech, and the seconds they took."""
        prepared = [item for item in chunk if isinstance(item, PreparedSpeech)]
        started = time.perf_counter()
        embeddings = self._embed_speeches([p.speech for p in prepared])
        return embeddings, time.perf_counter() - started

    def _results(
        self, chunk: Sequence[PreparedSpeech | VoxprintError], embedded: _Embedded
    ) -> Iterator[Utterance | VoxprintError]:
        embeddings, elapsed = embedded
        prepared = [item for item in chunk if isinstance(item, PreparedSpeech)]
        total = sum(len(p.speech) for p in prepared) or 1
        results = iter(embeddings)
        for item in chunk:
            if not isinstance(item, PreparedSpeech):
                yield item
                continue
            embedding = next(results)
            if isinstance(embedding, VoxprintError):
                yield embedding
                continue
            share = elapsed * len(item.speech) / total
            yield item.utterance(embedding, item.prepare_seconds + share)

    def _embed_speeches(self, speeches: list[np.ndarray]) -> list[np.ndarray | VoxprintError]:
        """Embed in one batch when the encoder can; on a failure, one by one so that
        only the bad speech gets the error."""
        if not speeches:
            return []
        embed_batch = getattr(self.encoder, "embed_batch", None)
        if embed_batch is not None and len(speeches) > 1:
            try:
                return list(embed_batch(speeches))
            except VoxprintError:
                logger.debug("batch embedding failed; embedding one by one")
        results: list[np.ndarray | VoxprintError] = []
        for speech in speeches:
            try:
                results.append(self.encoder.embed(speech))
            except VoxprintError as error:
                results.append(error)
        return results

    def _prepare(
        self,
        waveform: np.ndarray,
        *,
        force: bool,
        started: float,
        segments: SpeechSegments | None = None,
    ) -> PreparedSpeech:
        """VAD (unless ``segments`` are given) and the speech minimum: everything before
        the embedding."""
        rate = self.encoder.sample_rate
        if segments is not None:
            segments = require_speech(segments)
        elif self.config.apply_vad:
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
        return PreparedSpeech(
            speech=speech,
            audio_seconds=len(waveform) / rate,
            segments=segments,
            bandwidth_hz=speech_bandwidth(waveform, segments),
            snr_db=level_snr(waveform, rate),
            prepare_seconds=time.perf_counter() - started,
            started=started,
        )


@dataclass(frozen=True)
class PreparedSpeech:
    """Speech found in one source, ready to embed (:meth:`EmbeddingPipeline.prepare`):
    the ``(m,) float32`` speech to embed, its ``segments`` in the audio, the speech
    ``bandwidth_hz`` and level ``snr_db``; ``started`` is the ``perf_counter`` time the
    work on the source began."""

    speech: np.ndarray = field(repr=False)
    audio_seconds: float
    segments: SpeechSegments = field(repr=False)
    bandwidth_hz: float
    snr_db: float | None
    prepare_seconds: float
    started: float

    def utterance(self, embedding: np.ndarray, processing_seconds: float) -> Utterance:
        logger.debug(
            "embedded %.2f s of speech in %.3f s",
            self.segments.net_speech_seconds,
            processing_seconds,
        )
        return Utterance(
            embedding=embedding,
            audio_seconds=self.audio_seconds,
            net_speech_seconds=self.segments.net_speech_seconds,
            segments=self.segments,
            processing_seconds=processing_seconds,
            bandwidth_hz=self.bandwidth_hz,
            snr_db=self.snr_db,
        )


_DONE = object()


@dataclass(frozen=True)
class _Failure:
    """An unexpected exception in the prefetch thread, re-raised by the consumer."""

    error: BaseException


class _Prefetcher:
    """Maps ``work`` over ``sources`` in one background thread, at most ``depth`` ahead;
    iterating yields the results in order. :meth:`close` stops the thread early."""

    def __init__(self, sources: Iterable[Any], work: Callable[[Any], Any], depth: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(iter(sources), work), name="voxprint-prefetch", daemon=True
        )
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, sources: Iterator[Any], work: Callable[[Any], Any]) -> None:
        try:
            for source in sources:
                if not self._put(work(source)):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(_Failure(exc))
            return
        self._put(_DONE)

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
