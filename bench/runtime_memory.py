"""Memory of the CAM++ runtimes when every request has another length (issue 15).

Usage:
    .venv/bin/python bench/runtime_memory.py [--runtimes auto onnx openvino openvino-bf16]
        [--shape-step 0 64 256] [--cache-capacity 50]

Each runtime runs in a fresh process: CAM++ embeds 3 s of LibriSpeech speech once, then
clips of 1 to 30 s in 0.5 s steps, twice over (118 calls, as a server sees clips of every
length). Prints the resident memory after the first call and after all of them, and the
mean time per call in each pass: the first meets every shape new, the second finds them
all warm. ``--shape-step`` replaces OpenVINO's frame padding
(``campplus_runtime.padded_frames``: steps of 64 frames up to 1024, of 256 above) by one
step for every length (0: the runtime's own), and ``--cache-capacity`` sets OpenVINO's
``CPU_RUNTIME_CACHE_CAPACITY`` (its cache of kernels per input shape), to measure what
each changes. Runtimes this CPU cannot run (``openvino-bf16`` without native bf16) are
reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RATE = 16000


def _rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+)", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def _child(runtime: str, step: int | None, capacity: int | None) -> dict[str, object]:
    import voxprint.encoders.campplus_runtime as runtimes
    from voxprint.audio import load_audio
    from voxprint.encoders import load_encoder
    from voxprint.encoders.options import EncoderOptions
    from voxprint.settings import default_data_root

    if step is not None:  # one step for every length
        runtimes.SHAPE_STEP_FRAMES = step
        runtimes.LONG_SHAPE_STEP_FRAMES = step
    if capacity is not None:
        configured = runtimes.openvino_config

        def with_capacity(num_threads: int | None, precision: str) -> dict[str, object]:
            return {**configured(num_threads, precision), "CPU_RUNTIME_CACHE_CAPACITY": capacity}

        runtimes.openvino_config = with_capacity  # type: ignore[assignment]
    if runtime == "openvino-bf16" and not runtimes.openvino_has_native_bf16():
        return {"skipped": "no native bf16 on this CPU"}
    encoder = load_encoder("campplus", options=EncoderOptions(runtime=runtime))
    clip = sorted((default_data_root() / "librispeech" / "test-other").rglob("*.flac"))[0]
    speech = load_audio(clip)
    while speech.size < 31 * RATE:
        speech = np.concatenate([speech, speech])
    encoder.embed(speech[: 3 * RATE])
    first = _rss_mb()
    lengths = np.arange(1.0, 30.01, 0.5)
    per_pass = []
    for _ in range(2):
        started = time.perf_counter()
        for seconds in lengths:
            encoder.embed(speech[: int(seconds * RATE)])
        per_pass.append(1000 * (time.perf_counter() - started) / len(lengths))
    return {
        "rss_first_mb": first,
        "rss_after_mb": _rss_mb(),
        "ms_first_pass": per_pass[0],
        "ms_second_pass": per_pass[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runtimes", nargs="+", default=["auto", "onnx", "openvino", "openvino-bf16"]
    )
    parser.add_argument(
        "--shape-step",
        nargs="+",
        type=int,
        default=[0],
        help="one padding step in frames for every length; 0: the runtime's own",
    )
    parser.add_argument("--cache-capacity", type=int, default=None)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        runtime, step, capacity = args.child
        result = _child(
            runtime,
            None if step == "-" else int(step),
            None if capacity == "-" else int(capacity),
        )
        print(json.dumps(result))
        return
    print(
        "| runtime | shape step | RSS after one call | RSS after 118 calls (1-30 s) "
        "| ms per call, first pass | second pass |"
    )
    print("|---|---|---|---|---|---|")
    capacity = "-" if args.cache_capacity is None else str(args.cache_capacity)
    for runtime in args.runtimes:
        for step in args.shape_step:
            command = [sys.executable, __file__, "--child", runtime, str(step or "-"), capacity]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            lines = done.stdout.strip().splitlines()
            if done.returncode != 0 or not lines:
                why = done.stderr.strip()[-200:]
                print(f"| {runtime} | {step or '64 / 256'} | failed: {why} | | | |")
                continue
            result = json.loads(lines[-1])
            if "skipped" in result:
                print(f"| {runtime} | - | skipped: {result['skipped']} | | | |")
                continue
            print(
                f"| {runtime} | {step or '64 / 256'} | {result['rss_first_mb']:.0f} MB | "
                f"{result['rss_after_mb']:.0f} MB | {result['ms_first_pass']:.1f} | "
                f"{result['ms_second_pass']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
