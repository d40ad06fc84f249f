"""Start-up: wall time and memory of CLI commands as a user runs them, and the server's
time to ready.

    .venv/bin/python bench/startup.py                 # 5 runs of each command
    .venv/bin/python bench/startup.py --runs 9 --serve

Every command is a fresh process (cold process) after one untimed run that fills the
caches (ONNX graph, onnxruntime's optimised graph, OpenVINO's model cache, the runtime
measurement: warm caches). A temporary database holds one enrolled LibriSpeech
speaker; ``verify`` checks a 5 s WAV clip of the same speaker. For each command: median
and fastest wall seconds, peak RSS, and which heavy modules the process imported.
``--serve`` also starts ``voxprint serve`` a few times and reports the seconds until
``/readyz`` answers 200 and the server's RSS once ready. ``--peer-src DIR`` runs every
command also with ``PYTHONPATH=DIR`` (another checkout's ``src``, e.g. the commit before a
change), interleaved with this one, on its own database and caches as they are.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import soundfile as sf

from machine import header

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "onnxruntime", "openvino", "scipy.optimize")
#: Runs ``voxprint`` in this interpreter and reports the heavy modules it imported.
RUNNER = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('MODULES', ','.join(m for m in {heavy!r} "
    "if m in sys.modules), file=sys.stderr))\n"
    "from voxprint.cli.app import main\n"
    "sys.argv = ['voxprint', *sys.argv[1:]]\n"
    "main()\n"
)


def run_command(args: list[str], env: dict[str, str]) -> tuple[float, float, str, int]:
    """Wall seconds, peak RSS (MB), heavy modules imported and exit code of one run."""
    code = RUNNER.format(heavy=HEAVY)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read() if process.stderr else ""
    modules = next(
        (line.split(" ", 1)[1] for line in stderr.splitlines() if line.startswith("MODULES")),
        "?",
    )
    return wall, usage.ru_maxrss / 1024, modules or "-", os.waitstatus_to_exitcode(status)


def five_second_wav(source: Path, target: Path) -> None:
    audio, rate = sf.read(source, dtype="float32")
    sf.write(target, audio[: 5 * rate], rate, subtype="PCM_16")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve_ready(env: dict[str, str], db: Path) -> tuple[float, float]:
    """Seconds from starting ``voxprint serve`` to ``/readyz`` 200, and RSS (MB) then."""
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "import sys; from voxprint.cli.app import main; sys.argv = ['voxprint', *sys.argv[1:]]; "
        "main()",
        "serve",
        "--db",
        str(db),
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited with {process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        ready = time.perf_counter() - started
        time.sleep(1.0)
        return ready, rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("VOXPRINT_DATA", REPO.parent / "shared" / "data")),
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--serve", action="store_true", help="also time the server to ready")
    parser.add_argument("--peer-src", type=Path, help="also run with PYTHONPATH=this folder")
    args = parser.parse_args()

    speaker = args.data / "librispeech" / "test-other" / "1688"
    files = sorted(speaker.glob("*.flac"))
    with tempfile.TemporaryDirectory(prefix="voxprint-startup-") as temp:
        folder = Path(temp)
        db = folder / "bench.db"
        probe = folder / "probe5.wav"
        five_second_wav(files[7], probe)
        env = {**os.environ, "VOXPRINT_DB": str(db)}
        variants = {"this": env}
        if args.peer_src is not None:
            variants["peer"] = {
                **os.environ,
                "VOXPRINT_DB": str(folder / "peer.db"),
                "PYTHONPATH": str(args.peer_src.resolve()),
            }
        enrol = ["enroll", "alice", *(str(p) for p in files[:4])]
        for variant_env in variants.values():
            _, _, _, code = run_command(enrol, variant_env)
            if code != 0:
                raise SystemExit(f"enrolment failed with exit code {code}")
        commands = {
            "--version": ["--version"],
            "--help": ["--help"],
            "profiles list": ["profiles", "list"],
            "activity": ["activity"],
            "keys list": ["keys", "list"],
            "verify alice probe5.wav (5 s)": ["verify", "alice", str(probe)],
            "verify alice missing.wav": ["verify", "alice", str(folder / "missing.wav")],
            "identify probe5.wav (5 s)": ["identify", str(probe)],
        }
        print(header())
        peer = f" (peer: {args.peer_src})" if args.peer_src else ""
        print(f"\n`bench/startup.py --runs {args.runs}`{peer}; one warm-up run each first\n")
        print(
            "| command | code | median s | fastest s | peak RSS MB | heavy modules imported "
            "| exit |"
        )
        print("|---|---|---:|---:|---:|---|---:|")
        for label, command in commands.items():
            runs: dict[str, list[tuple[float, float, str, int]]] = {v: [] for v in variants}
            for variant_env in variants.values():
                run_command(command, variant_env)  # warm caches
            for _ in range(args.runs):
                for variant, variant_env in variants.items():
                    runs[variant].append(run_command(command, variant_env))
            for variant, results in runs.items():
                walls = [r[0] for r in results]
                print(
                    f"| `voxprint {label}` | {variant} | {statistics.median(walls):.2f} "
                    f"| {min(walls):.2f} | {max(r[1] for r in results):.0f} "
                    f"| {results[-1][2]} | {results[-1][3]} |",
                    flush=True,
                )
        if args.serve:
            for variant, variant_env in variants.items():
                db_path = Path(variant_env["VOXPRINT_DB"])
                serve_ready(variant_env, db_path)  # warm caches
                readies = [serve_ready(variant_env, db_path) for _ in range(max(3, args.runs))]
                times = [r[0] for r in readies]
                print(
                    f"\n`voxprint serve` ({variant}): ready in {statistics.median(times):.2f} s "
                    f"median ({min(times):.2f}-{max(times):.2f}, {len(times)} starts), RSS when "
                    f"ready {statistics.median(r[1] for r in readies):.0f} MB"
                )


if __name__ == "__main__":
    main()
