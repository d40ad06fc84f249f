"""Real-time figures (issue 6): how quickly live identification answers.

Usage:  .venv/bin/python bench/live_latency.py [--runs 3]

Builds a recording from the shared data (1.5 s silence, 3 s of an unenrolled
speaker, then 4 s of enrolled speaker 1688), enrols 1688 and 2033 with CAM++ in a
temporary store, and plays the recording at real-time pace:

* ``local``: ``voxprint listen --file`` in-process (``run_local``);
* ``websocket``: through ``/v1/ws/identify`` of a real ``voxprint serve`` (uvicorn,
  one worker) on localhost, as ``voxprint listen --server`` does (``run_remote``).

Reported per path: latency from the last audio sample of a window arriving to its
result (median, p95), from the end of the audio to the final result, the result
cadence (audio seconds between results, and wall seconds between them), and how
long after the target speaker starts they are first named.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf

from voxprint.bootstrap import ServiceOptions, build_key_service, build_service
from voxprint.cli.listen import file_blocks, run_local, run_remote
from voxprint.live import IdentifyScorer, LiveConfig, evaluate_window

DATA = Path(os.environ.get("VOXPRINT_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
TEST_OTHER = DATA / "librispeech" / "test-other"
RATE = 16000
TARGET_START = 4.5


def recording(folder: Path) -> Path:
    def read(relative: str, seconds: float) -> np.ndarray:
        return sf.read(TEST_OTHER / relative, dtype="float32")[0][: int(seconds * RATE)]

    audio = np.concatenate(
        [
            np.zeros(int(1.5 * RATE), np.float32),
            read("2414/2414-128291-0002.flac", 3.0),
            read("1688/1688-142285-0006.flac", 4.0),
        ]
    )
    path = folder / "mixed.wav"
    sf.write(path, audio, RATE)
    return path


def enrol(db: Path) -> None:
    service = build_service(ServiceOptions(db=db, enrollment_speech_seconds=15.0))
    for speaker, session, numbers in (("1688", "142285", (0, 1)), ("2033", "164914", (0, 1, 2))):
        profile = service.create_profile(speaker)
        for n in numbers:
            service.enroll(profile.id, TEST_OTHER / speaker / f"{speaker}-{session}-{n:04d}.flac")
    service.store.close()


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[float, dict]] = []

    def __call__(self, event: dict, latency: float) -> None:
        self.events.append((time.perf_counter(), {**event, "latency": latency}))

    def report(self, label: str, final_latency: float | None) -> str:
        results = [e for _, e in self.events if not e["final"]]
        walls = np.diff([t for t, e in self.events if not e["final"]])
        audio_steps = np.diff([e["audio_seconds"] for e in results])
        latency = np.array([e["latency"] for e in results]) * 1000
        named = next((e for e in results if e["name"] == "1688"), None)
        first = "never" if named is None else f"{named['audio_seconds'] - TARGET_START:.1f} s"
        return (
            f"| {label} | {np.median(latency):.0f} | {np.percentile(latency, 95):.0f} "
            f"| {(final_latency or 0) * 1000:.0f} | {np.median(audio_steps):.2f} "
            f"({audio_steps.min():.2f}-{audio_steps.max():.2f}) "
            f"| {np.median(walls):.2f} ({walls.min():.2f}-{walls.max():.2f}) | {first} |"
        )


def serve(db: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            *(sys.executable, "-c", "from voxprint.cli.app import main; main()", "serve"),
            *("--port", str(port), "--db", str(db), "--log-level", "warning"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, db = recording(folder), folder / "voxprint.db"
        enrol(db)
        key = build_key_service(db).create("bench").token
        config = LiveConfig()
        service = build_service(ServiceOptions(db=db))
        scorer = IdentifyScorer(service, min_score=config.identification_threshold)

        def evaluate(window):
            return evaluate_window(service, window, scorer, config.min_speech_seconds)

        print(
            "| path | last sample → result, median ms | p95 ms | end of audio → final ms "
            "| audio s between results | wall s between results | 1688 named after |"
        )
        print("|---|---|---|---|---|---|---|")
        for run in range(args.runs):
            recorder = Recorder()
            latencies = run_local(file_blocks(path, 1.0, 0.5), config, evaluate, recorder)
            print(recorder.report(f"local, run {run + 1}", latencies.final))
        process = serve(db, args.port)
        try:
            for run in range(args.runs):
                recorder = Recorder()
                latencies = run_remote(
                    file_blocks(path, 1.0, 0.5), f"http://127.0.0.1:{args.port}", key, 2.0, recorder
                )
                print(recorder.report(f"websocket, run {run + 1}", latencies.final))
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
