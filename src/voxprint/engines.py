"""Where batch work runs: in this process, or on Ray.

``voxprint enroll-dir`` and ``voxprint eval`` embed many files. A :class:`BatchEngine`
runs a *work* function ``work(pipeline, sources) -> results`` (one result per source, in
order; a failed source's result is its :class:`~voxprint.errors.VoxprintError`) and
yields the results in the order of the sources:

- :class:`LocalEngine` calls it with this process's pipeline;
- :class:`RayEngine` splits the sources into batches for Ray Data's ``map_batches`` over
  a pool of actors, each of which loads the model once (``bootstrap.build_pipeline``) and
  runs the same work function on its batches. The results come back to this process,
  which alone writes to the store, so a SQLite file works as well as PostgreSQL.

Ray is the optional ``ray`` extra. Without an address it starts (or joins, through
``RAY_ADDRESS``) a local Ray instance; ``RayOptions.address`` (``--ray-address``) points it
at a cluster, e.g. ``ray://head:10001``, whose workers must have voxprint installed and the
audio at the same paths.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from voxprint import errors
from voxprint.errors import InvalidParameterError, ModelError, VoxprintError
from voxprint.pipeline import EmbeddingPipeline

logger = logging.getLogger(__name__)

#: ``work(pipeline, sources)``: one result per source, in order.
Work = Callable[[EmbeddingPipeline, list[Any]], Iterable[Any]]


class BatchEngine(Protocol):
    def run(self, work: Work, sources: Sequence[Any]) -> Iterator[Any]:
        """``work``'s results for every source, in the order of ``sources``."""
        ...


@dataclass(frozen=True)
class LocalEngine:
    """Runs the work in this process, on ``pipeline``."""

    pipeline: EmbeddingPipeline

    def run(self, work: Work, sources: Sequence[Any]) -> Iterator[Any]:
        yield from work(self.pipeline, list(sources))


@dataclass(frozen=True)
class RayOptions:
    """How batch work runs on Ray."""

    #: A Ray cluster (``ray://head:10001`` or ``auto``); ``None``: ``RAY_ADDRESS`` or a
    #: new local instance.
    address: str | None = None
    #: Actors, each with its own copy of the model.
    workers: int = 1
    #: Files per batch handed to an actor.
    batch_size: int = 8
    #: CPUs Ray reserves for each actor.
    cpus_per_worker: float = 1.0

    def __post_init__(self) -> None:
        if self.workers < 1 or self.batch_size < 1 or self.cpus_per_worker <= 0:
            raise InvalidParameterError("ray workers, batch size and CPUs must be positive")


@dataclass(frozen=True)
class _Failure:
    """A VoxprintError on its way back from a worker (exceptions with keyword-only
    arguments do not survive pickling as themselves)."""

    kind: str
    message: str

    def error(self) -> VoxprintError:
        cls = getattr(errors, self.kind, VoxprintError)
        for candidate in cls.__mro__ if isinstance(cls, type) else (VoxprintError,):
            if isinstance(candidate, type) and issubclass(candidate, VoxprintError):
                try:
                    return candidate(self.message)
                except TypeError:  # needs more than a message: the nearest parent will do
                    continue
        return VoxprintError(self.message)


def _portable(result: Any) -> Any:
    return (
        _Failure(type(result).__name__, result.message)
        if isinstance(result, VoxprintError)
        else result
    )


class _Worker:
    """A Ray actor: the model, loaded once, and the work function."""

    def __init__(self, options: Any, work: Work) -> None:
        from voxprint.bootstrap import build_pipeline

        self._pipeline = build_pipeline(options)
        self._work = work

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        sources = [pickle.loads(blob) for blob in batch["source"]]
        results = list(self._work(self._pipeline, sources))
        if len(results) != len(sources):
            raise RuntimeError("a batch work function must give one result per source")
        out = np.empty(len(results), dtype=object)
        out[:] = [pickle.dumps(_portable(r)) for r in results]
        return {"index": batch["index"], "result": out}


class RayEngine:
    """Runs the work on Ray Data: ``map_batches`` over an actor pool (see the module)."""

    def __init__(self, service_options: Any, options: RayOptions | None = None) -> None:
        self.service_options = service_options
        self.options = options or RayOptions()

    def _connect(self) -> Any:
        try:
            import ray
        except ImportError as exc:
            raise ModelError(
                "--engine ray needs the optional 'ray' extra: pip install 'voxprint[ray]'"
            ) from exc
        if not ray.is_initialized():
            ray.init(
                address=self.options.address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        return ray

    def run(self, work: Work, sources: Sequence[Any]) -> Iterator[Any]:
        ray = self._connect()
        items = [
            {"index": i, "source": ray.cloudpickle.dumps(source)}
            for i, source in enumerate(sources)
        ]
        if not items:
            return
        dataset = ray.data.from_items(items).map_batches(
            _Worker,
            fn_constructor_kwargs={"options": self.service_options, "work": work},
            batch_size=self.options.batch_size,
            concurrency=self.options.workers,
            num_cpus=self.options.cpus_per_worker,
            batch_format="numpy",
        )
        waiting: dict[int, Any] = {}
        next_index = 0
        for row in dataset.iter_rows():
            waiting[int(row["index"])] = pickle.loads(row["result"])
            while next_index in waiting:
                result = waiting.pop(next_index)
                yield result.error() if isinstance(result, _Failure) else result
                next_index += 1
        if next_index != len(items):
            raise VoxprintError(f"Ray returned {next_index} of {len(items)} results")


def embed_files(pipeline: EmbeddingPipeline, sources: list[Any], *, force: bool) -> Iterable[Any]:
    """Work: ``(utterance, content hash)`` of each file (batched, decoding ahead), or the
    error that stopped it."""
    from voxprint.service import audio_hash

    hashes: dict[int, str] = {}

    def load(item: tuple[int, Any]) -> np.ndarray:
        index, source = item
        waveform = pipeline.load(source)
        hashes[index] = audio_hash(waveform)
        return waveform

    results = pipeline.process_many(list(enumerate(sources)), force=force, load=load)
    for index, result in enumerate(results):
        yield result if isinstance(result, VoxprintError) else (result, hashes.pop(index))


def measure_files(
    pipeline: EmbeddingPipeline, sources: list[Any], *, gate: Any, force: bool
) -> Iterable[Any]:
    """Work: each file embedded and measured for the enrolment quality gate."""
    from voxprint.service import measure_clip

    for source in sources:
        try:
            yield measure_clip(pipeline, gate, source, force=force)
        except VoxprintError as error:
            yield error


#: The engines ``--engine`` names.
ENGINES: tuple[str, ...] = ("local", "ray")


def engine_for(
    name: str,
    pipeline: Callable[[], EmbeddingPipeline],
    service_options: Any,
    ray: RayOptions | None = None,
) -> BatchEngine:
    """The engine called ``name``; ``pipeline`` makes this process's pipeline (only the
    local engine needs one)."""
    match name:
        case "local":
            return LocalEngine(pipeline())
        case "ray":
            return RayEngine(service_options, ray)
        case _:
            raise InvalidParameterError(
                f"unknown engine {name!r}; choose from {', '.join(ENGINES)}"
            )
