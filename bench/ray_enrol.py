"""Enrolment throughput: ``voxprint enroll-dir`` in one process against ``--engine ray``
with 1 and 2 workers, on LibriSpeech test-other speakers from the shared data.

Usage:
    .venv/bin/python bench/ray_enrol.py --speakers 4 --files 8 --model campplus

Ray is started once (local instance, all CPUs) before the timed runs; each timed run
includes its actors loading the model. Reported: wall time, files per second and audio
seconds per wall second (higher is better), and the largest difference between the
embeddings stored by that run and by the single-process run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search import cpu_name
from voxprint.cli.app import app as cli
from voxprint.store import open_store


def dataset(data: Path, speakers: int, files: int, into: Path) -> float:
    """Copies ``files`` files of each of ``speakers`` speakers; returns their audio seconds."""
    seconds = 0.0
    folders = sorted(p for p in (data / "librispeech" / "test-other").iterdir() if p.is_dir())
    for folder in folders[:speakers]:
        (into / folder.name).mkdir(parents=True)
        for path in sorted(folder.glob("*.flac"))[:files]:
            shutil.copy(path, into / folder.name / path.name)
            seconds += sf.info(str(path)).duration
    return seconds


def embeddings(db: str) -> dict[tuple[str, str | None], np.ndarray]:
    store = open_store(db)
    try:
        return {
            (p.name, c.label): c.embedding
            for p in store.list_profiles("default", limit=10_000)
            for c in store.list_clips("default", p.id)
        }
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", type=int, default=4)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--model", default="campplus")
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("VOXPRINT_DATA", "../shared/data"))
    )
    args = parser.parse_args()
    import ray

    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    work = Path(tempfile.mkdtemp(prefix="voxprint-ray-bench-"))
    audio = dataset(args.data, args.speakers, args.files, work / "speakers")
    n = args.speakers * args.files
    print(
        f"CPU: {cpu_name()} ({os.cpu_count()} cores); {n} files, {audio:.0f} s of audio; "
        f"model {args.model}; enroll-dir with the quality gate"
    )
    print("| engine | wall | files/s | audio s per s | max |embedding difference| |")
    print("|---|---|---|---|---|")
    runs = [
        ("single process", []),
        ("ray, 1 worker", ["--engine", "ray", "--ray-workers", "1"]),
        ("ray, 2 workers", ["--engine", "ray", "--ray-workers", "2"]),
    ]
    reference: dict[tuple[str, str | None], np.ndarray] | None = None
    runner = CliRunner()
    for name, extra in runs:
        db = str(work / f"{len(extra)}-{extra[-1] if extra else 'local'}.db")
        started = time.perf_counter()
        result = runner.invoke(
            cli,
            [
                "enroll-dir",
                str(work / "speakers"),
                "--model",
                args.model,
                "--db",
                db,
                "--json",
                *extra,
            ],
        )
        wall = time.perf_counter() - started
        if result.exit_code != 0:
            raise SystemExit(f"{name} failed: {result.output[-2000:]}")
        stored = embeddings(db)
        reference = reference or stored
        diff = max(float(np.max(np.abs(stored[k] - reference[k]))) for k in reference)
        print(
            f"| {name} | {wall:.1f} s | {n / wall:.2f} | {audio / wall:.1f} | {diff:.1e} |",
            flush=True,
        )
    ray.shutdown()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
