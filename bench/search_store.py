"""Identify search at scale through the SQLite store: the whole in-process path of
:class:`voxprint.gallery_index.GalleryIndex`, on the voiceprints of bench/search.py.

Usage:
    .venv/bin/python bench/search_store.py --sizes 10000 100000
    .venv/bin/python bench/search_store.py --sizes 1000000 --load bulk

For each size, a fresh SQLite store in a temporary folder gets ``n`` enrolled profiles of
the synthetic 192-dim voiceprints (``--load api``: one :meth:`Store.create_profile` each, as
enrolment writes them; ``--load bulk``: the same rows in one transaction, for sizes where a
million separate commits would take long). Then, with the service's own
``GalleryIndex(store, encoder)`` and its defaults (exact below 20,000 voiceprints, FAISS HNSW
from there):

- **load + build**: the first search of the namespace, which reads the gallery from the
  store (:meth:`Store.gallery`), normalises it and builds the search structure; also the
  read alone, and the resident memory the cached entry adds;
- **p50 / p95** of :meth:`GalleryIndex.candidates` for the 50 best (what identify calls per
  query: the store's change counter is read, then the cached index searched, then the
  candidates' rows gathered), and of the change-counter read alone;
- **recall@1**: how often the first candidate is the exact best profile (exact search over
  the same gallery);
- **after a change**: one profile renamed through the store (the change counter moves), the
  next search's time: the index reads the store's change log and the changed rows, and
  keeps its graph with the change in a layer (only up to ``--change-max`` voiceprints).

The scorer's work on the candidates (the same at every gallery size) is not included.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search import cpu_name, queries, rss_mb, voiceprints
from voxprint.gallery_index import CANDIDATES, GalleryIndex
from voxprint.store import SQLiteStore
from voxprint.store.records import EnrollmentStatus, Profile, ProfileChanges
from voxprint.store.sqlite.codecs import PROFILE_COLUMNS, time_text, vector_blob

ENCODER = ("synthetic", "1")
NAMESPACE = "default"


def profile(i: int, vector: np.ndarray, when: datetime) -> Profile:
    return Profile(
        id=str(uuid.UUID(int=i + 1)),
        namespace=NAMESPACE,
        name=f"speaker {i}",
        encoder_name=ENCODER[0],
        encoder_version=ENCODER[1],
        created_at=when,
        updated_at=when,
        status=EnrollmentStatus.ENROLLED,
        clip_count=1,
        audio_seconds=25.0,
        net_speech_seconds=20.0,
        voiceprint=vector,
    )


def load(store: SQLiteStore, vectors: np.ndarray, how: str) -> float:
    """Enrolled profiles for ``vectors`` into the store; returns seconds."""
    when = datetime.now(UTC)
    started = time.perf_counter()
    if how == "api":
        for i, vector in enumerate(vectors):
            store.create_profile(profile(i, vector, when))
    else:
        stamp = time_text(when, "created_at")
        rows = (
            (
                str(uuid.UUID(int=i + 1)),
                NAMESPACE,
                f"speaker {i}",
                None,
                "{}",
                *ENCODER,
                EnrollmentStatus.ENROLLED.value,
                1,
                25.0,
                20.0,
                vector_blob(v, "voiceprint"),
                stamp,
                stamp,
            )
            for i, v in enumerate(vectors)
        )
        with store._transaction(write=True) as conn:
            conn.executemany(
                f"INSERT INTO profiles ({PROFILE_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                rows,
            )
    return time.perf_counter() - started


def ms(values: list[float], q: float) -> float:
    return 1000 * float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--load", choices=["api", "bulk"], default="api")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument(
        "--change-max",
        type=int,
        default=200_000,
        help="measure the search after a change up to this size",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(20261204)
    loadavg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{date.today()}; CPU: {cpu_name()} ({os.cpu_count()} cores, load {loadavg}); "
        f"SQLite store, GalleryIndex defaults; {args.queries} queries, top {CANDIDATES}; "
        f"profiles written with --load {args.load}"
    )
    print(
        "| voiceprints | search | write profiles | read gallery | load + build (first search) "
        "| memory held | p50 | p95 | change check p50 | recall@1 vs exact "
        "| first search after a change |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        gallery = voiceprints(n, rng)
        q, _ = queries(gallery, rng)
        q = q[: args.queries]
        exact = np.array([int(np.argmax(gallery @ v)) for v in q])
        with tempfile.TemporaryDirectory(prefix="voxprint-bench-search-") as folder:
            store = SQLiteStore(Path(folder) / "voices.db")
            try:
                write_s = load(store, gallery, args.load)
                started = time.perf_counter()
                read = store.gallery(NAMESPACE, encoder_name=ENCODER[0], encoder_version=ENCODER[1])
                read_s = time.perf_counter() - started
                ids = np.array(read.profile_ids)
                del read
                index = GalleryIndex(store, *ENCODER)
                search = index.approximate if n >= index.approximate_from else "exact"
                before = rss_mb()
                started = time.perf_counter()
                index.candidates(NAMESPACE, q[0])
                first_s = time.perf_counter() - started
                held = rss_mb() - before
                latencies, checks = [], []
                hits = 0
                for i, query in enumerate(q):
                    t = time.perf_counter()
                    found = index.candidates(NAMESPACE, query)
                    latencies.append(time.perf_counter() - t)
                    hits += int(found.profile_ids[0] == ids[exact[i]])
                    t = time.perf_counter()
                    store.gallery_version(NAMESPACE)
                    checks.append(time.perf_counter() - t)
                changed = "not measured"
                if n <= args.change_max:
                    store.update_profile(NAMESPACE, str(ids[0]), ProfileChanges(name="renamed"))
                    started = time.perf_counter()
                    index.candidates(NAMESPACE, q[0])
                    changed = f"{time.perf_counter() - started:.2f} s"
            finally:
                store.close()
        print(
            f"| {n:,} | {search} | {write_s:.1f} s | {read_s:.2f} s | {first_s:.2f} s "
            f"| {held:.0f} MB | {ms(latencies, 50):.2f} ms | {ms(latencies, 95):.2f} ms "
            f"| {ms(checks, 50):.3f} ms | {hits / len(q):.3f} | {changed} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
