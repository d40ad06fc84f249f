"""Which engines run CAM++ on this CPU: measured once per CPU and remembered.

The fastest engine depends on the CPU more than on anything else (docs/benchmarks.md,
"Fast on every CPU"): OpenVINO in bfloat16 is the fastest for inputs of 3 s and more on
CPUs with native bfloat16 (AVX-512 BF16, AMX), onnxruntime float32 is faster than
OpenVINO float32 on AVX2-only CPUs and for short inputs everywhere measured. So
``runtime="auto"`` (the default) does not guess:

1. it looks up this CPU (model name, instruction-set flags) and the installed
   onnxruntime and OpenVINO versions in ``runtime-choice.json`` in the cache folder;
2. if they are not there, it times every engine this machine can run (onnxruntime
   float32, OpenVINO float32, OpenVINO bfloat16 where the CPU has it; one thread each,
   on inputs of 1.5, 2.5, 5 and 10 s, interleaved, median of several calls) and keeps
   the fastest for inputs under 3 s and for inputs of 3 s and more, then writes the
   result there. This takes a few seconds, once;
3. where nothing can be measured (``measure=False``, or a failure), it follows
   :data:`RULES`, the choice those measurements gave on the CPUs measured so far.

A user's explicit runtime always wins. :func:`runtime_report` says what will run and
why without loading any model (for ``voxprint info`` and the service's start-up log).
"""

from __future__ import annotations

import hashlib
import json
import logging
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from voxprint.encoders.campplus_runtime import (
    BF16_MIN_FRAMES,
    BF16_PLAN,
    ENGINES,
    NAMED_PLANS,
    CampPlusRuntime,
    Plan,
    RuntimeSpec,
    plan_name,
)
from voxprint.encoders.cpu import CpuInfo, cpu_info
from voxprint.encoders.onnx_cache import atomic_write, default_onnx_cache_dir

logger = logging.getLogger(__name__)

#: Bump when the measurement changes, so that old results are measured again.
SELECTION_VERSION = 1
CHOICE_FILE = "runtime-choice.json"

#: Input lengths (frames, 100 per second) timed for each class of input.
SHORT_FRAMES = (150, 250)
LONG_FRAMES = (500, 1000)
_WARMUP_CALLS = 2
_ROUNDS = 5
#: An engine replaces the rule's choice only when it is at least this much faster.
_MARGIN = 0.05


def library_versions() -> dict[str, str]:
    """Installed versions of the engines' libraries (``"missing"`` when not installed)."""
    versions = {}
    for package in ("onnxruntime", "openvino"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "missing"
    return versions


#: The plans measured fastest so far, by whether the CPU has native bfloat16; used
#: when nothing can be measured. On an AMD EPYC with AVX-512 BF16 (2 cores, one
#: thread each, warm shapes): onnx 16-19 ms vs OpenVINO 19-25 ms for 1.5-2 s inputs,
#: OpenVINO bf16 24 ms vs onnx 37 ms for 5 s. On an AMD EPYC Zen 2 (AVX2): onnx 47.1
#: vs OpenVINO float32 36.2 audio s/s. docs/benchmarks.md has the tables.
RULES: dict[bool, Plan] = {
    True: BF16_PLAN,
    False: NAMED_PLANS["onnx"],
}


@dataclass(frozen=True)
class RuntimeChoice:
    """What runs CAM++ and why.

    ``plan`` is ``(min_frames, engine)`` routes; ``source`` is ``"explicit"`` (the user
    asked), ``"measured"`` (timed now), ``"cached"`` (timed earlier on this CPU) or
    ``"rule"`` (not measured: :data:`RULES`); ``timings_ms`` is the median ms per call of
    each engine at each timed length, when measured.
    """

    plan: Plan
    source: str
    reason: str
    cpu: CpuInfo
    timings_ms: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    measured_at: str | None = None

    @property
    def name(self) -> str:
        return plan_name(self.plan)

    def describe(self) -> str:
        """One line, e.g. ``runtime onnx+openvino-bf16 (measured on AMD EPYC ...): ...``."""
        return f"CAM++ runtime {self.name} ({self.source}): {self.reason}"


def explicit_choice(name: str, quantize: str = "none", cpu: CpuInfo | None = None) -> RuntimeChoice:
    """The choice of a runtime the user named."""
    plan = NAMED_PLANS.get(name, ((0, name),))
    if quantize != "none":
        plan = ((0, "onnx"),) if name != "torch" else plan
    return RuntimeChoice(plan, "explicit", f"{name} was asked for", cpu or cpu_info())


def rule_choice(cpu: CpuInfo, available: frozenset[str], why: str) -> RuntimeChoice:
    """:data:`RULES` for ``cpu``, limited to the ``available`` engines."""
    plan = RULES[cpu.has_bf16 and "openvino-bf16" in available]
    if any(engine not in available for _, engine in plan):
        fallback = "onnx" if "onnx" in available else "torch"
        plan = ((0, fallback),)
    bf16 = "with" if cpu.has_bf16 else "without"
    return RuntimeChoice(
        plan, "rule", f"{why}; rule for CPUs {bf16} native bfloat16 ({cpu.describe()})", cpu
    )


def available_engines(cpu: CpuInfo) -> frozenset[str]:
    """Engines this machine can run: onnx and OpenVINO when installed, OpenVINO bf16 when
    the CPU also has native bfloat16; torch always."""
    versions = library_versions()
    engines = {"torch"}
    if versions["onnxruntime"] != "missing":
        engines.add("onnx")
    if versions["openvino"] != "missing":
        engines.add("openvino")
        if cpu.has_bf16:
            engines.add("openvino-bf16")
    return frozenset(engines)


# --- measuring ------------------------------------------------------------------------

#: Times one engine: (engine, frames) -> seconds of one call (after warm-up).
Timer = Callable[[CampPlusRuntime, int], float]


def _time_call(engine: CampPlusRuntime, frames: int) -> float:
    features = np.random.default_rng(frames).standard_normal((1, frames, 80)).astype(np.float32)
    lengths = np.array([frames], dtype=np.int64)
    started = time.perf_counter()
    engine.run(features, lengths)
    return time.perf_counter() - started


def measure_engines(
    engines: Mapping[str, CampPlusRuntime],
    lengths: Mapping[str, tuple[int, ...]],
    timer: Timer = _time_call,
    rounds: int = _ROUNDS,
) -> dict[str, dict[int, float]]:
    """Median ms per call of each engine at each of its ``lengths``, calls interleaved
    engine by engine so that load from other processes hits them alike."""
    for name, engine in engines.items():
        for frames in lengths[name]:
            for _ in range(_WARMUP_CALLS):
                timer(engine, frames)
    samples: dict[str, dict[int, list[float]]] = {
        name: {frames: [] for frames in lengths[name]} for name in engines
    }
    for _ in range(rounds):
        for name, engine in engines.items():
            for frames in lengths[name]:
                samples[name][frames].append(timer(engine, frames))
    return {
        name: {frames: 1000 * statistics.median(times) for frames, times in per.items()}
        for name, per in samples.items()
    }


def plan_from_timings(timings: Mapping[str, Mapping[int, float]], rule: Plan) -> tuple[Plan, str]:
    """The fastest engine for short inputs and for long ones (sum of medians over the
    class's lengths); the rule's engine stays unless another is :data:`_MARGIN` faster.
    Returns the plan and a sentence saying why."""
    parts: list[str] = []

    def fastest(frames: tuple[int, ...], preferred: str) -> str:
        totals = {
            name: sum(per[f] for f in frames)
            for name, per in timings.items()
            if all(f in per for f in frames)
        }
        best = min(totals, key=lambda name: totals[name])
        if preferred in totals and totals[best] > (1 - _MARGIN) * totals[preferred]:
            best = preferred
        listed = ", ".join(f"{name} {totals[name]:.1f}" for name in sorted(totals))
        seconds = "+".join(f"{f / 100:g}" for f in frames)
        parts.append(f"{seconds} s: {listed} ms → {best}")
        return best

    rule_long = rule[-1][1]
    rule_short = rule[0][1]
    short = fastest(SHORT_FRAMES, rule_short)
    long = fastest(LONG_FRAMES, rule_long)
    plan: Plan = ((0, short),) if short == long else ((0, short), (BF16_MIN_FRAMES, long))
    return plan, "; ".join(parts)


def measure_plan(
    spec: RuntimeSpec, cpu: CpuInfo, available: frozenset[str], timer: Timer = _time_call
) -> RuntimeChoice:
    """Build every available engine (one thread each), time them and pick the plan."""
    candidates = [name for name in ("onnx", "openvino", "openvino-bf16") if name in available]
    one_thread = replace(spec, num_threads=1)
    engines: dict[str, CampPlusRuntime] = {}
    for name in candidates:
        engine = ENGINES[name](one_thread)
        if engine.name == name:  # not a fallback to another engine
            engines[name] = engine
    lengths = {
        name: (LONG_FRAMES if name == "openvino-bf16" else SHORT_FRAMES + LONG_FRAMES)
        for name in engines
    }
    timings = measure_engines(engines, lengths, timer)
    rule = rule_choice(cpu, available, "").plan
    plan, why = plan_from_timings(timings, rule)
    return RuntimeChoice(
        plan,
        "measured",
        f"fastest measured on {cpu.describe()}, one thread, median per call: {why}",
        cpu,
        timings,
        datetime.now(UTC).isoformat(timespec="seconds"),
    )


# --- the cache file ---------------------------------------------------------------------


def choice_key(cpu: CpuInfo, versions: Mapping[str, str] | None = None) -> str:
    """Key of a measurement: the CPU, the engines' library versions, this code's version."""
    payload = json.dumps(
        {
            "cpu": cpu.key,
            "versions": dict(versions or library_versions()),
            "selection": SELECTION_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _read_choices(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_cached_choice(folder: Path, cpu: CpuInfo) -> RuntimeChoice | None:
    """The measurement stored for ``cpu`` (and these library versions) in ``folder``."""
    entry = _read_choices(folder / CHOICE_FILE).get(choice_key(cpu))
    if not isinstance(entry, dict):
        return None
    try:
        plan: Plan = tuple((int(frames), str(engine)) for frames, engine in entry["plan"])
        timings = {
            str(name): {int(frames): float(ms) for frames, ms in per.items()}
            for name, per in entry.get("timings_ms", {}).items()
        }
        if not plan or plan[0][0] != 0 or any(engine not in ENGINES for _, engine in plan):
            return None
        return RuntimeChoice(
            plan,
            "cached",
            str(entry["reason"]),
            cpu,
            timings,
            str(entry.get("measured_at")) or None,
        )
    except (KeyError, TypeError, ValueError):
        return None


def save_choice(folder: Path, choice: RuntimeChoice) -> None:
    """Add ``choice`` to ``folder``'s choice file (other CPUs' entries are kept)."""
    path = folder / CHOICE_FILE
    entries = _read_choices(path)
    entries[choice_key(choice.cpu)] = {
        "cpu": choice.cpu.model,
        "flags": list(choice.cpu.relevant_flags),
        "versions": library_versions(),
        "plan": [list(route) for route in choice.plan],
        "reason": choice.reason,
        "timings_ms": {
            name: {str(frames): round(ms, 2) for frames, ms in per.items()}
            for name, per in choice.timings_ms.items()
        },
        "measured_at": choice.measured_at,
    }

    def write(temp: Path) -> None:
        temp.write_text(json.dumps(entries, indent=1, sort_keys=True))

    try:
        atomic_write(path, write)
    except OSError as exc:  # a read-only cache: measure again next time
        logger.info("could not remember the runtime choice in %s: %s", path, exc)


# --- choosing -----------------------------------------------------------------------------


def choose_plan(
    spec: RuntimeSpec,
    *,
    cpu: CpuInfo | None = None,
    available: frozenset[str] | None = None,
    measure: bool = True,
    timer: Timer = _time_call,
) -> RuntimeChoice:
    """The plan for ``runtime="auto"``: cached for this CPU, else measured now (and
    cached), else the rule. ``cpu`` and ``available`` default to this machine's."""
    cpu = cpu or cpu_info()
    available = available if available is not None else available_engines(cpu)
    if spec.quantize != "none":
        return RuntimeChoice(
            ((0, "onnx"),), "rule", f"quantize={spec.quantize} runs on onnxruntime", cpu
        )
    folder = spec.folder
    cached = load_cached_choice(folder, cpu)
    if cached is not None and all(engine in available for _, engine in cached.plan):
        return cached
    candidates = available & {"onnx", "openvino", "openvino-bf16"}
    if len(candidates) < 2:
        return rule_choice(cpu, available, "only one engine is installed")
    if not measure:
        return rule_choice(cpu, available, "not measured on this CPU yet")
    logger.info("timing CAM++ engines on this CPU (once; remembered in %s)", folder)
    try:
        choice = measure_plan(spec, cpu, available, timer)
    except Exception as exc:  # any engine failing to build or run: follow the rule
        logger.warning("could not time the CAM++ engines (%s); following the rule", exc)
        return rule_choice(cpu, available, f"measuring failed ({exc})")
    save_choice(folder, choice)
    logger.info("%s", choice.describe())
    return choice


def choose_for_spec(spec: RuntimeSpec) -> RuntimeChoice:
    """:func:`choose_plan` on this machine."""
    return choose_plan(spec)


def runtime_report(
    runtime: str | None = None,
    quantize: str | None = None,
    cache_dir: Path | None = None,
    cpu: CpuInfo | None = None,
) -> RuntimeChoice:
    """What will run CAM++ and why, without loading or measuring anything.

    ``runtime`` and ``quantize`` are the user's settings (``None``: the defaults, e.g.
    from :class:`~voxprint.encoders.options.EncoderOptions`); ``cache_dir`` is the
    encoder's cache folder (default: the user cache). For ``"auto"`` this is the
    measurement remembered for this CPU, or the rule a first run would start from.
    """
    cpu = cpu or cpu_info()
    name = runtime or "auto"
    quantize = quantize or "none"
    if name != "auto":
        return explicit_choice(name, quantize, cpu)
    if quantize != "none":
        return RuntimeChoice(
            ((0, "onnx"),), "rule", f"quantize={quantize} runs on onnxruntime", cpu
        )
    folder = cache_dir if cache_dir is not None else default_onnx_cache_dir()
    available = available_engines(cpu)
    cached = load_cached_choice(folder, cpu)
    if cached is not None and all(engine in available for _, engine in cached.plan):
        return cached
    return rule_choice(
        cpu, available, "not measured on this CPU yet (the first model load times the engines)"
    )
