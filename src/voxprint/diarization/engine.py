"""Who spoke when (anonymous): segmentation → local-speaker embeddings → clustering →
reconstruction of global speaker turns.

1. :class:`~voxprint.diarization.segmentation.Segmenter` gives up to three local
   speakers per 10 s chunk, every ``step_seconds``, with overlap.
2. With a voice detector, chunk frames outside its speech (widened by
   ``speech_pad_seconds``, short gaps bridged) are silenced, so they are neither
   embedded nor given to a speaker: the segmentation alone hears speech in some long
   stretches of room noise.
3. Each local speaker of each chunk is embedded (CAM++) on the speech where it talks
   alone, or all its speech when it is never alone for long enough.
4. The embeddings of local speakers with enough speech are clustered (agglomerative,
   average linkage, the number of speakers estimated from a distance threshold, or
   fixed by :class:`~voxprint.diarization.clustering.SpeakerCount`; spectral
   clustering as an option).
5. Every chunk's local speakers are assigned to the clusters (distinct clusters within
   a chunk), chunks are overlap-added frame by frame, and at each frame the
   ``count`` most active clusters speak, where ``count`` is the (averaged) number of
   local speakers the segmentation heard there.
6. Resegmentation: where one speaker is heard, the speech around every
   ``resegment_hop_seconds`` (a window of ``resegment_window_seconds``) is embedded and
   each frame goes to the cluster nearest to its window. The 10 s chunks often hear one
   local speaker through a quick exchange of two voices, and the 3 s pieces of step 3
   cannot split it finer.
7. Per speaker, runs of frames become turns; gaps shorter than ``min_gap_seconds``
   are bridged and turns shorter than ``min_turn_seconds`` dropped.

The result keeps, for every speaker, the speech where that speaker talks alone (as
sample spans), which :mod:`voxprint.diarization.naming` embeds to put names on them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from voxprint.diarization.clustering import (
    CLUSTERINGS,
    MAX_CLUSTERED,
    SpeakerCount,
    assign_chunk,
    centroids_of,
    cluster_embeddings,
    normalize_rows,
    spectral_cluster,
)
from voxprint.diarization.segmentation import ChunkActivity, Progress
from voxprint.encoders.base import SpeakerEncoder
from voxprint.errors import InvalidParameterError
from voxprint.vad import SpeechSegments

logger = logging.getLogger(__name__)

#: Called with (stage, done, total); stages are "segmentation", "embeddings" and
#: "resegmentation".
StageProgress = Callable[[str, int, int], None]

#: CAM++ refuses less than 0.1 s; a local speaker with less speech than this is dropped.
_MIN_EMBEDDABLE_SECONDS = 0.25
#: A resegmentation window with less speech than this is not embedded (its frames keep
#: the speaker the chunks gave them, or take a neighbouring window's).
_MIN_WINDOW_SPEECH_SECONDS = 0.5


class ChunkSegmenter(Protocol):
    """Local speaker activity per chunk (:class:`~voxprint.diarization.segmentation.
    Segmenter`, or a fake in tests)."""

    def segment(
        self,
        waveform: np.ndarray,
        *,
        step_seconds: float = ...,
        threshold: float | None = ...,
        on_progress: Progress | None = ...,
    ) -> ChunkActivity: ...


class SpeechDetector(Protocol):
    """Where the speech is (:class:`~voxprint.vad.SileroVad`, or a fake in tests)."""

    def detect(self, waveform: np.ndarray) -> SpeechSegments: ...


@dataclass(frozen=True)
class DiarizationConfig:
    """How audio becomes speaker turns (defaults tuned on the AMI ``debug.train`` clips;
    see docs/benchmarks.md)."""

    #: Seconds between the starts of consecutive 10 s segmentation chunks.
    step_seconds: float = 2.0
    #: Powerset decoding: ``None`` takes the most likely class; a probability makes each
    #: local speaker active where its probability reaches it (lower: more speech found).
    activity_threshold: float | None = None
    #: Frames speak when the averaged count of local speakers heard there reaches this
    #: fraction (0.5 rounds it; lower keeps speech heard by fewer of the chunks).
    count_rounding: float = 0.5
    #: Each local speaker's speech in a chunk is embedded in pieces of about this many
    #: seconds (``None``: one embedding per local speaker and chunk), so that a local
    #: speaker the segmentation merged from two voices can still be split.
    piece_seconds: float | None = 3.0
    #: A piece is embedded from its solo speech when it has this much of it.
    min_solo_seconds: float = 1.0
    #: Local speakers with at least this much speech in a chunk shape the clusters.
    min_cluster_seconds: float = 1.0
    #: "agglomerative" (``linkage``, ``cluster_threshold``) or "spectral" (the eigengap
    #: of the pruned cosine affinity: ``spectral_*``; it lost to agglomerative on the AMI
    #: ``debug.train`` clips, see docs/benchmarks.md).
    clustering: str = "agglomerative"
    #: How clusters are merged: "average" (cosine distance) or "centroid" (Euclidean).
    linkage: str = "average"
    #: Linkage distance at which clusters stop merging.
    cluster_threshold: float = 0.65
    #: Spectral clustering: each piece's affinity keeps this fraction of its most similar
    #: pieces (at least 6).
    spectral_neighbour_fraction: float = 0.25
    #: Spectral clustering: clusters whose centroids are at least this similar merge.
    spectral_merge_cosine: float | None = 0.6
    #: Clusters with fewer members are folded into the nearest larger one.
    min_cluster_size: int = 2
    #: Overlap-add weights chunk frames with a Hamming window (chunk edges count less).
    hamming: bool = True
    #: With a voice detector, speaker activity is kept only within its speech widened by
    #: this many seconds on each side (``None``: the segmentation alone decides).
    speech_pad_seconds: float | None = 1.0
    #: ... and with gaps shorter than this between the widened segments filled in (so
    #: gaps in the detected speech shorter than this plus twice the pad: 4 s by default).
    speech_bridge_seconds: float = 2.0
    #: Resegmentation (step 6): the speech within this window around each frame decides
    #: its speaker where one speaker is heard (``None``: off, the chunks' pieces decide).
    resegment_window_seconds: float | None = 1.5
    #: ... with a window embedded every this many seconds of the recording.
    resegment_hop_seconds: float = 0.5
    #: ... and a frame moving only to a cluster at least this much closer (cosine).
    resegment_margin: float = 0.0
    #: Gaps within one speaker's speech shorter than this are bridged.
    min_gap_seconds: float = 0.1
    #: Turns shorter than this are dropped.
    min_turn_seconds: float = 0.0
    #: Embeddings computed per call to the encoder.
    embed_batch_size: int = 32

    def __post_init__(self) -> None:
        if not 0.0 < self.step_seconds <= 10.0:
            raise InvalidParameterError(f"step_seconds must be in (0, 10], got {self.step_seconds}")
        if self.clustering not in CLUSTERINGS:
            raise InvalidParameterError(
                f"unknown clustering {self.clustering!r}; expected one of {CLUSTERINGS}"
            )
        if not 0.0 < self.spectral_neighbour_fraction <= 1.0:
            raise InvalidParameterError("spectral_neighbour_fraction must be in (0, 1]")
        if self.cluster_threshold <= 0.0:
            raise InvalidParameterError("cluster_threshold must be positive")
        if self.min_cluster_size < 1 or self.embed_batch_size < 1:
            raise InvalidParameterError("min_cluster_size and embed_batch_size must be >= 1")
        if self.speech_pad_seconds is not None and not self.speech_pad_seconds >= 0:
            raise InvalidParameterError("speech_pad_seconds cannot be negative")
        if self.resegment_window_seconds is not None and not self.resegment_window_seconds > 0:
            raise InvalidParameterError("resegment_window_seconds must be positive")
        if not self.resegment_hop_seconds > 0:
            raise InvalidParameterError("resegment_hop_seconds must be positive")
        for name in (
            "resegment_margin",
            "min_solo_seconds",
            "min_cluster_seconds",
            "speech_bridge_seconds",
            "min_gap_seconds",
            "min_turn_seconds",
        ):
            if not getattr(self, name) >= 0:
                raise InvalidParameterError(f"{name} cannot be negative")


@dataclass(frozen=True)
class SpeakerTrack:
    """One global speaker: its turns ``[(start, end)]`` in seconds, sorted, and the sample
    spans ``[(start, end)]`` where it speaks alone (for embedding it)."""

    index: int
    turns: tuple[tuple[float, float], ...]
    solo_spans: tuple[tuple[int, int], ...] = field(repr=False)

    @property
    def talk_seconds(self) -> float:
        return float(sum(end - start for start, end in self.turns))

    @property
    def first_start(self) -> float:
        return self.turns[0][0] if self.turns else float("inf")


@dataclass(frozen=True)
class AnonymousDiarization:
    """Speaker tracks of one recording, in order of first speech; ``frame_activity`` is the
    ``(frames, speakers) bool`` decision on the frame grid (``frame_step`` samples)."""

    tracks: tuple[SpeakerTrack, ...]
    total_samples: int
    sample_rate: int
    frame_step: int
    frame_activity: np.ndarray = field(repr=False)
    chunks: int = 0
    embeddings: int = 0

    @property
    def duration_seconds(self) -> float:
        return self.total_samples / self.sample_rate


class Diarizer:
    """Anonymous diarization with a segmenter, a speaker encoder and, optionally, a voice
    detector that bounds where anyone speaks; thread-safe."""

    def __init__(
        self,
        segmenter: ChunkSegmenter,
        encoder: SpeakerEncoder,
        config: DiarizationConfig | None = None,
        *,
        speech: SpeechDetector | None = None,
    ) -> None:
        if encoder.sample_rate != 16000:
            raise InvalidParameterError("diarization needs a 16 kHz speaker encoder")
        self.segmenter = segmenter
        self.encoder = encoder
        self.config = config or DiarizationConfig()
        self.speech = speech

    def diarize(
        self,
        waveform: np.ndarray,
        *,
        count: SpeakerCount | None = None,
        on_progress: StageProgress | None = None,
    ) -> AnonymousDiarization:
        """Who spoke when in ``(n,) float32`` 16 kHz audio (speakers unnamed)."""
        config = self.config
        count = count or SpeakerCount()
        samples = np.ascontiguousarray(waveform, dtype=np.float32)

        def segmentation_progress(done: int, total: int) -> None:
            if on_progress is not None:
                on_progress("segmentation", done, total)

        chunks = self.segmenter.segment(
            samples,
            step_seconds=config.step_seconds,
            threshold=config.activity_threshold,
            on_progress=segmentation_progress,
        )
        chunks = self._gate(samples, chunks)
        pieces, speeches, seconds = self._local_speech(samples, chunks)
        embeddings = self._embed(speeches, on_progress)
        _labels, centroids = self._cluster(embeddings, seconds, count)
        assignment = self._assign(pieces, embeddings, centroids)
        activity = self._reconstruct(chunks, pieces, assignment, centroids.shape[0])
        activity = self._resegment(samples, chunks, activity, centroids, count, on_progress)
        tracks = self._tracks(activity, chunks)
        logger.debug(
            "diarized %.1f s: %d chunks, %d local speakers embedded, %d speakers",
            samples.shape[0] / chunks.sample_rate,
            chunks.chunks,
            len(pieces),
            len(tracks),
        )
        return AnonymousDiarization(
            tracks=tracks,
            total_samples=samples.shape[0],
            sample_rate=chunks.sample_rate,
            frame_step=chunks.frame_step,
            frame_activity=activity[:, [t.index for t in tracks]] if tracks else activity[:, :0],
            chunks=chunks.chunks,
            embeddings=len(pieces),
        )

    # --- steps ---------------------------------------------------------------

    def _frame_spans(self, chunks: ChunkActivity) -> tuple[np.ndarray, np.ndarray]:
        """Sample span each chunk frame stands for, relative to the chunk start: frames
        tile the chunk, each centred on its receptive field."""
        frames = chunks.frames_per_chunk
        offset = (chunks.frame_samples - chunks.frame_step) // 2
        starts = np.arange(frames) * chunks.frame_step + offset
        ends = starts + chunks.frame_step
        starts[0] = 0
        ends[-1] = chunks.chunk_samples
        return starts, ends

    def _local_speech(
        self, samples: np.ndarray, chunks: ChunkActivity
    ) -> tuple[list[_Piece], list[np.ndarray], np.ndarray]:
        """The pieces of local speech worth embedding, their waveforms, and the seconds of
        speech behind each.

        Each local speaker's active frames in a chunk are cut, in time order, into pieces
        of about ``piece_seconds`` of speech (the last short remainder joins the piece
        before it). A piece is embedded on its solo frames when it has at least
        ``min_solo_seconds`` of them, else on all its frames.
        """
        starts, ends = self._frame_spans(chunks)
        rate = chunks.sample_rate
        frame_seconds = chunks.frame_step / rate
        piece_frames = (
            chunks.frames_per_chunk
            if self.config.piece_seconds is None
            else max(1, round(self.config.piece_seconds / frame_seconds))
        )
        pieces: list[_Piece] = []
        speeches: list[np.ndarray] = []
        seconds: list[float] = []
        for c in range(chunks.chunks):
            activity = chunks.activity[c] > 0.5
            solo = activity & (activity.sum(axis=1, keepdims=True) == 1)
            base = int(chunks.chunk_starts[c])
            for s in range(activity.shape[1]):
                for frames in _split_frames(np.flatnonzero(activity[:, s]), piece_frames):
                    piece_mask = np.zeros(activity.shape[0], dtype=bool)
                    piece_mask[frames] = True
                    mask = piece_mask & solo[:, s]
                    if mask.sum() * frame_seconds < self.config.min_solo_seconds:
                        mask = piece_mask
                    parts = [
                        samples[base + a : min(base + b, samples.shape[0])]
                        for a, b in _runs(mask, starts, ends)
                        if base + a < samples.shape[0]
                    ]
                    speech = np.concatenate(parts) if parts else np.zeros(0, np.float32)
                    if speech.shape[0] < _MIN_EMBEDDABLE_SECONDS * rate:
                        continue
                    pieces.append(_Piece(c, s, piece_mask))
                    speeches.append(speech)
                    seconds.append(speech.shape[0] / rate)
        return pieces, speeches, np.array(seconds, dtype=np.float64)

    def _embed(
        self, speeches: Sequence[np.ndarray], on_progress: StageProgress | None
    ) -> np.ndarray:
        dimension = self.encoder.dimension
        out = np.zeros((len(speeches), dimension), dtype=np.float32)
        batch = self.config.embed_batch_size
        embed_batch = getattr(self.encoder, "embed_batch", None)
        for first in range(0, len(speeches), batch):
            part = speeches[first : first + batch]
            if embed_batch is not None:
                out[first : first + len(part)] = embed_batch(part)
            else:
                for i, speech in enumerate(part):
                    out[first + i] = self.encoder.embed(speech)
            if on_progress is not None:
                on_progress("embeddings", first + len(part), len(speeches))
        return out

    def _cluster(
        self, embeddings: np.ndarray, seconds: np.ndarray, count: SpeakerCount
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels of the clustered local speakers and ``(k, dim)`` centroids."""
        if embeddings.shape[0] == 0:
            return np.zeros(0, np.int64), np.zeros((0, self.encoder.dimension))
        chosen = np.flatnonzero(seconds >= self.config.min_cluster_seconds)
        if chosen.size < 2:  # too little to cluster on: use every local speaker
            chosen = np.arange(embeddings.shape[0])
        if chosen.size > MAX_CLUSTERED:
            chosen = chosen[np.linspace(0, chosen.size - 1, MAX_CLUSTERED).astype(np.int64)]
        if self.config.clustering == "spectral":
            labels = spectral_cluster(
                embeddings[chosen],
                count=count,
                neighbour_fraction=self.config.spectral_neighbour_fraction,
                min_cluster_size=self.config.min_cluster_size,
                merge_cosine=self.config.spectral_merge_cosine,
                normalized=True,
            )
        else:
            labels = cluster_embeddings(
                embeddings[chosen],
                threshold=self.config.cluster_threshold,
                min_cluster_size=self.config.min_cluster_size,
                count=count,
                method=self.config.linkage,
            )
        clusters = int(labels.max()) + 1
        return labels, centroids_of(embeddings[chosen], labels, clusters)

    def _assign(
        self, pieces: list[_Piece], embeddings: np.ndarray, centroids: np.ndarray
    ) -> list[int]:
        """Cluster of every embedded piece. Pieces of different local speakers of one
        chunk that overlap in time go to distinct clusters (Hungarian), others to their
        nearest centroid."""
        if not pieces or centroids.shape[0] == 0:
            return []
        similarities = normalize_rows(embeddings.astype(np.float64)) @ centroids.T
        result = np.argmax(similarities, axis=1).astype(np.int64)
        by_chunk: dict[int, list[int]] = {}
        for row, piece in enumerate(pieces):
            by_chunk.setdefault(piece.chunk, []).append(row)
        for rows in by_chunk.values():
            for group in _overlapping_groups([pieces[r] for r in rows]):
                if len(group) < 2:
                    continue
                members = [rows[i] for i in group]
                result[members] = assign_chunk(similarities[members])
        return [int(k) for k in result]

    def _reconstruct(
        self, chunks: ChunkActivity, pieces: list[_Piece], assignment: list[int], clusters: int
    ) -> np.ndarray:
        """``(frames, clusters) bool``: who speaks at each frame of the recording."""
        step = chunks.frame_step
        total_frames = max(1, -(-chunks.total_samples // step))
        frames = chunks.frames_per_chunk
        weights = np.hamming(frames) if self.config.hamming else np.ones(frames)
        weights = np.maximum(weights, 1e-3)
        score = np.zeros((total_frames + frames, max(clusters, 1)))
        speakers = np.zeros(total_frames + frames)
        norm = np.zeros(total_frames + frames)
        offsets = [round(int(start) / step) for start in chunks.chunk_starts]
        for piece, cluster in zip(pieces, assignment, strict=True):
            span = slice(offsets[piece.chunk], offsets[piece.chunk] + frames)
            score[span, cluster] += weights * piece.mask
            speakers[span] += weights * piece.mask
        for c in range(chunks.chunks):
            norm[offsets[c] : offsets[c] + frames] += weights
        norm = np.maximum(norm, 1e-9)
        score = score[:total_frames] / norm[:total_frames, None]
        average = speakers[:total_frames] / norm[:total_frames]
        count = np.floor(average + 1.0 - self.config.count_rounding + 1e-9).astype(np.int64)
        count = np.minimum(count, clusters)
        decided = np.zeros((total_frames, clusters), dtype=bool)
        if clusters == 0:
            return decided
        order = np.argsort(-score, axis=1, kind="stable")
        for k in range(1, int(count.max(initial=0)) + 1):
            rows = np.flatnonzero(count >= k)
            decided[rows, order[rows, k - 1]] = True
        return decided & (score > 0)

    def _gate(self, samples: np.ndarray, chunks: ChunkActivity) -> ChunkActivity:
        """``chunks`` with every local speaker silenced at the frames whose centre lies
        outside the widened speech of the voice detector, before anything is embedded
        (unchanged without a detector or a pad)."""
        pad = self.config.speech_pad_seconds
        if self.speech is None or pad is None or chunks.chunks == 0:
            return chunks
        detected = self.speech.detect(samples)
        if (detected.sample_rate, detected.total_samples) != (chunks.sample_rate, samples.size):
            raise InvalidParameterError(
                f"the voice detector answered for {detected.total_samples} samples at "
                f"{detected.sample_rate} Hz, not {samples.size} at {chunks.sample_rate} Hz"
            )
        speech = detected.widened(pad, self.config.speech_bridge_seconds)
        # Each chunk frame's receptive-field centre, within the recording.
        centres = np.minimum(
            chunks.chunk_starts[:, None]
            + np.arange(chunks.frames_per_chunk)[None, :] * chunks.frame_step
            + chunks.frame_samples // 2,
            max(samples.size - 1, 0),
        )
        inside = np.zeros(centres.shape, dtype=bool)
        for start, end in speech.segments:
            inside |= (centres >= start) & (centres < end)
        gated = chunks.activity * inside[:, :, None].astype(chunks.activity.dtype)
        return replace(chunks, activity=gated)

    def _resegment(
        self,
        samples: np.ndarray,
        chunks: ChunkActivity,
        activity: np.ndarray,
        centroids: np.ndarray,
        count: SpeakerCount,
        on_progress: StageProgress | None,
    ) -> np.ndarray:
        """``activity`` with every frame where one speaker is heard given to the cluster
        nearest to the embedding of the speech around it (step 6).

        A window is embedded every ``resegment_hop_seconds`` where one speaker is heard,
        from the frames within ``resegment_window_seconds`` that the same speaker has
        alone: a window never mixes the two sides of a speaker change the chunks found,
        only what they heard as one voice. Each such frame takes the answer of the
        nearest window of its speaker, within half a window. A speaker left with less
        than :data:`_MIN_WINDOW_SPEECH_SECONDS` of solo speech gives the rest of its frames
        (overlap, mostly) to the speaker that took most of it, where that one is not
        already heard: otherwise it would be named from overlapped speech alone. Unchanged
        when it is off,
        with fewer than two clusters, or when it would leave fewer speakers than ``count``
        asks for (a cluster left with no frame is otherwise dropped)."""
        window = self.config.resegment_window_seconds
        if window is None or centroids.shape[0] < 2 or not activity.any():
            return activity
        rate = chunks.sample_rate
        starts, ends = _frame_bounds(activity.shape[0], chunks)
        frames_per_second = rate / chunks.frame_step
        half = max(1, round(window / 2 * frames_per_second))
        hop = max(1, round(self.config.resegment_hop_seconds * frames_per_second))
        single = activity.sum(axis=1) == 1
        label = np.where(single, np.argmax(activity, axis=1), -1)
        spans: list[list[tuple[int, int]]] = []
        centres: list[int] = []
        for centre in range(0, activity.shape[0], hop):
            if label[centre] < 0:
                continue
            first, last = max(0, centre - half), min(activity.shape[0], centre + half)
            own = _runs(label[first:last] == label[centre], starts[first:], ends[first:])
            if sum(b - a for a, b in own) < _MIN_WINDOW_SPEECH_SECONDS * rate:
                continue
            centres.append(centre)
            spans.append(own)
        if not centres:
            return activity
        # Embedded a batch at a time: a long recording's windows overlap three times over,
        # and holding all their audio at once would take three times the recording.
        embeddings = np.zeros((len(centres), centroids.shape[1]), dtype=np.float64)
        batch = self.config.embed_batch_size
        for done in range(0, len(centres), batch):
            waveforms = [
                np.concatenate([samples[a:b] for a, b in own]) for own in spans[done : done + batch]
            ]
            embeddings[done : done + len(waveforms)] = self._embed(waveforms, None)
            if on_progress is not None:
                on_progress("resegmentation", done + len(waveforms), len(centres))
        similarities = normalize_rows(embeddings) @ centroids.T
        located = np.array(centres)
        result = activity.copy()
        for speaker in np.unique(label[located]):
            windows = np.flatnonzero(label[located] == speaker)
            frames = np.flatnonzero(label == speaker)
            at = located[windows]
            after = np.clip(np.searchsorted(at, frames), 0, at.size - 1)
            before = np.clip(after - 1, 0, at.size - 1)
            closer = np.where(
                np.abs(at[before] - frames) < np.abs(at[after] - frames), before, after
            )
            near = np.abs(at[closer] - frames) <= half
            frames, scores = frames[near], similarities[windows[closer[near]]]
            best = np.argmax(scores, axis=1)
            gain = scores[np.arange(frames.size), best] - scores[:, speaker]
            moved = (best != speaker) & (gain >= self.config.resegment_margin)
            result[frames[moved], speaker] = False
            result[frames[moved], best[moved]] = True
            solo_left = int((result[:, speaker] & single).sum()) / frames_per_second
            if moved.any() and solo_left < _MIN_WINDOW_SPEECH_SECONDS:
                # Its solo speech went elsewhere: what is left of this speaker (mostly
                # overlap) goes where most of its solo speech went.
                _fold_overlap(result, speaker, int(np.bincount(best[moved]).argmax()))
        speakers = int(activity.any(axis=0).sum())
        wanted = min(count.exactly or count.minimum or 0, speakers)
        if int(result.any(axis=0).sum()) < wanted:
            return activity
        return result

    def _tracks(self, activity: np.ndarray, chunks: ChunkActivity) -> tuple[SpeakerTrack, ...]:
        """Turns and solo spans per speaker, speakers in order of first speech."""
        rate = chunks.sample_rate
        starts, ends = _frame_bounds(activity.shape[0], chunks)
        min_gap = round(self.config.min_gap_seconds * rate)
        min_turn = self.config.min_turn_seconds
        solo = activity & (activity.sum(axis=1, keepdims=True) == 1)
        tracks: list[SpeakerTrack] = []
        for k in range(activity.shape[1]):
            spans = _bridge(list(_runs(activity[:, k], starts, ends)), min_gap)
            turns = tuple(
                (a / rate, b / rate) for a, b in spans if (b - a) / rate >= max(min_turn, 1e-9)
            )
            if not turns:
                continue
            solo_spans = tuple(
                (int(a), int(b)) for a, b in _bridge(list(_runs(solo[:, k], starts, ends)), 0)
            )
            tracks.append(SpeakerTrack(index=k, turns=turns, solo_spans=solo_spans))
        tracks.sort(key=lambda t: t.first_start)
        return tuple(tracks)


@dataclass(frozen=True)
class _Piece:
    """Some of one local speaker's speech in one chunk: ``mask`` is ``(frames,) bool``."""

    chunk: int
    speaker: int
    mask: np.ndarray = field(repr=False)


def _fold_overlap(activity: np.ndarray, source: int, target: int) -> None:
    """Give ``target`` every frame of ``source``, in place: where both were active the
    frame was one voice counted twice, and now counts once."""
    activity[activity[:, source], target] = True
    activity[:, source] = False


def _frame_bounds(frames: int, chunks: ChunkActivity) -> tuple[np.ndarray, np.ndarray]:
    """Sample span ``(starts, ends)`` of each of ``frames`` frames of the recording's
    grid (``chunks.frame_step`` apart, centred on their receptive field); the first
    starts at 0 and the last ends with the recording."""
    step = chunks.frame_step
    total = chunks.total_samples
    offset = (chunks.frame_samples - step) // 2
    starts = np.clip(np.arange(frames) * step + offset, 0, total)
    ends = np.clip(starts + step, 0, total)
    if frames:
        starts[0] = 0
        ends[-1] = total
    return starts, ends


def _split_frames(frames: np.ndarray, size: int, max_gap: int = 6) -> list[np.ndarray]:
    """Active frame indices cut into pieces: first at pauses of more than ``max_gap``
    frames (a speaker change often comes with one), then each stretch into groups of
    ``size``; a remainder shorter than half of ``size`` joins the group before it."""
    if frames.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(frames) > max_gap + 1) + 1
    groups: list[np.ndarray] = []
    for stretch in np.split(frames, breaks):
        parts = [stretch[i : i + size] for i in range(0, stretch.size, size)]
        if len(parts) > 1 and parts[-1].size < size / 2:
            last = parts.pop()
            parts[-1] = np.concatenate([parts[-1], last])
        groups.extend(parts)
    return groups


def _overlapping_groups(pieces: list[_Piece]) -> list[list[int]]:
    """Indices of ``pieces`` (of one chunk) grouped by overlap in time (connected
    components of "share a frame")."""
    parent = list(range(len(pieces)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(pieces)):
        for j in range(i + 1, len(pieces)):
            if pieces[i].speaker != pieces[j].speaker and bool(
                np.any(pieces[i].mask & pieces[j].mask)
            ):
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(pieces)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _runs(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[tuple[int, int]]:
    """Sample spans ``[(start, end)]`` of the runs of true frames in ``mask``."""
    if not mask.any():
        return []
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [
        (int(starts[a]), int(ends[b - 1])) for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]


def _bridge(spans: list[tuple[int, int]], min_gap: int) -> list[tuple[int, int]]:
    """Spans with gaps shorter than ``min_gap`` samples filled in."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start - merged[-1][1] < min_gap:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        elif end > start:
            merged.append((start, end))
    return merged
