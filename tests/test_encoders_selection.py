"""Choosing CAM++'s engines per CPU: rules, measurement, its cache; plans routed by length."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from freshprocess import fresh_python
from test_encoders_onnx import cosines, small_spec
from voxprint.encoders import CampPlusEncoder
from voxprint.encoders import campplus_runtime as runtime_module
from voxprint.encoders.campplus_runtime import (
    BF16_PLAN,
    CampPlusRuntime,
    build_plan,
    build_runtime,
    onnx_model_path,
    openvino_cache_dir,
    optimized_graph_path,
    plan_name,
)
from voxprint.encoders.campplus_selection import (
    CHOICE_FILE,
    choose_plan,
    plan_from_timings,
    runtime_report,
)
from voxprint.encoders.cpu import CpuInfo, read_cpu_info
from voxprint.errors import InvalidParameterError, WeightsNotFoundError

ZEN2 = CpuInfo("AMD EPYC 7B12 64-Core Processor", frozenset({"sse4_2", "avx", "avx2", "fma"}))
SAPPHIRE = CpuInfo(
    "Intel(R) Xeon(R) Platinum 8481C",
    frozenset({"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}),
)
EVERYTHING = frozenset({"onnx", "openvino", "openvino-bf16", "torch"})


def padded(frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    features = np.random.default_rng(seed).standard_normal((1, frames, 80)).astype(np.float32)
    return features, np.array([frames], dtype=np.int64)


class CountingTimer:
    """Fake per-call seconds by engine and input length; counts calls."""

    def __init__(self, seconds: dict[str, float], long_bonus: dict[str, float] | None = None):
        self.seconds = seconds
        self.long_bonus = long_bonus or {}
        self.calls = 0

    def __call__(self, engine: CampPlusRuntime, frames: int) -> float:
        self.calls += 1
        factor = self.long_bonus.get(engine.name, 1.0) if frames >= 300 else 1.0
        return self.seconds[engine.name] * frames / 100 * factor


# --- the CPU ------------------------------------------------------------------------------


def test_the_cpu_model_and_flags_are_read_from_proc_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC 7B12\nflags\t\t: fpu sse avx avx2 fma\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC 7B12\nflags\t\t: fpu sse avx avx2 fma\n"
    )
    cpu = read_cpu_info(cpuinfo)
    assert cpu.model == "AMD EPYC 7B12"
    assert cpu.relevant_flags == ("avx", "avx2", "fma")
    assert (cpu.isa, cpu.has_bf16) == ("AVX2", False)
    assert SAPPHIRE.isa == "AMX" and SAPPHIRE.has_bf16
    assert ZEN2.key != SAPPHIRE.key


def test_a_missing_proc_cpuinfo_still_names_the_machine(tmp_path: Path) -> None:
    cpu = read_cpu_info(tmp_path / "absent")
    assert cpu.model and cpu.flags == frozenset()
    assert cpu.isa == "baseline"


# --- rules and measurement ----------------------------------------------------------------


def test_an_avx2_only_cpu_is_never_given_bfloat16_and_follows_the_onnx_rule(
    tmp_path: Path,
) -> None:
    choice = choose_plan(small_spec(tmp_path), cpu=ZEN2, measure=False)
    assert choice.source == "rule"
    assert choice.plan == ((0, "onnx"),)
    assert "without native bfloat16" in choice.reason and "AVX2" in choice.reason


def test_a_bf16_cpu_follows_the_bf16_rule_until_it_is_measured(tmp_path: Path) -> None:
    choice = choose_plan(small_spec(tmp_path), cpu=SAPPHIRE, available=EVERYTHING, measure=False)
    assert (choice.source, choice.plan, choice.name) == ("rule", BF16_PLAN, "openvino-bf16")


def test_the_fastest_engine_wins_for_short_and_for_long_inputs() -> None:
    timings = {
        "onnx": {150: 10.0, 250: 16.0, 500: 35.0, 1000: 70.0},
        "openvino": {150: 14.0, 250: 20.0, 500: 30.0, 1000: 60.0},
        "openvino-bf16": {500: 22.0, 1000: 45.0},
    }
    plan, why = plan_from_timings(timings, rule=((0, "onnx"),))
    assert plan == ((0, "onnx"), (300, "openvino-bf16"))
    assert "→ onnx" in why and "→ openvino-bf16" in why
    assert plan_name(plan) == "openvino-bf16"


def test_a_difference_within_the_noise_keeps_the_rules_engine() -> None:
    timings = {"onnx": {150: 10.0, 250: 16.0, 500: 35.0, 1000: 70.0}}
    timings["openvino"] = {f: ms * 0.98 for f, ms in timings["onnx"].items()}
    plan, _ = plan_from_timings(timings, rule=((0, "onnx"),))
    assert plan == ((0, "onnx"),)


def test_a_measurement_is_remembered_per_cpu_and_not_repeated(tmp_path: Path) -> None:
    spec = small_spec(tmp_path)
    available = frozenset({"onnx", "openvino", "torch"})
    timer = CountingTimer({"onnx": 0.02, "openvino": 0.01})
    first = choose_plan(spec, cpu=ZEN2, available=available, timer=timer)
    assert first.source == "measured"
    assert first.plan == ((0, "openvino"),)  # faster in this (made-up) measurement
    assert set(first.timings_ms) == {"onnx", "openvino"}
    calls = timer.calls
    assert calls > 0

    again = choose_plan(spec, cpu=ZEN2, available=available, timer=timer)
    assert (again.source, again.plan, timer.calls) == ("cached", first.plan, calls)
    assert again.timings_ms == first.timings_ms

    other_cpu = CpuInfo("AMD EPYC 9B14", ZEN2.flags | {"avx512f"})
    choose_plan(spec, cpu=other_cpu, available=available, timer=timer)
    assert timer.calls > calls
    entries = json.loads((tmp_path / CHOICE_FILE).read_text())
    assert {entry["cpu"] for entry in entries.values()} == {ZEN2.model, other_cpu.model}


def test_a_remembered_plan_needing_an_engine_no_longer_installed_is_not_used(
    tmp_path: Path,
) -> None:
    spec = small_spec(tmp_path)
    timer = CountingTimer({"onnx": 0.02, "openvino": 0.01})
    choose_plan(spec, cpu=ZEN2, available=frozenset({"onnx", "openvino"}), timer=timer)
    without_openvino = choose_plan(spec, cpu=ZEN2, available=frozenset({"onnx", "torch"}))
    assert without_openvino.plan == ((0, "onnx"),)
    assert without_openvino.source == "rule"


def test_a_damaged_choice_file_is_measured_again_without_failing(tmp_path: Path) -> None:
    (tmp_path / CHOICE_FILE).write_text("{ not json")
    timer = CountingTimer({"onnx": 0.01, "openvino": 0.02})
    choice = choose_plan(
        small_spec(tmp_path), cpu=ZEN2, available=frozenset({"onnx", "openvino"}), timer=timer
    )
    assert (choice.source, choice.plan) == ("measured", ((0, "onnx"),))
    assert json.loads((tmp_path / CHOICE_FILE).read_text())


def test_a_failing_measurement_follows_the_rule_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_engine: CampPlusRuntime, _frames: int) -> float:
        raise RuntimeError("engine crashed")

    with caplog.at_level(logging.WARNING, logger="voxprint.encoders.campplus_selection"):
        choice = choose_plan(
            small_spec(tmp_path), cpu=ZEN2, available=frozenset({"onnx", "openvino"}), timer=broken
        )
    assert (choice.source, choice.plan) == ("rule", ((0, "onnx"),))
    assert "engine crashed" in choice.reason and "could not time" in caplog.text
    assert not (tmp_path / CHOICE_FILE).exists()


def test_with_one_engine_installed_nothing_is_measured(tmp_path: Path) -> None:
    def never(_engine: CampPlusRuntime, _frames: int) -> float:
        raise AssertionError("measured with a single engine")

    choice = choose_plan(
        small_spec(tmp_path), cpu=SAPPHIRE, available=frozenset({"onnx", "torch"}), timer=never
    )
    assert (choice.source, choice.plan) == ("rule", ((0, "onnx"),))


def test_int8_always_runs_on_onnxruntime_without_measuring(tmp_path: Path) -> None:
    choice = choose_plan(small_spec(tmp_path, quantize="int8"), cpu=SAPPHIRE, available=EVERYTHING)
    assert (choice.source, choice.plan) == ("rule", ((0, "onnx"),))


def test_the_report_names_an_explicit_runtime_and_loads_nothing(tmp_path: Path) -> None:
    report = runtime_report("onnx", cache_dir=tmp_path, cpu=ZEN2)
    assert (report.source, report.name) == ("explicit", "onnx")
    assert "asked for" in report.describe()
    auto = runtime_report(cache_dir=tmp_path, cpu=ZEN2)
    assert auto.source == "rule" and "not measured on this CPU yet" in auto.reason
    assert not list(tmp_path.iterdir())


def test_the_report_shows_the_remembered_measurement(tmp_path: Path) -> None:
    timer = CountingTimer({"onnx": 0.02, "openvino": 0.01})
    measured = choose_plan(
        small_spec(tmp_path), cpu=ZEN2, available=frozenset({"onnx", "openvino"}), timer=timer
    )
    report = runtime_report(cache_dir=tmp_path, cpu=ZEN2)
    if "openvino" not in {e for _, e in report.plan}:  # openvino not installed here
        pytest.skip("openvino is not installed")
    assert (report.source, report.plan, report.reason) == ("cached", measured.plan, measured.reason)


# --- plans: engines routed by length, built on first use -----------------------------------


def test_a_lazy_plan_builds_each_engine_only_when_an_input_needs_it(tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    spec = small_spec(tmp_path)
    runtime = build_plan(spec, ((0, "onnx"), (300, "openvino")), lazy=True)
    assert runtime.built == ()
    assert runtime.name == "onnx+openvino"
    eager = build_runtime("torch", spec)
    short = padded(120, seed=1)
    assert cosines(runtime.run(*short), eager.run(*short))[0] > 0.99999
    assert runtime.built == ("onnx",)
    long = padded(420, seed=2)
    assert cosines(runtime.run(*long), eager.run(*long))[0] > 0.99999
    assert runtime.built == ("onnx", "openvino")


def test_routes_that_fall_back_to_the_same_engine_share_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # makes `import openvino` fail
    runtime = build_plan(small_spec(tmp_path), BF16_PLAN)
    assert runtime.name == "onnx"
    assert len({id(runtime.engine(name)) for name in ("onnx", "openvino-bf16")}) == 1


def test_a_plan_with_an_unknown_engine_or_no_route_from_zero_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="unknown CAM\\+\\+ engine"):
        build_plan(small_spec(tmp_path), ((0, "tensorrt"),))
    with pytest.raises(InvalidParameterError, match="start at 0 frames"):
        build_plan(small_spec(tmp_path), ((100, "onnx"),))


# --- start-up caches ----------------------------------------------------------------------


def test_onnxruntime_keeps_its_optimised_graph_and_the_next_session_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = small_spec(tmp_path)
    first = build_runtime("onnx", spec)
    optimised = optimized_graph_path(onnx_model_path(spec))
    assert optimised.is_file() and optimised.suffix == ".ort"
    stamp = optimised.stat().st_mtime_ns
    again = build_runtime("onnx", spec)
    assert optimised.stat().st_mtime_ns == stamp
    features, lengths = padded(230, seed=3)
    np.testing.assert_allclose(again.run(features, lengths), first.run(features, lengths), 1e-5)


def test_a_damaged_optimised_graph_is_optimised_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = small_spec(tmp_path)
    expected = build_runtime("onnx", spec).run(*padded(200, seed=4))
    optimised = optimized_graph_path(onnx_model_path(spec))
    optimised.write_bytes(b"not an ort graph")
    with caplog.at_level(logging.INFO, logger="voxprint.encoders.campplus_runtime"):
        rebuilt = build_runtime("onnx", spec)
    assert "unusable" in caplog.text
    np.testing.assert_allclose(rebuilt.run(*padded(200, seed=4)), expected, atol=1e-5)
    assert optimised.stat().st_size > 1000


def test_openvino_compiles_into_its_model_cache_folder(tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    spec = small_spec(tmp_path)
    build_runtime("openvino", spec)
    assert list(openvino_cache_dir(spec).glob("*.blob"))


# --- the encoder --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weights() -> Path:
    try:
        encoder = CampPlusEncoder(runtime="onnx")
    except WeightsNotFoundError as exc:
        pytest.skip(f"CAM++ weights not installed: {exc}")
    encoder.embed(np.zeros(16000, dtype=np.float32) + 0.01)  # the graph is cached now
    return encoder.weights_path


def test_an_encoder_imports_no_torch_and_loads_no_engine_until_it_embeds(weights: Path) -> None:
    code = (
        "import sys\n"
        "from voxprint.encoders import CampPlusEncoder\n"
        f"encoder = CampPlusEncoder({str(weights)!r}, runtime='onnx')\n"
        "heavy = ('torch', 'onnxruntime', 'openvino')\n"
        "loaded = lambda: sorted(m for m in heavy if m in sys.modules)\n"
        "print(loaded())\n"
        "import numpy as np\n"
        "encoder.embed(np.full(16000, 0.01, dtype=np.float32))\n"
        "print(loaded())\n"
    )
    output = fresh_python(code)
    assert output.split("\n")[:2] == ["[]", "['onnxruntime']"]


def test_an_explicit_runtime_is_reported_as_asked_for(weights: Path) -> None:
    encoder = CampPlusEncoder(weights, runtime="onnx")
    assert encoder.runtime_choice.source == "explicit"
    assert encoder.runtime == "onnx"


def test_an_unknown_runtime_is_refused_when_the_encoder_is_built(weights: Path) -> None:
    with pytest.raises(InvalidParameterError, match="unknown CAM\\+\\+ runtime 'cuda'"):
        CampPlusEncoder(weights, runtime="cuda")


def test_warm_up_builds_every_engine_of_the_plan(
    weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = CampPlusEncoder(weights, runtime="onnx")
    built: list[str] = []
    original = runtime_module.ENGINES["onnx"]

    def counting(spec: runtime_module.RuntimeSpec) -> CampPlusRuntime:
        built.append("onnx")
        return original(spec)

    monkeypatch.setitem(runtime_module.ENGINES, "onnx", counting)
    encoder.warm_up()
    encoder.warm_up()
    assert built == ["onnx"]
