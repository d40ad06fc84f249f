"""Fast 1:N search: each namespace's gallery cached in process, kept in step with the store.

Identification used to read every voiceprint from the store on every call (150 ms at
10,000 profiles, seconds at 100,000). :class:`GalleryIndex` keeps each namespace's gallery
(per encoder version) in memory with a search structure, and checks the store's change
counter for the namespace on every call: any enrolment, reset, rename or deletion there
(by this process or another sharing the store) bumps it, and the next search reloads.

Search is exact (one matrix product) below :data:`APPROXIMATE_FROM` voiceprints and
approximate above, with HNSW (the library and its parameters chosen on the measurements
in docs/benchmarks.md, "Identify search at scale (issue 13)"). On a store that searches in
the database (PostgreSQL with pgvector: ``store.search_in_database``), a gallery from that
size on is not loaded at all: each search is one indexed query (:meth:`Store.nearest`), so
workers do not each hold a copy of a million voiceprints. Either way the best candidates
are returned with their exact cosines, and the open-set rule of the scorer still weighs the
whole gallery size.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from voxprint.errors import InvalidParameterError, StoreError
from voxprint.scoring.similarity import l2_normalise
from voxprint.store.base import Store
from voxprint.store.records import Band, Gallery, GalleryChanges

logger = logging.getLogger(__name__)

#: From this many voiceprints on, search is approximate (HNSW); below, exact.
APPROXIMATE_FROM = 20_000
#: Candidates handed to the scorer: enough that the best by log-likelihood ratio is among
#: them even when enrolment amounts differ between profiles.
CANDIDATES = 50
#: Breadth of an HNSW search: with FAISS's graph of degree 64, recall@1 0.998 at a million
#: synthetic voiceprints, p50 5.5 ms (512: 0.994, 3.8 ms; 1024: 1.000, 7.3 ms); measured in
#: docs/benchmarks.md, "Identify search at scale (issue 13)".
EF_SEARCH = 768
#: A band too large to scan exactly is searched with the approximate index asked for this
#: many times the candidates, keeping that band's; asked for 4 times more while the band
#: has fewer than the candidates among them, up to :data:`MAX_BAND_FETCH` rows; past
#: that, the band's own rows are scanned exactly (see :meth:`GalleryIndex.candidates`).
#: A review measured FAISS asked for 25,600 rows of 200,000 at 866 ms, an exact scan of a
#: band at 20-60 ms.
BAND_OVERFETCH = 8
MAX_BAND_FETCH = 1_600
#: Each row's enrolment band, as a small code (:data:`_UNSET`: not converted yet).
_BAND_CODES: dict[Band | None, int] = {Band.WIDE: 0, Band.NARROW: 1, None: 2}
_UNSET = -1


class VectorSearch(Protocol):
    """Nearest voiceprints by cosine in a fixed set of unit vectors."""

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``k`` best (``(k,) int64``, best first) and their cosines
        (``(k,) float32``) for a ``(dim,)`` unit query."""
        ...


@dataclass(frozen=True)
class ExactSearch:
    """Every voiceprint scored: ``(n, dim)`` unit vectors times the query."""

    vectors: np.ndarray

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = self.vectors @ np.asarray(query, dtype=np.float32)
        order = best_first(scores, k)
        return order, scores[order].astype(np.float32)


def best_first(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest of ``(n,)`` ``scores`` (all when ``n <= k``), best
    first (``(min(k, n),) int64``)."""
    k = min(k, scores.shape[0])
    if k <= 0:
        return np.zeros(0, np.int64)
    top = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(k)
    return top[np.argsort(-scores[top], kind="stable")].astype(np.int64)


class HnswlibSearch:
    """HNSW graph of hnswlib on inner product (the vectors are unit length)."""

    def __init__(self, vectors: np.ndarray, *, m: int = 16, ef_construction: int = 200) -> None:
        import hnswlib

        n, dim = vectors.shape
        self._index = hnswlib.Index(space="ip", dim=dim)
        self._index.init_index(max_elements=max(n, 1), M=m, ef_construction=ef_construction)
        self._index.set_num_threads(1)
        if n:
            self._index.add_items(np.ascontiguousarray(vectors, dtype=np.float32), np.arange(n))
        self._size = n

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self._size)
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        self._index.set_ef(max(EF_SEARCH, 2 * k))
        labels, distances = self._index.knn_query(np.asarray(query, np.float32)[None, :], k=k)
        return labels[0].astype(np.int64), (1.0 - distances[0]).astype(np.float32)


class UsearchSearch:
    """HNSW graph of USearch on cosine."""

    def __init__(self, vectors: np.ndarray) -> None:
        from usearch.index import Index

        n, dim = vectors.shape
        self._index = Index(ndim=dim, metric="ip", dtype="f32", expansion_search=EF_SEARCH)
        if n:
            self._index.add(
                np.arange(n), np.ascontiguousarray(vectors, dtype=np.float32), threads=1
            )
        self._size = n

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self._size)
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        found = self._index.search(np.asarray(query, np.float32), k, threads=1)
        return found.keys.astype(np.int64), (1.0 - found.distances).astype(np.float32)


class FaissSearch:
    """HNSW graph of FAISS on inner product, of degree ``m`` (64: recall@1 0.998 at a
    million voiceprints and breadth 768, where 48 needed breadth 1024 for 0.988-0.990;
    docs/benchmarks.md)."""

    def __init__(self, vectors: np.ndarray, *, m: int = 64) -> None:
        import faiss

        n, dim = vectors.shape
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        self._index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        self._index.hnsw.efConstruction = 200
        if n:  # built with every core; searched with one (the service runs searches side by side)
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.omp_set_num_threads(1)
        self._size = n

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self._size)
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        self._index.hnsw.efSearch = max(EF_SEARCH, 2 * k)
        scores, rows = self._index.search(np.asarray(query, np.float32)[None, :], k)
        return rows[0].astype(np.int64), scores[0].astype(np.float32)


@dataclass(frozen=True)
class LayeredSearch:
    """An approximate index of an earlier gallery kept after small changes, so that one
    enrolment does not cost a rebuild (minutes at a million voiceprints).

    ``base`` searches the earlier gallery; ``base_rows`` maps each of its rows to the row of
    the same, unchanged voiceprint in the current gallery (``-1``: deleted or changed since).
    ``delta_rows`` (current rows) with ``delta_vectors`` ``(d, dim)`` are the voiceprints
    that are new or changed since, searched exactly. Results are current rows.
    """

    base: VectorSearch
    base_rows: np.ndarray
    delta_rows: np.ndarray
    delta_vectors: np.ndarray

    @functools.cached_property
    def masked(self) -> int:
        """Rows of ``base`` that are no longer answers (deleted or changed since)."""
        return int((self.base_rows < 0).sum())

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        rows, scores = self.base.search(query, k + self.masked)
        mapped = self.base_rows[rows] if rows.size else rows
        keep = mapped >= 0
        rows, scores = mapped[keep], scores[keep]
        if len(self.delta_rows):
            extra, extra_scores = ExactSearch(self.delta_vectors).search(query, k)
            rows = np.concatenate([rows, self.delta_rows[extra]])
            scores = np.concatenate([scores, extra_scores])
        order = np.argsort(-scores, kind="stable")[:k]
        return rows[order].astype(np.int64), scores[order].astype(np.float32)


#: Changes (new, changed or deleted voiceprints) an approximate index takes in layers
#: before it is rebuilt: this share of its size, and at least :data:`MIN_LAYERED_CHANGES`.
LAYERED_SHARE = 0.05
MIN_LAYERED_CHANGES = 1_000


def layered(
    base: _Entry, gallery: Gallery, *, earlier_to_now: np.ndarray | None = None
) -> LayeredSearch | None:
    """``base``'s index brought up to ``gallery`` (unit voiceprints) in layers, or
    ``None`` when too much changed (or ``base`` has no approximate index to keep).

    ``earlier_to_now``: for each row of ``base``'s gallery, the row of the same, unchanged
    voiceprint in ``gallery`` (``-1``: gone or changed), when the caller knows it (from
    the change log); otherwise it is worked out by comparing the two galleries."""
    if base.gallery is None or base.search is None or isinstance(base.search, ExactSearch):
        return None
    if earlier_to_now is None:
        old = base.gallery
        current = {pid: i for i, pid in enumerate(gallery.profile_ids)}
        earlier = np.array([current.get(pid, -1) for pid in old.profile_ids], np.int64)
        present = earlier >= 0
        same = np.zeros(len(old), bool)
        same[present] = np.all(old.voiceprints[present] == gallery.voiceprints[earlier[present]], 1)
        earlier_to_now = np.where(same, earlier, -1)
    if isinstance(base.search, LayeredSearch):  # the index holds an older gallery still
        index, inner = base.search.base, base.search.base_rows
        base_rows = np.where(inner >= 0, earlier_to_now[np.maximum(inner, 0)], -1)
    else:
        index, base_rows = base.search, earlier_to_now
    kept = np.zeros(len(gallery), bool)
    kept[base_rows[base_rows >= 0]] = True
    delta_rows = np.flatnonzero(~kept).astype(np.int64)
    kept_search = LayeredSearch(index, base_rows, delta_rows, gallery.voiceprints[delta_rows])
    changes = kept_search.masked + len(delta_rows)
    if changes > max(MIN_LAYERED_CHANGES, LAYERED_SHARE * len(base_rows)):
        return None
    return kept_search


#: Search structures by name; FAISS is a dependency, hnswlib and usearch (compared in
#: bench/search.py) come with the optional ``bench`` extra.
SEARCHES: dict[str, Callable[[np.ndarray], VectorSearch]] = {
    "exact": ExactSearch,
    "hnswlib": HnswlibSearch,
    "usearch": UsearchSearch,
    "faiss": FaissSearch,
}
#: The approximate search used above :data:`APPROXIMATE_FROM`: FAISS's HNSW had the best
#: recall for its latency of the three measured, and builds on every core
#: (docs/benchmarks.md, "Identify search at scale (issue 13)").
APPROXIMATE = "faiss"


def _merged(galleries: Sequence[Gallery], query: np.ndarray) -> Gallery:
    """The profiles of ``galleries`` (each once), best first for the unit ``query``."""
    if len(galleries) == 1:
        return galleries[0]
    first: dict[str, tuple[Gallery, int]] = {}
    for gallery in galleries:
        for row, pid in enumerate(gallery.profile_ids):
            first.setdefault(pid, (gallery, row))
    if not first:
        return galleries[0]
    picked = list(first.values())
    vectors = np.stack([g.voiceprints[row] for g, row in picked])
    order = best_first(l2_normalise(vectors) @ query, len(picked))
    chosen = [picked[i] for i in order]
    return Gallery(
        profile_ids=tuple(g.profile_ids[row] for g, row in chosen),
        names=tuple(g.names[row] for g, row in chosen),
        voiceprints=np.stack([g.voiceprints[row] for g, row in chosen]),
        net_speech_seconds=np.array([g.net_speech_seconds[row] for g, row in chosen]),
        bands=tuple(None if g.bands is None else g.bands[row] for g, row in chosen),
        statistics_bands=tuple(
            None if g.statistics_bands is None else g.statistics_bands[row] for g, row in chosen
        ),
    )


def _bands_kept(earlier: _Entry | None, moved: np.ndarray | None, size: int) -> np.ndarray | None:
    """The band codes of ``earlier``'s rows carried to their rows in a caught-up gallery of
    ``size`` rows (``moved``: :func:`caught_up`'s map); new and changed rows unset."""
    if earlier is None or earlier.bands is None or moved is None:
        return None
    codes = np.full(size, _UNSET, np.int8)
    kept = moved >= 0
    codes[moved[kept]] = earlier.bands[kept]
    return codes


def _band_members(entry: _Entry) -> dict[int, np.ndarray]:
    """The rows of each enrolment band of ``entry``'s gallery, worked out at the first
    search by band of this entry (only the rows not carried over are converted)."""
    if entry.members is not None:
        return entry.members
    gallery = entry.gallery
    assert gallery is not None
    codes = np.full(entry.size, _UNSET, np.int8) if entry.bands is None else entry.bands.copy()
    unset = np.flatnonzero(codes == _UNSET)
    stored = gallery.bands
    codes[unset] = [_BAND_CODES[None if stored is None else stored[i]] for i in unset]
    members = {int(code): np.flatnonzero(codes == code) for code in np.unique(codes)}
    entry.bands, entry.members = codes, members  # the same on every thread that works it out
    return members


def _approximate_by_band(
    search: VectorSearch,
    query: np.ndarray,
    k: int,
    entry: _Entry,
    large: Sequence[int],
) -> list[np.ndarray]:
    """The ``k`` best rows of each band code in ``large`` (bands too large to scan at
    once) from the approximate search: asked for :data:`BAND_OVERFETCH` times ``k`` rows,
    then 4 times more while a band has fewer than ``k`` among them, up to
    :data:`MAX_BAND_FETCH`; a band still short is scanned exactly (its best are behind
    that many of another band's)."""
    assert entry.gallery is not None and entry.bands is not None and entry.members is not None
    codes, size = entry.bands, entry.size
    fetch = k * BAND_OVERFETCH
    while True:
        found, _ = search.search(query, min(fetch, size))
        best = [found[codes[found] == code][:k] for code in large]
        if all(len(rows) >= k for rows in best) or fetch >= min(size, MAX_BAND_FETCH):
            break
        fetch *= 4
    voiceprints = entry.gallery.voiceprints
    for i, code in enumerate(large):
        if len(best[i]) < k:
            members = entry.members[code]
            best[i] = members[best_first(voiceprints[members] @ query, k)]
    return best


def _unit_rows(gallery: Gallery) -> Gallery:
    """``gallery`` with unit-length voiceprints (what the search structures index; the
    scorer's cosines do not depend on the length)."""
    if not len(gallery):
        return gallery
    return replace(gallery, voiceprints=l2_normalise(gallery.voiceprints))


def caught_up(
    old: Gallery, changes: GalleryChanges, rows: Mapping[str, int] | None = None
) -> tuple[Gallery, np.ndarray]:
    """``old`` brought up to date with ``changes``: the touched profiles' old rows are
    dropped and their current rows (if they are still in the gallery) appended. Also
    returns, for each row of ``old``, its row in the new gallery (``-1``: touched).
    ``rows`` maps ``old``'s profile ids to their rows, when the caller has it."""
    if rows is None:
        rows = {pid: i for i, pid in enumerate(old.profile_ids)}
    keep = np.ones(len(old), bool)
    keep[[rows[pid] for pid in changes.touched if pid in rows]] = False
    new = changes.current
    kept = int(keep.sum())
    dim = (new.voiceprints if len(new) else old.voiceprints).shape[-1]
    if kept + len(new) == 0:
        voiceprints = np.zeros((0, 0), np.float32)
    else:  # one copy: the kept rows, then the current rows of the touched profiles
        voiceprints = np.empty((kept + len(new), dim), np.float32)
        if kept:
            np.compress(keep, old.voiceprints, axis=0, out=voiceprints[:kept])
        if len(new):
            voiceprints[kept:] = new.voiceprints
    kept_ids = tuple(itertools.compress(old.profile_ids, keep))
    kept_names = tuple(itertools.compress(old.names, keep))

    def kept_and_new(
        earlier: tuple[Band | None, ...] | None, current: tuple[Band | None, ...] | None
    ) -> tuple[Band | None, ...] | None:
        if earlier is None and current is None:
            return None
        earlier = earlier if earlier is not None else (None,) * len(old)
        current = current if current is not None else (None,) * len(new)
        return tuple(itertools.compress(earlier, keep)) + current

    gallery = Gallery(
        profile_ids=kept_ids + new.profile_ids,
        names=kept_names + new.names,
        voiceprints=voiceprints,
        net_speech_seconds=np.concatenate(
            [np.asarray(old.net_speech_seconds)[keep], np.asarray(new.net_speech_seconds)]
        ),
        bands=kept_and_new(old.bands, new.bands),
        statistics_bands=kept_and_new(old.statistics_bands, new.statistics_bands),
    )
    old_to_new = np.where(keep, np.cumsum(keep) - 1, -1).astype(np.int64)
    return gallery, old_to_new


@dataclass(frozen=True)
class Candidates:
    """The profiles worth scoring for one query: rows describe the same profile across
    ``profile_ids``, ``names``, ``voiceprints`` ``(c, dim) float32`` and ``seconds``;
    ``gallery_size`` is how many profiles were searched (for the open-set rule);
    ``bands`` and ``statistics_bands`` each one's
    (:attr:`voxprint.store.records.Profile.band`, ``statistics_band``; ``None``: the
    store gave none)."""

    profile_ids: tuple[str, ...]
    names: tuple[str, ...]
    voiceprints: np.ndarray
    seconds: np.ndarray
    gallery_size: int
    bands: tuple[Band | None, ...] | None = None
    statistics_bands: tuple[Band | None, ...] | None = None

    @classmethod
    def of(cls, gallery: Gallery, size: int) -> Candidates:
        """Every profile of ``gallery``, searched among ``size``."""
        return cls(
            gallery.profile_ids,
            gallery.names,
            gallery.voiceprints,
            gallery.net_speech_seconds,
            size,
            gallery.bands,
            gallery.statistics_bands,
        )

    def take(self, rows: Sequence[int] | np.ndarray) -> Candidates:
        """The candidates of ``rows`` (positions in these), searched among as many."""
        gallery = Gallery(
            self.profile_ids,
            self.names,
            self.voiceprints,
            self.seconds,
            self.bands,
            self.statistics_bands,
        )
        return Candidates.of(gallery.take(rows), self.gallery_size)


@dataclass
class _Entry:
    version: int
    #: ``None`` when the gallery is searched in the database (never loaded here).
    gallery: Gallery | None
    search: VectorSearch | None
    rows: dict[str, int]
    size: int
    #: Each row's enrolment band code, converted from the gallery's bands at the first
    #: search by band (rows carried from the entry this one caught up from keep theirs;
    #: :data:`_UNSET` for the rest until then), and the rows of each code.
    bands: np.ndarray | None = None
    members: dict[int, np.ndarray] | None = None


@dataclass
class GalleryIndex:
    """Per-namespace galleries of one encoder version, searched in memory."""

    store: Store
    encoder_name: str
    encoder_version: str
    approximate_from: int = APPROXIMATE_FROM
    approximate: str = APPROXIMATE
    _entries: dict[str, _Entry] = field(default_factory=dict, repr=False)
    #: One lock per namespace, so that loading a large gallery holds up only its own
    #: namespace's searches; ``_lock`` guards the dict of them.
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.approximate not in SEARCHES:
            raise InvalidParameterError(
                f"unknown search {self.approximate!r}; choose from {', '.join(SEARCHES)}"
            )

    def _entry(self, namespace: str) -> _Entry:
        version = self.store.gallery_version(namespace)
        entry = self._entries.get(namespace)
        if entry is not None and entry.version == version:
            return entry
        with self._lock:
            lock = self._locks.setdefault(namespace, threading.Lock())
        with lock:
            entry = self._entries.get(namespace)
            if entry is not None and entry.version == version:
                return entry
            if self.store.search_in_database:
                size = self.store.gallery_size(
                    namespace,
                    encoder_name=self.encoder_name,
                    encoder_version=self.encoder_version,
                )
                if size >= self.approximate_from:
                    entry = _Entry(version, None, None, {}, size)
                    self._entries[namespace] = entry
                    logger.debug(
                        "gallery of %r: %d voiceprints, searched in the database", namespace, size
                    )
                    return entry
            gallery, version, moved = self._load(namespace, entry, version)
            name = self.approximate if len(gallery) >= self.approximate_from else "exact"
            kept = (
                None
                if entry is None or name == "exact"
                else layered(entry, gallery, earlier_to_now=moved)
            )
            if kept is not None:
                search: VectorSearch = kept
                name = f"{name} kept, {len(kept.delta_rows)} new or changed searched exactly"
            else:
                try:
                    search = SEARCHES[name](gallery.voiceprints)
                except ImportError:
                    logger.warning("%s is not installed; searching exactly", name)
                    search = ExactSearch(gallery.voiceprints)
            entry = _Entry(
                version,
                gallery,
                search,
                {pid: i for i, pid in enumerate(gallery.profile_ids)},
                len(gallery),
                _bands_kept(entry, moved, len(gallery)),
            )
            self._entries[namespace] = entry
            logger.debug(
                "gallery of %r loaded: %d voiceprints, %s search", namespace, len(gallery), name
            )
            return entry

    def _load(
        self, namespace: str, entry: _Entry | None, version: int
    ) -> tuple[Gallery, int, np.ndarray | None]:
        """The namespace's gallery, the version it is at, and (when caught up) where each
        row of ``entry``'s gallery went: the copy in ``entry`` caught up with the store's
        change log where it can be, else read whole."""
        if entry is not None and entry.gallery is not None:
            changes = self.store.gallery_changes(
                namespace,
                entry.version,
                encoder_name=self.encoder_name,
                encoder_version=self.encoder_version,
            )
            if changes is not None:
                logger.debug(
                    "gallery of %r caught up: %d profiles changed", namespace, len(changes.touched)
                )
                fresh = replace(changes, current=_unit_rows(changes.current))
                gallery, moved = caught_up(entry.gallery, fresh, entry.rows)
                return gallery, changes.version, moved
        gallery = self.store.gallery(
            namespace, encoder_name=self.encoder_name, encoder_version=self.encoder_version
        )
        return _unit_rows(gallery), version, None

    def load(self, namespace: str) -> int:
        """Load (or catch up) ``namespace``'s gallery and build its search now, not at its
        first search; returns how many voiceprints it holds. A large gallery searched in the
        database is only counted."""
        return self._entry(namespace).size

    def candidates(
        self,
        namespace: str,
        query: np.ndarray,
        *,
        k: int = CANDIDATES,
        profile_ids: Sequence[str] | None = None,
        by_band: bool = False,
    ) -> Candidates:
        """The ``k`` best profiles for a ``(dim,)`` query, or exactly ``profile_ids``
        (those of them enrolled with this encoder).

        ``by_band``: the ``k`` best of each enrolment band as well (the candidates come
        with each one's bands either way). A telephone probe of an owner enrolled
        from the app scores lower against that owner (cosine about 0.65) than many
        telephone-enrolled strangers do (0.26 +- 0.12), so among a thousand telephone
        profiles 6 % of such owners would not be among the 50 best overall and never be
        scored (docs/benchmarks.md, "Mixed namespaces at scale")."""
        entry = self._entry(namespace)
        gallery, search = entry.gallery, entry.search
        if gallery is None or search is None:
            return self._in_database(namespace, query, k, profile_ids, entry.size, by_band)
        if profile_ids is not None:
            unknown = [pid for pid in profile_ids if pid not in entry.rows]
            if unknown:
                # Not enrolled with this encoder (or gone since): let the store say which.
                chosen = self.store.gallery(
                    namespace,
                    encoder_name=self.encoder_name,
                    encoder_version=self.encoder_version,
                    profile_ids=profile_ids,
                )
                return Candidates.of(chosen, len(chosen))
            rows = np.array([entry.rows[pid] for pid in dict.fromkeys(profile_ids)], np.int64)
            size = len(rows)
        else:
            if len(gallery) == 0:
                return Candidates((), (), np.zeros((0, 0), np.float32), np.zeros(0), 0)
            unit = l2_normalise(np.asarray(query, np.float32))
            members = _band_members(entry) if by_band else None
            if members is None or len(members) < 2:
                rows, _ = search.search(unit, k)
            else:
                rows = self._best_by_band(entry, unit, k, members)
            size = len(gallery)
        if rows.size and (rows.min() < 0 or rows.max() >= len(gallery)):
            raise StoreError("the gallery index returned a row outside the gallery")
        return Candidates.of(gallery.take(rows), size)

    def _best_by_band(
        self, entry: _Entry, query: np.ndarray, k: int, members: dict[int, np.ndarray]
    ) -> np.ndarray:
        """Rows of the ``k`` best of each band (``members``: each band's rows), best
        first. The best ``k`` overall are among them."""
        gallery, search = entry.gallery, entry.search
        assert gallery is not None and search is not None
        scanned = gallery.voiceprints @ query if isinstance(search, ExactSearch) else None
        picked, large = [], []
        for code, rows in members.items():
            if scanned is not None:
                picked.append(rows[best_first(scanned[rows], k)])
            elif len(rows) < self.approximate_from:
                picked.append(rows[best_first(gallery.voiceprints[rows] @ query, k)])
            else:
                large.append(code)
        if large:
            picked.extend(_approximate_by_band(search, query, k, entry, large))
        rows = np.concatenate(picked)
        return rows[best_first(gallery.voiceprints[rows] @ query, len(rows))]

    def _in_database(
        self,
        namespace: str,
        query: np.ndarray,
        k: int,
        profile_ids: Sequence[str] | None,
        size: int,
        by_band: bool,
    ) -> Candidates:
        """Candidates from the store's own index (or exactly ``profile_ids``); ``by_band``:
        the ``k`` best overall and of each band, each band searched on its own."""
        if profile_ids is not None:
            found = self.store.gallery(
                namespace,
                encoder_name=self.encoder_name,
                encoder_version=self.encoder_version,
                profile_ids=profile_ids,
            )
            return Candidates.of(found, len(found))
        unit = l2_normalise(np.asarray(query, np.float32))
        searched = [
            self.store.nearest(
                namespace,
                unit,
                encoder_name=self.encoder_name,
                encoder_version=self.encoder_version,
                k=k,
                band=band,
            )
            for band in ((None, *Band) if by_band else (None,))
        ]
        return Candidates.of(_merged(searched, unit), size)
