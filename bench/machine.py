"""What every speed figure is measured on: CPU model and flags, runtime chosen, commit.

    .venv/bin/python bench/machine.py          # print the header the benchmarks print

Speed depends on the CPU more than on anything else (docs/benchmarks.md, "Fast on every
CPU"), so ``bench/speed.py``, ``bench/load.py`` and ``bench/startup.py`` print this
header above their tables.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from voxprint.encoders.campplus_selection import runtime_report
from voxprint.encoders.cpu import cpu_info
from voxprint.encoders.options import EncoderOptions

REPO = Path(__file__).resolve().parents[1]


def commit() -> str:
    """The checked-out commit (12 hex digits), ``+dirty`` when files are changed."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def versions() -> str:
    parts = [f"Python {platform.python_version()}"]
    for package in ("onnxruntime", "openvino", "torch", "numpy"):
        try:
            parts.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{package} missing")
    return ", ".join(parts)


def header(options: EncoderOptions | None = None) -> str:
    """Lines naming the machine, the CAM++ runtime it chooses and why, and the commit."""
    options = options or EncoderOptions(
        runtime=os.environ.get("VOXPRINT_CAMPPLUS_RUNTIME") or None,
        quantize=os.environ.get("VOXPRINT_QUANTIZE") or None,
    )
    cpu = cpu_info()
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    choice = runtime_report(options.runtime, options.quantize)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join(
        [
            f"CPU: {cpu.model}, {cores} usable cores, {cpu.isa} "
            f"(flags: {' '.join(cpu.relevant_flags) or 'none read'})",
            f"{choice.describe()}",
            f"commit {commit()}; {versions()}; load average {load}",
        ]
    )


if __name__ == "__main__":
    print(header())
