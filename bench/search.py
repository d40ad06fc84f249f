"""Identify search at scale: exact search against HNSW libraries, on synthetic voiceprints.

Usage:
    .venv/bin/python bench/search.py --sizes 10000 100000 1000000
    .venv/bin/python bench/search.py --sizes 100000 --libraries exact hnswlib
    .venv/bin/python bench/search.py --sizes 1000000 --libraries faiss --m 16 32 \
        --ef-search 128 256 512

Voiceprints are synthetic 192-dim unit vectors with speaker-like structure: each is a
random direction plus a shared "channel" component, so that strangers score about 0.1 as
CAM++ voiceprints do. Each query is a stored voiceprint seen through fresh noise (cosine
about 0.75 with it, like a new recording of an enrolled speaker). Reported per library and
size: build time, memory, search latency p50/p95 for the ``--k`` best (50 by default: the
scorer's candidates, what identify asks for; one query at a time, one thread, as the service
searches), recall@1 against exact search (the approximate best is the exact best), and how
often the exact best is among the ``k`` returned (what the scorer needs, since it re-ranks
the candidates). ``--m`` and ``--ef-search`` sweep the HNSW graph degree and search breadth
(the product's are those of :mod:`voxprint.gallery_index`); the graph is built once per
``m`` and searched at every breadth. Memory is the growth of resident memory during the
build: for exact search nothing (it searches the gallery's own array, 0.77 GB per million
voiceprints, which every path holds).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np

from voxprint import gallery_index
from voxprint.gallery_index import CANDIDATES, SEARCHES, VectorSearch

DIM = 192
QUERIES = 500
K = CANDIDATES
#: Graph degree (m) each library builds with when ``--m`` is not given: the product's.
DEFAULT_M = {"hnswlib": 16, "usearch": 16, "faiss": 48}


def voiceprints(n: int, rng: np.random.Generator) -> np.ndarray:
    channel = rng.normal(size=DIM).astype(np.float32)
    channel /= np.linalg.norm(channel)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        block = rng.normal(size=(min(100_000, n - start), DIM)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        block += 0.33 * channel
        out[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def queries(gallery: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    truth = rng.choice(len(gallery), size=QUERIES, replace=False)
    noise = rng.normal(size=(QUERIES, DIM)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    q = gallery[truth] + 0.9 * noise
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32), truth


def rss_mb() -> float:
    """Resident memory now (not the peak), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build(
    make: Callable[[np.ndarray], VectorSearch], gallery: np.ndarray
) -> tuple[VectorSearch, float, float]:
    """The index, its build time in seconds and the resident memory it added in MB."""
    before = rss_mb()
    started = time.perf_counter()
    index = make(gallery)
    return index, time.perf_counter() - started, rss_mb() - before


def set_breadth(index: VectorSearch, ef: int) -> None:
    """Search breadth ``ef`` from now on (hnswlib and FAISS read it on each search)."""
    gallery_index.EF_SEARCH = ef
    inner = getattr(index, "_index", None)
    if hasattr(inner, "expansion_search"):  # USearch fixes it on the index
        inner.expansion_search = ef


def measure(index: VectorSearch, q: np.ndarray, exact_top: np.ndarray, k: int) -> dict[str, float]:
    latencies = []
    hits = within = 0
    for i, query in enumerate(q):
        t = time.perf_counter()
        found, _ = index.search(query, k)
        latencies.append(time.perf_counter() - t)
        hits += int(len(found) > 0 and found[0] == exact_top[i])
        within += int(exact_top[i] in found)
    return {
        "p50_ms": 1000 * float(np.percentile(latencies, 50)),
        "p95_ms": 1000 * float(np.percentile(latencies, 95)),
        "recall_at_1": hits / len(q),
        "best_within_k": within / len(q),
    }


def maker(name: str, m: int | None) -> Callable[[np.ndarray], VectorSearch]:
    if m is None or name not in ("hnswlib", "faiss"):
        return SEARCHES[name]
    search = SEARCHES[name]
    return lambda vectors: search(vectors, m=m)  # type: ignore[call-arg]


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--libraries", nargs="+", default=list(SEARCHES), choices=list(SEARCHES))
    parser.add_argument("--k", type=int, default=K, help="how many best to ask for")
    parser.add_argument(
        "--ef-search",
        type=int,
        nargs="+",
        default=[gallery_index.EF_SEARCH],
        help="HNSW search breadths to measure on each graph",
    )
    parser.add_argument(
        "--m",
        type=int,
        nargs="+",
        default=[None],
        help="HNSW graph degrees of hnswlib and FAISS (default: the product's)",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(20261204)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{date.today()}; CPU: {cpu_name()} ({os.cpu_count()} cores, load {load}); "
        f"one search thread; {QUERIES} queries, top {args.k}"
    )
    print(
        "| voiceprints | library | m | ef_search | build | memory | p50 | p95 "
        "| recall@1 vs exact | exact best within k |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        gallery = voiceprints(n, rng)
        q, _ = queries(gallery, rng)
        exact = (
            np.argmax(q @ gallery.T, axis=1)
            if n <= 200_000
            else np.array([int(np.argmax(gallery @ v)) for v in q])
        )
        for name in args.libraries:
            for m in args.m if name in ("hnswlib", "faiss") else [None]:
                index, build_s, memory = build(maker(name, m), gallery)
                for ef in args.ef_search if name != "exact" else [0]:
                    if ef:
                        set_breadth(index, ef)
                    r = measure(index, q, exact, args.k)
                    degree = m or DEFAULT_M.get(name, "-")
                    print(
                        f"| {n:,} | {name} | {degree} | {ef or '-'} | {build_s:.1f} s "
                        f"| {memory:.0f} MB | {r['p50_ms']:.2f} ms | {r['p95_ms']:.2f} ms "
                        f"| {r['recall_at_1']:.3f} | {r['best_within_k']:.3f} |",
                        flush=True,
                    )
                del index


if __name__ == "__main__":
    main()
