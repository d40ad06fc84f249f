"""Identify search at scale: exact search against HNSW libraries, on synthetic voiceprints.

Usage:
    .venv/bin/python bench/search.py --sizes 10000 100000 1000000
    .venv/bin/python bench/search.py --sizes 100000 --libraries exact hnswlib

Voiceprints are synthetic 192-dim unit vectors with speaker-like structure: each is a
random direction plus a shared "channel" component, so that strangers score about 0.1 as
CAM++ voiceprints do. Each query is a stored voiceprint seen through fresh noise (cosine
about 0.75 with it, like a new recording of an enrolled speaker). Reported per library and
size: build time, memory, search latency p50/p95 for the 10 best (one query at a time,
one thread, as the service searches), and recall@1 against exact search.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voxprint.gallery_index import SEARCHES, VectorSearch

DIM = 192
QUERIES = 500
K = 10


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


def measure(make: Callable[[np.ndarray], VectorSearch], gallery: np.ndarray, q: np.ndarray,
            exact_top: np.ndarray) -> dict[str, float]:
    before = rss_mb()
    started = time.perf_counter()
    index = make(gallery)
    build = time.perf_counter() - started
    memory = rss_mb() - before
    latencies = []
    hits = 0
    for i, query in enumerate(q):
        t = time.perf_counter()
        found, _ = index.search(query, K)
        latencies.append(time.perf_counter() - t)
        hits += int(len(found) > 0 and found[0] == exact_top[i])
    return {
        "build_s": build,
        "memory_mb": memory,
        "p50_ms": 1000 * float(np.percentile(latencies, 50)),
        "p95_ms": 1000 * float(np.percentile(latencies, 95)),
        "recall_at_1": hits / len(q),
    }


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--libraries", nargs="+", default=list(SEARCHES), choices=list(SEARCHES))
    args = parser.parse_args()
    rng = np.random.default_rng(20261204)
    print(f"CPU: {cpu_name()}; one search thread; {QUERIES} queries, top {K}")
    print("| voiceprints | library | build | memory | p50 | p95 | recall@1 vs exact |")
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        gallery = voiceprints(n, rng)
        q, _ = queries(gallery, rng)
        exact = np.argmax(q @ gallery.T, axis=1) if n <= 200_000 else np.array(
            [int(np.argmax(gallery @ v)) for v in q]
        )
        for name in args.libraries:
            r = measure(SEARCHES[name], gallery, q, exact)
            print(
                f"| {n:,} | {name} | {r['build_s']:.1f} s | {r['memory_mb']:.0f} MB "
                f"| {r['p50_ms']:.2f} ms | {r['p95_ms']:.2f} ms | {r['recall_at_1']:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
