"""Run an evaluation set through a pipeline and compute its metrics."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voxprint.adaptation import band_of
from voxprint.decision import OperatingPoint
from voxprint.engines import BatchEngine, LocalEngine
from voxprint.errors import NoSpeechError, VoxprintError
from voxprint.evaluation.datasets import AudioItem, EvalSet, load_item
from voxprint.evaluation.metrics import equal_error_rate, min_dcf, top1_accuracy
from voxprint.pipeline import DEFAULT_BATCH_SIZE, EmbeddingPipeline
from voxprint.scoring.similarity import cosine_matrix, l2_normalise

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EvalReport:
    """Metrics of one system on one evaluation set.

    ``target_scores`` ``(t,)`` and ``nontarget_scores`` ``(u,)`` are raw cosines.
    """

    name: str
    encoder: str
    eer: float
    eer_threshold: float
    min_dcf: float
    min_dcf_threshold: float
    top1_accuracy: float
    real_time_factor: float
    embeddings_per_second: float
    audio_seconds: float
    processing_seconds: float
    n_items: int
    n_trials: int
    n_target_trials: int
    n_items_without_speech: int
    target_scores: np.ndarray = field(repr=False)
    nontarget_scores: np.ndarray = field(repr=False)

    def summary(self) -> dict[str, float | int | str]:
        return {
            "protocol": self.name,
            "encoder": self.encoder,
            "eer": self.eer,
            "eer_threshold": self.eer_threshold,
            "min_dcf": self.min_dcf,
            "top1_accuracy": self.top1_accuracy,
            "real_time_factor": self.real_time_factor,
            "embeddings_per_second": self.embeddings_per_second,
            "audio_seconds": self.audio_seconds,
            "items": self.n_items,
            "trials": self.n_trials,
            "target_trials": self.n_target_trials,
            "items_without_speech": self.n_items_without_speech,
        }


@dataclass(frozen=True)
class EmbeddedSet:
    """Embeddings of an evaluation set's items: ``embeddings`` is ``(n, dim) float32``."""

    keys: tuple[str, ...]
    embeddings: np.ndarray
    audio_seconds: float
    processing_seconds: float
    items_without_speech: int
    #: Each item's speech bandwidth in Hz (``None``: not measured, e.g. an item with no
    #: speech, embedded whole); empty when the set was made without them.
    bandwidths: tuple[float | None, ...] = ()

    def index(self) -> dict[str, int]:
        return {key: i for i, key in enumerate(self.keys)}


@dataclass(frozen=True)
class ItemEmbedding:
    """One evaluation item's embedding (the whole audio's when it had no speech)."""

    embedding: np.ndarray
    audio_seconds: float
    without_speech: bool
    bandwidth_hz: float | None = None


def embed_work(
    pipeline: EmbeddingPipeline,
    items: list[AudioItem],
    *,
    batch_size: int,
    rate: int,
    limits: Any,
) -> Iterator[ItemEmbedding | VoxprintError]:
    """Batch work (see :mod:`voxprint.engines`): each item embedded, forced."""
    results = pipeline.process_many(
        items,
        force=True,
        batch_size=batch_size,
        load=functools.partial(load_item, sample_rate=rate, limits=limits),
    )
    for item, result in zip(items, results, strict=True):
        if isinstance(result, NoSpeechError):
            waveform = load_item(item, sample_rate=rate, limits=limits)
            yield ItemEmbedding(pipeline.encoder.embed(waveform), len(waveform) / rate, True)
        elif isinstance(result, VoxprintError):
            yield result
        else:
            yield ItemEmbedding(result.embedding, result.audio_seconds, False, result.bandwidth_hz)


def embed_items(
    pipeline: EmbeddingPipeline,
    items: tuple[AudioItem, ...],
    *,
    progress: Progress | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    engine: BatchEngine | None = None,
) -> EmbeddedSet:
    """Embed every item (forced: evaluation keeps short items). Items with no speech at
    all are embedded whole and counted, so every trial still gets a score.

    Runs :meth:`EmbeddingPipeline.process_many` (decode and VAD overlap the embedding,
    ``batch_size`` items are embedded together); ``processing_seconds`` is the wall time
    of the whole run. Any other error of an item is raised. ``engine`` runs the
    embedding elsewhere (e.g. on Ray); by default in this process.
    """
    rate = pipeline.encoder.sample_rate
    limits = pipeline.config.limits
    vectors: list[np.ndarray] = []
    bandwidths: list[float | None] = []
    audio_seconds = 0.0
    without_speech = 0
    started = time.perf_counter()
    work = functools.partial(embed_work, batch_size=batch_size, rate=rate, limits=limits)
    results = (engine or LocalEngine(pipeline)).run(work, items)
    for done, (item, result) in enumerate(zip(items, results, strict=True), start=1):
        if isinstance(result, VoxprintError):
            raise result.naming(item.key)  # which of many files it is
        if result.without_speech:
            logger.warning("no speech found in %s; embedded it whole", item.key)
            without_speech += 1
        vectors.append(result.embedding)
        bandwidths.append(result.bandwidth_hz)
        audio_seconds += result.audio_seconds
        if progress is not None:
            progress(done, len(items))
    return EmbeddedSet(
        keys=tuple(item.key for item in items),
        embeddings=np.stack(vectors).astype(np.float32),
        audio_seconds=audio_seconds,
        processing_seconds=time.perf_counter() - started,
        items_without_speech=without_speech,
        bandwidths=tuple(bandwidths),
    )


def trial_scores(
    eval_set: EvalSet, embedded: EmbeddedSet, point: OperatingPoint | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of every trial, split into ``(target, nontarget)`` arrays. With an
    operating ``point`` that centres, each cosine is the one its models read
    (:meth:`OperatingPoint.cosines`: centred and capped, each side on its own band's
    centre where the point keeps one per band and the items' bandwidths are known)."""
    index = embedded.index()
    labels = np.array([t.target for t in eval_set.trials])
    if point is not None and point.centre is not None:
        bands = [band_of(b) for b in embedded.bandwidths] if embedded.bandwidths else None
        scores = np.array(
            [
                point.cosines(
                    embedded.embeddings[index[t.test]],
                    None if bands is None else bands[index[t.test]],
                    embedded.embeddings[index[t.enrol]],
                    None if bands is None else [bands[index[t.enrol]]],
                )[0]
                for t in eval_set.trials
            ]
        )
        return scores[labels], scores[~labels]
    enrol = embedded.embeddings[[index[t.enrol] for t in eval_set.trials]]
    test = embedded.embeddings[[index[t.test] for t in eval_set.trials]]
    scores = np.sum(l2_normalise(enrol) * l2_normalise(test), axis=1)
    return scores[labels], scores[~labels]


def identification_accuracy(eval_set: EvalSet, embedded: EmbeddedSet) -> float:
    """Top-1 accuracy: against gallery items if the set names them, else leave-one-out."""
    index = embedded.index()
    speakers = {item.key: item.speaker for item in eval_set.items}
    if eval_set.gallery_keys is not None and eval_set.probe_keys is not None:
        gallery_keys, probe_keys = eval_set.gallery_keys, eval_set.probe_keys
        names = sorted({speakers[k] for k in gallery_keys})
        column = {name: i for i, name in enumerate(names)}
        sums = np.zeros((len(names), embedded.embeddings.shape[1]), dtype=np.float32)
        for key in gallery_keys:
            sums[column[speakers[key]]] += embedded.embeddings[index[key]]
        probes = embedded.embeddings[[index[k] for k in probe_keys]]
        truth = np.array([column.get(speakers[k], -1) for k in probe_keys])
        return top1_accuracy(cosine_matrix(probes, sums), truth)
    # Leave one out: each item against per-speaker sums of the other items.
    keys = [item.key for item in eval_set.items]
    names = sorted({speakers[k] for k in keys})
    column = {name: i for i, name in enumerate(names)}
    vectors = embedded.embeddings[[index[k] for k in keys]]
    owner = np.array([column[speakers[k]] for k in keys])
    sums = np.zeros((len(names), vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, owner, vectors)
    correct = 0
    for i, vector in enumerate(vectors):
        others = sums.copy()
        others[owner[i]] -= vector
        scores = cosine_matrix(vector[None, :], others)[0]
        if np.count_nonzero(owner == owner[i]) == 1:
            scores[owner[i]] = -np.inf  # a speaker with one file cannot be identified
        correct += int(np.argmax(scores) == owner[i])
    return correct / len(keys)


def evaluate(
    pipeline: EmbeddingPipeline,
    eval_set: EvalSet,
    *,
    p_target: float = 0.01,
    progress: Progress | None = None,
    engine: BatchEngine | None = None,
) -> EvalReport:
    """Embed an evaluation set once and compute EER, minDCF, top-1 accuracy and speed."""
    embedded = embed_items(pipeline, eval_set.items, progress=progress, engine=engine)
    target, nontarget = trial_scores(eval_set, embedded)
    eer, eer_threshold = equal_error_rate(target, nontarget)
    dcf, dcf_threshold = min_dcf(target, nontarget, p_target=p_target)
    return EvalReport(
        name=eval_set.name,
        encoder=pipeline.encoder.name,
        eer=eer,
        eer_threshold=eer_threshold,
        min_dcf=dcf,
        min_dcf_threshold=dcf_threshold,
        top1_accuracy=identification_accuracy(eval_set, embedded),
        real_time_factor=embedded.processing_seconds / max(embedded.audio_seconds, 1e-9),
        embeddings_per_second=len(embedded.keys) / max(embedded.processing_seconds, 1e-9),
        audio_seconds=embedded.audio_seconds,
        processing_seconds=embedded.processing_seconds,
        n_items=len(embedded.keys),
        n_trials=len(eval_set.trials),
        n_target_trials=int(target.size),
        n_items_without_speech=embedded.items_without_speech,
        target_scores=target,
        nontarget_scores=nontarget,
    )
