"""What searching by band and sampling each band cost on a large SQLite namespace.

Usage:
    .venv/bin/python bench/band_search_store.py --profiles 200000 --db /tmp/bands.db

A SQLite store (made at ``--db`` if it does not exist; kept for the next run) holds
``--profiles`` enrolled profiles of synthetic 192-dim voiceprints, one clip each, 1 %
enrolled by telephone (narrowband), ids random. Then, with the service's own
:class:`GalleryIndex` (its defaults: FAISS HNSW from 20,000 voiceprints) and
:class:`Thresholds` (the CAM++ prior):

- the index's load (read and build: minutes at 200,000, the HNSW build);
- one plain search for the 50 best, the first search by band (each row's band worked
  out from the gallery) and a later one;
- the statistics refresh and the impostor point without one profile (what every
  enrolment runs), twice each.

Wall times on this machine; other processes running beside it move them.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from machine import header
from voxprint.gallery_index import GalleryIndex
from voxprint.operating_points import DEFAULT_PRIORS
from voxprint.store import SQLiteStore
from voxprint.store.checks import time_text, vector_blob
from voxprint.store.records import Band
from voxprint.thresholds import Thresholds

ENCODER = ("campplus", "bench")
NAMESPACE = "default"
PROFILE_INSERT = (
    "INSERT INTO profiles (id, namespace, name, external_id, metadata, encoder_name, "
    "encoder_version, status, clip_count, audio_seconds, net_speech_seconds, voiceprint, "
    "created_at, updated_at, band, statistics_band) "
    "VALUES (?, ?, ?, NULL, '{}', ?, ?, 'enrolled', 1, 20.0, 20.0, ?, ?, ?, ?, ?)"
)
CLIP_INSERT = (
    "INSERT INTO clips (id, profile_id, embedding, audio_seconds, net_speech_seconds, "
    "label, created_at, bandwidth_hz, content_hash) VALUES (?, ?, ?, 20.0, 20.0, NULL, ?, ?, NULL)"
)


def build(path: Path, profiles: int) -> None:
    """Bulk-write the profiles and clips (one transaction)."""
    SQLiteStore(path).close()
    rng = np.random.default_rng(0)
    stamp = time_text(datetime.now(UTC), "created_at")
    connection = sqlite3.connect(path)
    with connection:
        for i in range(profiles):
            vector = rng.normal(size=192).astype(np.float32)
            blob = vector_blob(vector / np.linalg.norm(vector), "voiceprint")
            pid = str(uuid.UUID(int=int(rng.integers(2**62))))
            band = Band.NARROW if i % 100 == 0 else Band.WIDE
            connection.execute(
                PROFILE_INSERT,
                (pid, NAMESPACE, f"speaker {i}", *ENCODER, blob, stamp, stamp, band, band),
            )
            bandwidth = 3400.0 if band is Band.NARROW else 7600.0
            connection.execute(CLIP_INSERT, (str(uuid.uuid4()), pid, blob, stamp, bandwidth))
    connection.close()


def timed(label: str, work) -> object:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = work()
    print(f"| {label} | {1000 * (time.perf_counter() - started):,.1f} ms |")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=200_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/voxprint-bands.db"))
    args = parser.parse_args()
    if not args.db.exists():
        build(args.db, args.profiles)
    print(header())
    print()
    store = SQLiteStore(args.db)
    index = GalleryIndex(store, *ENCODER)
    query = np.random.default_rng(1).normal(size=192).astype(np.float32)
    prior = DEFAULT_PRIORS["campplus"]
    thresholds = Thresholds(
        store=store,
        encoder_name=ENCODER[0],
        encoder_version=ENCODER[1],
        prior=prior,
        fallback=prior.operating_point(),
    )
    print("| step | wall time |")
    print("|---|---|")
    size = timed("index load and build", lambda: index.load(NAMESPACE))
    timed("search, 50 best", lambda: index.candidates(NAMESPACE, query))
    found = timed("first search by band", lambda: index.candidates(NAMESPACE, query, by_band=True))
    timed("later search by band", lambda: index.candidates(NAMESPACE, query, by_band=True))
    for _ in range(2):
        timed("statistics refresh", lambda: thresholds.refresh(NAMESPACE))
        timed(
            "impostor point without one profile",
            lambda: thresholds.impostor_point(NAMESPACE, excluding=found.profile_ids[0]),  # type: ignore[attr-defined]
        )
    print()
    print(f"{size:,} profiles")
    store.close()


if __name__ == "__main__":
    main()
