"""Load benchmark of the REST service: concurrent verify requests against a real server.

Starts ``voxprint serve`` (real CAM++ model) on a temporary database with a fresh
API key, enrols one LibriSpeech ``test-other`` speaker until the profile is
enrolled, then sends verify requests of a 5 s clip of the same speaker at each
concurrency level and reports p50/p95 latency, requests per second and errors.

    .venv/bin/python bench/load.py                      # c=1 and c=16, print the table
    .venv/bin/python bench/load.py --write              # also update docs/benchmarks.md
    .venv/bin/python bench/load.py --inference-workers 1 --threads 2

The client runs on the same machine as the server, so it takes some CPU too.
The machine's load average is reported with the figures: rerun on a quiet machine
before comparing numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import soundfile as sf

from machine import header

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
HEADING = "## Service load (issue 3)"
VOXPRINT = str(Path(sys.executable).with_name("voxprint"))


@dataclass(frozen=True)
class LevelResult:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    mean_ms: float
    accepted: int
    load_before: float
    load_after: float
    server_cpu_ms: float
    client_cpu_ms: float
    #: The server's peak resident memory so far (VmHWM) after this level, MB.
    peak_rss_mb: float = float("nan")
    #: The server's resident memory (VmRSS) at the end of this level, MB.
    rss_mb: float = float("nan")

    @property
    def rps(self) -> float:
        return (self.requests - self.errors) / self.seconds

    @property
    def ceiling_rps(self) -> float:
        """Verify rps the server's own CPU use allows on all of this machine's cores."""
        return (os.cpu_count() or 1) * 1000 / self.server_cpu_ms


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A memory figure of a process from ``/proc/PID/status`` (``VmRSS``: now, ``VmHWM``:
    its peak so far), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def five_second_wav(path: Path, seconds: float = 5.0) -> bytes:
    """The first ``seconds`` of a FLAC file as 16-bit WAV bytes."""
    audio, rate = sf.read(path, dtype="float32")
    audio = audio[: int(seconds * rate)]
    if len(audio) < int(seconds * rate):
        raise SystemExit(f"{path} is shorter than {seconds} s")
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def start_server(db: Path, port: int, args: argparse.Namespace, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "VOXPRINT_INFERENCE_WORKERS": str(args.inference_workers),
        "VOXPRINT_LOG_JSON": "false",
    }
    if args.threads:
        env["VOXPRINT_NUM_THREADS"] = str(args.threads)
    if args.runtime:
        env["VOXPRINT_CAMPPLUS_RUNTIME"] = args.runtime
    if args.server_src:
        env["PYTHONPATH"] = str(Path(args.server_src).resolve())
    if args.rival_weight is not None:
        env["VOXPRINT_RIVAL_WEIGHT"] = str(args.rival_weight)
    command = [VOXPRINT, "serve", "--db", str(db), "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(
        command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=REPO
    )


def wait_ready(base: str, process: subprocess.Popen, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            response = httpx.get(f"{base}/readyz", timeout=2)
            if response.status_code == 200:
                return dict(response.json())
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become ready")


def add_others(db: Path, client: httpx.Client, profile_id: str, count: int) -> None:
    """``count`` more enrolled profiles in the bench profile's namespace, each with a random
    voiceprint of the encoder's size (strangers to the probe), written to the store the
    server uses: verify then weighs the best of them as rivals."""
    import uuid
    from datetime import UTC, datetime

    import numpy as np

    from voxprint.store import open_store
    from voxprint.store.records import Band, Clip, EnrollmentState, EnrollmentStatus, Profile

    bench = client.get(f"/v1/profiles/{profile_id}").json()
    size = client.get(f"/v1/profiles/{profile_id}/voiceprint").json()["dimension"]
    vectors = np.random.default_rng(0).normal(size=(count, size)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    namespace = client.get("/v1/thresholds").json()["namespace"]
    store = open_store(str(db))
    now = datetime.now(UTC)
    try:
        for i, vector in enumerate(vectors):
            pid = str(uuid.uuid4())
            store.create_profile(
                Profile(
                    id=pid,
                    namespace=namespace,
                    name=f"other-{i}",
                    encoder_name=bench["encoder_name"],
                    encoder_version=bench["encoder_version"],
                    created_at=now,
                    updated_at=now,
                )
            )
            state = EnrollmentState(
                vector,
                EnrollmentStatus.ENROLLED,
                20.0,
                20.0,
                band=Band.WIDE,
                statistics_band=Band.WIDE,
            )
            clip = Clip(str(uuid.uuid4()), pid, vector, 20.0, 20.0, now, None, 7000.0)
            store.add_clip(namespace, clip, lambda _clips, _before, state=state: state)
    finally:
        store.close()


def enrol(client: httpx.Client, files: list[Path]) -> tuple[str, int]:
    """Create a profile and add clips until it is enrolled; returns (id, clips used)."""
    profile_id = client.post("/v1/profiles", json={"name": "bench"}).json()["id"]
    for used, path in enumerate(files, start=1):
        response = client.post(
            f"/v1/profiles/{profile_id}/enrollments",
            content=path.read_bytes(),
            headers={"Content-Type": "audio/flac"},
            timeout=120,
        )
        response.raise_for_status()
        if response.json()["status"] == "enrolled":
            return profile_id, used
    raise SystemExit("ran out of clips before the profile was enrolled")


async def run_level(
    base: str,
    headers: dict[str, str],
    url: str,
    clip: bytes,
    concurrency: int,
    total: int,
    server_pid: int,
) -> LevelResult:
    latencies: list[float] = []
    errors = accepted = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors, accepted
        while True:
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            start = time.perf_counter()
            try:
                response = await client.post(url, content=clip)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - start)
            if not ok:
                errors += 1
            elif response.json()["decision"] == "accept":
                accepted += 1

    load_before = os.getloadavg()[0]
    server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
    async with httpx.AsyncClient(
        base_url=base,
        headers={**headers, "Content-Type": "audio/wav"},
        limits=limits,
        timeout=120,
    ) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    server_cpu, client_cpu = cpu_seconds(server_pid) - server_cpu, time.process_time() - client_cpu
    ms = sorted(1000 * x for x in latencies)
    return LevelResult(
        concurrency=concurrency,
        requests=total,
        errors=errors,
        seconds=seconds,
        p50_ms=statistics.median(ms),
        p95_ms=ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))],
        mean_ms=statistics.fmean(ms),
        accepted=accepted,
        load_before=load_before,
        load_after=os.getloadavg()[0],
        server_cpu_ms=1000 * server_cpu / total,
        client_cpu_ms=1000 * client_cpu / total,
        peak_rss_mb=memory_mb(server_pid, "VmHWM"),
        rss_mb=memory_mb(server_pid),
    )


def table(results: list[LevelResult]) -> str:
    lines = [
        "| concurrency | requests | errors | p50 ms | p95 ms | mean ms | verify rps | "
        "accepted | server CPU ms/req | client CPU ms/req | CPU-bound rps ceiling | "
        "server peak RSS MB | server RSS MB at the end | load avg (before → after) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.concurrency} | {r.requests} | {r.errors} | {r.p50_ms:.0f} | {r.p95_ms:.0f} | "
            f"{r.mean_ms:.0f} | {r.rps:.1f} | {r.accepted} | {r.server_cpu_ms:.0f} | "
            f"{r.client_cpu_ms:.0f} | {r.ceiling_rps:.1f} | {r.peak_rss_mb:.0f} | {r.rss_mb:.0f} | "
            f"{r.load_before:.1f} → {r.load_after:.1f} |"
        )
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace (or append) this benchmark's section of docs/benchmarks.md."""
    doc = DOC.read_text()
    start = doc.find(HEADING)
    if start < 0:
        DOC.write_text(doc.rstrip("\n") + "\n\n" + text + "\n")
        return
    end = doc.find("\n## ", start + len(HEADING))
    end = len(doc) if end < 0 else end + 1
    DOC.write_text(doc[:start] + text + "\n" + ("\n" + doc[end:] if end < len(doc) else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("VOXPRINT_DATA", REPO.parent / "shared" / "data")),
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--requests", type=int, default=0, help="per level (default 40*c, ≥60)")
    parser.add_argument("--inference-workers", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=0, help="VOXPRINT_NUM_THREADS (0: the runtime default)"
    )
    parser.add_argument("--runtime", default="", help="VOXPRINT_CAMPPLUS_RUNTIME (default: unset)")
    parser.add_argument(
        "--server-src", default="", help="PYTHONPATH of the server (another checkout's src)"
    )
    parser.add_argument(
        "--others", type=int, default=0, help="more enrolled profiles (random voiceprints)"
    )
    parser.add_argument(
        "--rival-weight", type=float, default=None, help="VOXPRINT_RIVAL_WEIGHT of the server"
    )
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()

    speakers = sorted(p for p in (args.data / "librispeech" / "test-other").iterdir() if p.is_dir())
    if not speakers:
        raise SystemExit(f"no speakers under {args.data}/librispeech/test-other")
    files = sorted(speakers[0].glob("*.flac"))
    probe_file = next(f for f in reversed(files) if sf.info(f).duration >= 5.0)
    enrol_files = [f for f in files if f != probe_file]
    clip = five_second_wav(probe_file)

    with tempfile.TemporaryDirectory(prefix="voxprint-load-") as folder:
        db = Path(folder) / "load.db"
        created = subprocess.run(
            [VOXPRINT, "keys", "create", "--name", "load", "--db", str(db), "--json"],
            check=True,
            capture_output=True,
            text=True,
        )
        key = json.loads(created.stdout)["key"]
        headers = {"Authorization": f"Bearer {key}"}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = Path(folder) / "server.log"
        started = time.perf_counter()
        server = start_server(db, port, args, log)
        try:
            ready = wait_ready(base, server)
            startup = time.perf_counter() - started
            time.sleep(1.0)
            rss_ready = memory_mb(server.pid)
            with httpx.Client(base_url=base, headers=headers) as client:
                profile_id, clips = enrol(client, enrol_files)
                if args.others:
                    add_others(db, client, profile_id, args.others)
                url = f"/v1/profiles/{profile_id}/verify"
                for _ in range(3):  # warm up
                    warm = client.post(url, content=clip, headers={"Content-Type": "audio/wav"})
                    warm.raise_for_status()
            time.sleep(1.0)
            rss_idle = memory_mb(server.pid)
            results = [
                asyncio.run(
                    run_level(
                        base, headers, url, clip, c, args.requests or max(60, 40 * c), server.pid
                    )
                )
                for c in args.concurrency
            ]
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
            if server.returncode not in (0, -15):
                print(log.read_text()[-3000:], file=sys.stderr)

    command = "python bench/load.py " + shlex.join(sys.argv[1:])
    text = "\n".join(
        [
            HEADING,
            "",
            header(),
            "",
            f"Command: `{command.strip()}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            f"{os.cpu_count()} CPUs, shared). Server: `voxprint serve`, encoder "
            f"{ready['encoder']}, inference workers {args.inference_workers}, model threads "
            f"per call {args.threads or 'auto'}, runtime {args.runtime or 'default'}; "
            f"ready after {startup:.1f} s (RSS {rss_ready:.0f} MB; idle after enrolment and "
            f"warm-up {rss_idle:.0f} MB). Profile enrolled from {clips} clips of LibriSpeech "
            f"test-other speaker {speakers[0].name}; each request verifies a 5 s WAV clip "
            f"({len(clip) // 1024} KiB) of the same speaker. Client: httpx async on the same "
            "machine.",
            "",
            table(results),
            "",
            "Server CPU ms/req is the CPU time (all threads) the server process used per request "
            "during the level, read from /proc; the CPU-bound ceiling is cores × 1000 / that "
            "figure: the verify rate the server's own CPU use would allow with the machine to "
            "itself and the client elsewhere. Wall-clock figures on a shared machine mostly "
            "measure the other jobs: rerun on a quiet machine before comparing.",
        ]
    )
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
