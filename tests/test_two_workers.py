"""Two ``voxprint serve`` processes on one PostgreSQL: any worker serves any request.

Streams, profiles, keys and calibrations live in the shared store, so a stream opened on
one worker is appended to and used on the other, and a profile enrolled on one is
identified on the other at once. The real model (GE2E, the light encoder) runs in both.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from voxprint.access import KeyService
from voxprint.store import open_store

from conftest import REPO_ROOT

pytestmark = [pytest.mark.data, pytest.mark.slow]

FLAC = {"Content-Type": "audio/flac"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_worker(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "VOXPRINT_DB": url,
        "VOXPRINT_INFERENCE_WORKERS": "1",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from voxprint.cli.app import main; main()",
                "serve",
                "--model",
                "ge2e",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(600):  # the model loads first: up to a minute on a busy 2-core machine
        if process.poll() is not None:
            pytest.fail(f"worker exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"worker at {base} never became ready: {log.read_text()[-2000:]}")


@pytest.fixture()
def workers(postgres_url: str, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    store = open_store(postgres_url)
    key = KeyService(store).create("pair", "tenant").token
    store.close()
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    processes = [
        start_worker(postgres_url, port, log) for port, log in zip(ports, logs, strict=True)
    ]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, process, log in zip(bases, processes, logs, strict=True):
            wait_ready(base, process, log)
        yield bases[0], bases[1], key
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_stream_and_an_enrolment_on_one_worker_are_used_on_the_other(
    workers: tuple[str, str, str], data_root: Path
) -> None:
    first, second, key = workers
    headers = {"Authorization": f"Bearer {key}"}
    speakers = sorted(p for p in (data_root / "librispeech" / "test-other").iterdir())
    alice = sorted(speakers[0].glob("*.flac"))
    bob = sorted(speakers[1].glob("*.flac"))
    with httpx.Client(headers=headers, timeout=120) as http:
        profile = http.post(f"{first}/v1/profiles", json={"name": "alice"}).json()["id"]
        # Enrolment clips alternate between the workers; both add to one profile.
        for index, path in enumerate(alice[:-1]):
            base = (first, second)[index % 2]
            report = http.post(
                f"{base}/v1/profiles/{profile}/enrollments",
                content=path.read_bytes(),
                headers=FLAC,
            )
            assert report.status_code in (200, 201), report.text
            if report.json()["status"] == "enrolled":
                break
        assert report.json()["status"] == "enrolled"
        clips = report.json()["profile"]["clip_count"]
        assert clips == index + 1
        other = http.post(f"{second}/v1/profiles", json={"name": "bob"}).json()["id"]
        for path in bob[:8]:
            done = http.post(
                f"{second}/v1/profiles/{other}/enrollments", content=path.read_bytes(), headers=FLAC
            ).json()
            if done["status"] == "enrolled":
                break

        # Identified at once on the worker that did not enrol her last clip.
        found = http.post(f"{first}/v1/identify", content=alice[-1].read_bytes(), headers=FLAC)
        assert found.status_code == 200, found.text
        assert found.json()["identified"]["profile_id"] == profile
        assert found.json()["gallery_size"] == 2

        # A stream opened on one worker, appended on both, used on the other.
        audio = bob[-1].read_bytes()
        stream = http.post(f"{first}/v1/streams", json={"format": "encoded"}).json()["id"]
        half = len(audio) // 2
        assert http.post(f"{second}/v1/streams/{stream}", content=audio[:half]).is_success
        assert http.post(f"{first}/v1/streams/{stream}", content=audio[half:]).is_success
        seen = http.get(f"{second}/v1/streams/{stream}").json()
        assert seen["bytes"] == len(audio) and seen["chunks"] == 2
        who = http.post(f"{second}/v1/streams/{stream}/identify").json()
        assert who["identified"]["profile_id"] == other
        assert http.delete(f"{first}/v1/streams/{stream}").status_code == 204
        assert http.get(f"{second}/v1/streams/{stream}").status_code == 404

        # A deletion on one worker is seen by the other's next search.
        assert http.delete(f"{second}/v1/profiles/{profile}").status_code == 204
        gone = http.post(f"{first}/v1/identify", content=alice[-1].read_bytes(), headers=FLAC)
        assert gone.json()["gallery_size"] == 1
        assert (gone.json()["identified"] or {}).get("profile_id") != profile
