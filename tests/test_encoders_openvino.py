"""CAM++ on OpenVINO: float32 and bfloat16, fallbacks, threads, the shared ONNX cache."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from test_encoders_onnx import cosines, small_spec, speech_like
from voxprint.encoders import CampPlusEncoder
from voxprint.encoders.campplus_runtime import (
    BF16_MIN_FRAMES,
    RELEASE_ABOVE_FRAMES,
    RUNTIMES,
    OpenVinoRuntime,
    build_runtime,
    native_bf16,
    onnx_model_path,
    openvino_config,
    padded_frames,
)
from voxprint.errors import WeightsNotFoundError

openvino = pytest.importorskip("openvino", reason="the openvino package is not installed")


def padded(lengths: list[int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = np.zeros((len(lengths), max(lengths), 80), dtype=np.float32)
    for row, length in enumerate(lengths):
        features[row, :length] = rng.standard_normal((length, 80))
    return features, np.array(lengths, dtype=np.int64)


def cpu_has_bf16() -> bool:
    return native_bf16(openvino.Core())


# --- the runtime on a small random network -------------------------------------------


def test_openvino_is_a_named_runtime_next_to_onnx_torch_and_the_measured_choice() -> None:
    assert set(RUNTIMES) == {"auto", "onnx", "openvino", "openvino-bf16", "torch"}


def test_openvino_float32_matches_torch_on_padded_batches_shorter_than_a_segment(
    tmp_path: Path,
) -> None:
    """40 frames is shorter than CAM++'s 100-frame context segment: the graph must not
    rely on ceil-mode pooling, which OpenVINO refuses for a kernel longer than the input."""
    spec = small_spec(tmp_path)
    runtime, eager = build_runtime("openvino", spec), build_runtime("torch", spec)
    assert runtime.name == "openvino"
    features, lengths = padded([40, 333, 1000], seed=1)
    assert cosines(runtime.run(features, lengths), eager.run(features, lengths)).min() > 0.99999
    short, short_lengths = padded([12], seed=2)
    assert cosines(runtime.run(short, short_lengths), eager.run(short, short_lengths))[0] > 0.99999


def test_inputs_are_padded_to_few_shapes_finer_for_short_inputs_than_long_ones() -> None:
    assert [padded_frames(n) for n in (1, 64, 65, 300, 1000, 1024)] == [
        64,
        64,
        128,
        320,
        1024,
        1024,
    ]
    assert [padded_frames(n) for n in (1025, 1280, 1281, 2999)] == [1280, 1280, 1536, 3072]
    shapes = {padded_frames(n) for n in range(300, 3001)}
    assert len(shapes) == 12 + 8  # 3-10 s in 64-frame steps, 10-30 s in 256-frame steps


def test_openvino_matches_torch_on_a_long_input_padded_in_the_coarse_steps(
    tmp_path: Path,
) -> None:
    spec = small_spec(tmp_path)
    runtime, eager = build_runtime("openvino", spec), build_runtime("torch", spec)
    features, lengths = padded([1100, 1500], seed=3)  # padded to 1536 frames
    assert cosines(runtime.run(features, lengths), eager.run(features, lengths)).min() > 0.99999


def test_openvino_reuses_the_onnx_graph_cached_for_onnxruntime(tmp_path: Path) -> None:
    spec = small_spec(tmp_path)
    build_runtime("onnx", spec)
    stamp = onnx_model_path(spec).stat().st_mtime_ns
    build_runtime("openvino", spec)
    assert [p.name for p in tmp_path.glob("*.onnx")] == [onnx_model_path(spec).name]
    assert onnx_model_path(spec).stat().st_mtime_ns == stamp


def test_bf16_runs_long_batches_in_bfloat16_and_short_ones_in_float32(tmp_path: Path) -> None:
    spec = small_spec(tmp_path)
    bf16, eager = build_runtime("openvino-bf16", spec), build_runtime("torch", spec)
    if not cpu_has_bf16():
        assert bf16.name == "openvino"  # float32 throughout (tested below with a fake CPU)
        pytest.skip("this CPU has no native bfloat16 (AVX-512 BF16 or AMX) to compare with")
    assert bf16.name == "openvino-bf16"
    short, short_lengths = padded([BF16_MIN_FRAMES - 1, 120], seed=3)
    exact = cosines(bf16.run(short, short_lengths), eager.run(short, short_lengths))
    assert exact.min() > 0.99999
    long, long_lengths = padded([BF16_MIN_FRAMES + 200, BF16_MIN_FRAMES], seed=4)
    close = cosines(bf16.run(long, long_lengths), eager.run(long, long_lengths))
    assert close.min() > 0.99
    assert 1.0 - close.min() > 1e-6  # it really ran at a lower precision (float32: ~1e-7)


def test_bf16_without_native_support_runs_float32_with_a_log_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from voxprint.encoders import campplus_runtime

    monkeypatch.setattr(campplus_runtime, "native_bf16", lambda _core: False)
    with caplog.at_level(logging.WARNING, logger="voxprint.encoders.campplus_runtime"):
        runtime = build_runtime("openvino-bf16", small_spec(tmp_path))
    assert runtime.name == "openvino"
    assert "no native bfloat16" in caplog.text


def test_missing_openvino_falls_back_to_onnxruntime_with_a_log_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # makes `import openvino` fail
    with caplog.at_level(logging.WARNING, logger="voxprint.encoders.campplus_runtime"):
        runtime = build_runtime("openvino-bf16", small_spec(tmp_path))
    assert runtime.name == "onnx"
    assert "openvino is not available" in caplog.text


def test_int8_asked_of_openvino_runs_the_int8_graph_on_onnxruntime(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="voxprint.encoders.campplus_runtime"):
        runtime = build_runtime("openvino", small_spec(tmp_path, quantize="int8"))
    assert runtime.name == "onnx-int8"
    assert "onnxruntime, not OpenVINO" in caplog.text


def test_a_corrupt_cache_file_is_exported_again_for_openvino(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = small_spec(tmp_path)
    build_runtime("onnx", spec)
    onnx_model_path(spec).write_bytes(b"\x08\x07 not a graph")
    with caplog.at_level(logging.WARNING, logger="voxprint.encoders.campplus_runtime"):
        rebuilt = build_runtime("openvino", spec)
    assert rebuilt.name == "openvino"
    assert "exporting again" in caplog.text
    features, lengths = padded([150], seed=5)
    expected = build_runtime("torch", spec).run(features, lengths)
    assert cosines(rebuilt.run(features, lengths), expected)[0] > 0.99999


def test_concurrent_calls_from_two_threads_get_their_own_results(tmp_path: Path) -> None:
    runtime = build_runtime("openvino", small_spec(tmp_path))
    inputs = [padded([200 + 37 * i], seed=10 + i) for i in range(6)]
    expected = [runtime.run(f, n) for f, n in inputs]
    results: dict[int, np.ndarray] = {}

    def work(indices: range) -> None:
        for _ in range(3):
            for i in indices:
                results[i] = runtime.run(*inputs[i])

    threads = [threading.Thread(target=work, args=(range(k, 6, 2),)) for k in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, value in enumerate(expected):
        np.testing.assert_allclose(results[i], value, atol=1e-5)


def test_the_thread_budget_becomes_single_threaded_streams() -> None:
    default = openvino_config(None, "f32")
    assert default["INFERENCE_NUM_THREADS"] == default["NUM_STREAMS"] >= 1
    three = openvino_config(3, "bf16")
    assert (three["NUM_STREAMS"], three["INFERENCE_NUM_THREADS"]) == (3, 3)
    assert three["INFERENCE_PRECISION_HINT"] == "bf16"


def test_one_call_with_a_batch_splits_it_across_streams_and_keeps_row_order(
    tmp_path: Path,
) -> None:
    runtime = build_runtime("openvino", small_spec(tmp_path, num_threads=2))
    features, lengths = padded([210, 150, 333, 90, 260], seed=20)
    together = runtime.run(features, lengths)
    alone = np.concatenate([runtime.run(features[i : i + 1], lengths[i : i + 1]) for i in range(5)])
    assert together.shape[0] == 5
    np.testing.assert_allclose(together, alone, atol=1e-5)


# --- intermediate buffers released after long inputs --------------------------------


class FakeRequest:
    """An infer request whose output rows are the inputs' lengths; ``gate`` (if set)
    holds :meth:`wait` until it is opened."""

    def __init__(self, gate: threading.Event | None) -> None:
        self._gate = gate
        self._rows = np.zeros((0, 192), dtype=np.float32)

    def start_async(self, inputs: dict[str, np.ndarray], share_inputs: bool) -> None:
        self._rows = np.repeat(inputs["lengths"][:, None], 192, axis=1).astype(np.float32)

    def wait(self) -> None:
        if self._gate is not None:
            self._gate.wait(timeout=30)

    def get_output_tensor(self, index: int) -> SimpleNamespace:
        return SimpleNamespace(data=self._rows)


class FakeCompiled:
    """A compiled model that counts ``release_memory`` calls (failing the first
    ``busy`` of them, as OpenVINO does while a stream is running)."""

    def __init__(self, busy: int = 0) -> None:
        self.released = 0
        self.busy = busy
        self.gates: list[threading.Event | None] = []

    def create_infer_request(self) -> FakeRequest:
        return FakeRequest(self.gates.pop(0) if self.gates else None)

    def release_memory(self) -> None:
        if self.busy:
            self.busy -= 1
            raise RuntimeError(
                "Attempt to call release_memory() on a compiled model in a busy state"
            )
        self.released += 1


def test_buffers_are_released_once_a_shorter_input_follows_a_long_one() -> None:
    compiled = FakeCompiled()
    runtime = OpenVinoRuntime(compiled, streams=2)
    for frames in (500, RELEASE_ABOVE_FRAMES):  # probe lengths keep their buffers
        runtime.run(*padded([frames], seed=frames))
    assert compiled.released == 0
    for seed in (1, 2):  # long inputs in a row keep theirs too
        features, lengths = padded([RELEASE_ABOVE_FRAMES + 1], seed=seed)
        np.testing.assert_array_equal(runtime.run(features, lengths)[:, 0], lengths)
    assert compiled.released == 0
    runtime.run(*padded([500], seed=3))
    assert compiled.released == 1
    runtime.run(*padded([500], seed=4))
    assert compiled.released == 1


def test_buffers_are_released_only_once_no_other_call_is_running() -> None:
    compiled = FakeCompiled()
    gate = threading.Event()
    compiled.gates = [gate]  # the first request created waits for the gate
    runtime = OpenVinoRuntime(compiled, streams=1)
    slow = threading.Thread(target=runtime.run, args=padded([500], seed=5))
    slow.start()
    while compiled.gates:  # until the slow call has taken its request
        time.sleep(0.001)
    runtime.run(*padded([1500], seed=6))
    runtime.run(*padded([300], seed=7))
    assert compiled.released == 0  # the slow call is still running
    gate.set()
    slow.join()
    assert compiled.released == 1


def test_a_release_refused_as_busy_is_tried_again_after_the_next_call() -> None:
    compiled = FakeCompiled(busy=1)
    runtime = OpenVinoRuntime(compiled, streams=1)
    for frames in (1500, 300):
        runtime.run(*padded([frames], seed=frames))
    assert compiled.released == 0
    runtime.run(*padded([300], seed=8))
    assert compiled.released == 1


def test_an_openvino_without_release_memory_runs_as_before() -> None:
    class Older:
        def create_infer_request(self) -> FakeRequest:
            return FakeRequest(None)

    runtime = OpenVinoRuntime(Older(), streams=1)
    features, lengths = padded([1500], seed=7)
    np.testing.assert_array_equal(runtime.run(features, lengths)[:, 0], lengths)


def test_real_openvino_gives_the_same_embeddings_after_releasing_its_buffers(
    tmp_path: Path,
) -> None:
    runtime = build_runtime("openvino", small_spec(tmp_path))
    short, short_lengths = padded([400, 333], seed=8)
    long, long_lengths = padded([1500, 1100], seed=9)
    before_short, before_long = runtime.run(short, short_lengths), runtime.run(long, long_lengths)
    np.testing.assert_allclose(runtime.run(short, short_lengths), before_short, atol=1e-6)
    np.testing.assert_allclose(runtime.run(long, long_lengths), before_long, atol=1e-6)


# --- the encoder with the real weights ----------------------------------------------


@pytest.fixture(scope="module")
def encoders() -> tuple[CampPlusEncoder, CampPlusEncoder]:
    try:
        torch_encoder = CampPlusEncoder(runtime="torch")
    except WeightsNotFoundError as exc:
        pytest.skip(f"CAM++ weights not installed: {exc}")
    return CampPlusEncoder(torch_encoder.weights_path, runtime="openvino-bf16"), torch_encoder


def test_bf16_embeddings_of_synthetic_voices_stay_close_to_torch_float32(
    encoders: tuple[CampPlusEncoder, CampPlusEncoder],
) -> None:
    fast, reference = encoders
    short = speech_like(0.8, 110, 0)  # under 3 s: float32, the same embedding
    assert cosines(fast.embed(short), reference.embed(short))[0] > 0.99999
    for seed, (seconds, pitch) in enumerate([(3.5, 150), (6.0, 200)], start=1):
        wave = speech_like(seconds, pitch, seed)
        assert cosines(fast.embed(wave), reference.embed(wave))[0] > 0.99  # not speech: looser


@pytest.mark.data
def test_bf16_embeddings_of_real_speech_stay_within_cosine_0_999_of_torch_float32(
    encoders: tuple[CampPlusEncoder, CampPlusEncoder], speech_file: Path
) -> None:
    samples, _rate = sf.read(speech_file, dtype="float32")
    fast, reference = encoders
    assert cosines(fast.embed(samples), reference.embed(samples))[0] > 0.999


def test_bf16_keeps_the_encoder_version_of_float32(
    encoders: tuple[CampPlusEncoder, CampPlusEncoder],
) -> None:
    fast, reference = encoders
    assert fast.version == reference.version
