"""The CPU this process runs on, as far as choosing a CAM++ engine is concerned."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import platform
from dataclasses import dataclass
from pathlib import Path

#: Instruction-set flags that change which engine is fastest (``/proc/cpuinfo`` names).
RELEVANT_FLAGS = frozenset(
    {
        "avx",
        "avx2",
        "fma",
        "f16c",
        "avx512f",
        "avx512bw",
        "avx512vl",
        "avx512_vnni",
        "avx_vnni",
        "avx512_bf16",
        "avx512_fp16",
        "amx_bf16",
        "amx_int8",
        "amx_tile",
        "asimd",
        "sve",
        "bf16",
    }
)
#: Flags that mean native bfloat16 arithmetic (what OpenVINO's bf16 needs).
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class CpuInfo:
    """What identifies a CPU for the choice: its model name and instruction-set flags."""

    model: str
    flags: frozenset[str] = frozenset()

    @property
    def relevant_flags(self) -> tuple[str, ...]:
        return tuple(sorted(self.flags & RELEVANT_FLAGS))

    @property
    def has_bf16(self) -> bool:
        return bool(self.flags & BF16_FLAGS)

    @property
    def isa(self) -> str:
        """The widest vector extension, in words: ``"AMX"``, ``"AVX-512 BF16"``,
        ``"AVX-512"``, ``"AVX2"``, ``"AVX"`` or ``"baseline"``."""
        for flag, label in (
            ("amx_bf16", "AMX"),
            ("avx512_bf16", "AVX-512 BF16"),
            ("avx512f", "AVX-512"),
            ("avx2", "AVX2"),
            ("avx", "AVX"),
        ):
            if flag in self.flags:
                return label
        return "baseline"

    @property
    def key(self) -> str:
        """A stable hash of the model name and the relevant flags."""
        text = json.dumps([self.model, self.relevant_flags])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def describe(self) -> str:
        return f"{self.model} ({self.isa}; {' '.join(self.relevant_flags) or 'no flags read'})"


def read_cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuInfo:
    """This machine's CPU from ``/proc/cpuinfo`` (Linux), else from :mod:`platform`."""
    model, flags = "", frozenset[str]()
    with contextlib.suppress(OSError):
        for line in cpuinfo.read_text(errors="replace").splitlines():
            name, _, value = line.partition(":")
            name = name.strip()
            if name in ("model name", "Model Name") and not model:
                model = value.strip()
            elif name in ("flags", "Features") and not flags:
                flags = frozenset(value.split())
            if model and flags:
                break
    return CpuInfo(model or platform.processor() or platform.machine() or "unknown", flags)


@functools.cache
def cpu_info() -> CpuInfo:
    """This machine's CPU (read once per process)."""
    return read_cpu_info()
