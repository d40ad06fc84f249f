"""CAM++ runtimes: ONNX export and its cache, torch fallback, padded batches, int8."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from voxprint.encoders import CampPlusEncoder
from voxprint.encoders import campplus_runtime as runtime_module
from voxprint.encoders.campplus import length_buckets
from voxprint.encoders.campplus_masked import MaskedCampPlus
from voxprint.encoders.campplus_net import CampPlusConfig, CampPlusNet
from voxprint.encoders.campplus_runtime import (
    RUNTIMES,
    OnnxRuntime,
    RuntimeSpec,
    build_runtime,
    onnx_model_path,
)
from voxprint.encoders.weights import weights_digest
from voxprint.errors import InvalidParameterError, WeightsNotFoundError
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig

from fakes import RATE, EnergyVad, voice

SMALL = CampPlusConfig(
    head_channels=8, init_channels=32, growth_rate=8, blocks=((2, 3, 1), (2, 3, 2)), feat_dim=80
)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a2, b2 = np.atleast_2d(a), np.atleast_2d(b)
    return np.sum(a2 * b2, axis=1) / (np.linalg.norm(a2, axis=1) * np.linalg.norm(b2, axis=1))


def speech_like(seconds: float, fundamental: float, seed: int) -> np.ndarray:
    """Harmonic voice with a gliding pitch and amplitude envelope, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    pitch = fundamental * (1.0 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    signal = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.abs(np.sin(2 * np.pi * 2.3 * t))
    wave = 0.2 * envelope * signal / np.max(np.abs(signal)) + 0.01 * rng.normal(size=t.size)
    return wave.astype(np.float32)


def small_network(seed: int = 0) -> CampPlusNet:
    torch.manual_seed(seed)
    network = CampPlusNet(SMALL)
    # Non-trivial batch-norm statistics, so a padding leak would show.
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
            assert module.running_mean is not None and module.running_var is not None
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return network.eval()


@pytest.fixture(scope="module")
def weights() -> Path:
    try:
        return CampPlusEncoder(runtime="torch").weights_path
    except WeightsNotFoundError as exc:
        pytest.skip(f"CAM++ weights not installed: {exc}")


@pytest.fixture(scope="module")
def onnx_encoder(weights: Path) -> CampPlusEncoder:
    """In the default user cache, as users get it (exported on the first run only)."""
    return CampPlusEncoder(weights, runtime="onnx")


@pytest.fixture(scope="module")
def torch_encoder(weights: Path) -> CampPlusEncoder:
    return CampPlusEncoder(weights, runtime="torch")


# --- the masked network ------------------------------------------------------------


def test_rows_of_a_padded_batch_equal_their_single_embeddings() -> None:
    network = small_network()
    masked = MaskedCampPlus(network)
    rng = np.random.default_rng(3)
    lengths = [1, 2, 99, 100, 101, 257]
    features = np.zeros((len(lengths), max(lengths), 80), dtype=np.float32)
    singles = []
    for row, length in enumerate(lengths):
        features[row, :length] = rng.standard_normal((length, 80))
        with torch.inference_mode():
            single = network(torch.from_numpy(features[row : row + 1, :length]))
        singles.append(single[0].numpy())
    # Garbage past the lengths must be ignored as well as zeros.
    features[0, 1:] = 7.0
    with torch.inference_mode():
        batched = masked(torch.from_numpy(features), torch.tensor(lengths)).numpy()
    np.testing.assert_allclose(batched, np.stack(singles), rtol=1e-4, atol=1e-4)


def test_plain_zero_padding_would_change_the_embedding() -> None:
    """Why the mask exists: statistics pooling and the context masks see the padding."""
    network = small_network()
    rng = np.random.default_rng(4)
    features = torch.from_numpy(rng.standard_normal((1, 120, 80)).astype(np.float32))
    padded = torch.cat([features, torch.zeros(1, 80, 80)], dim=1)
    with torch.inference_mode():
        alone, with_padding = network(features)[0].numpy(), network(padded)[0].numpy()
        masked = MaskedCampPlus(network)(padded, torch.tensor([120]))[0].numpy()
    padding_error = 1.0 - cosines(alone, with_padding)[0]
    masked_error = 1.0 - cosines(alone, masked)[0]
    assert not np.allclose(alone, with_padding, rtol=1e-3, atol=1e-3)
    assert masked_error < 1e-6 and padding_error > 10 * max(masked_error, 1e-7)


def test_matmul_form_of_the_pointwise_layers_gives_the_same_embeddings() -> None:
    network = small_network()
    rng = np.random.default_rng(5)
    features = torch.from_numpy(rng.standard_normal((2, 150, 80)).astype(np.float32))
    lengths = torch.tensor([150, 90])
    with torch.inference_mode():
        plain = MaskedCampPlus(network)(features, lengths).numpy()
        matmul = MaskedCampPlus(network, pointwise_matmul=True)(features, lengths).numpy()
    np.testing.assert_allclose(matmul, plain, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("lengths", "budget"),
    [([300, 100, 105, 3000, 2990, 110, 5], 6000), ([10] * 9, 40), ([5000, 7000], 6000), ([], 10)],
)
def test_length_buckets_cover_every_index_once_with_little_padding(
    lengths: list[int], budget: int
) -> None:
    batches = length_buckets(lengths, budget)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert longest <= 1.1 * min(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * longest <= budget


# --- runtimes at the network level (small random network: fast exports) -------------


def small_spec(cache: Path, digest: str = "small-0", **kwargs: object) -> RuntimeSpec:
    return RuntimeSpec(small_network(), digest, cache_dir=cache, **kwargs)  # type: ignore[arg-type]


def test_onnx_runtime_matches_torch_on_padded_batches(tmp_path: Path) -> None:
    spec = small_spec(tmp_path)
    onnx, eager = build_runtime("onnx", spec), build_runtime("torch", spec)
    assert (onnx.name, eager.name) == ("onnx", "torch")
    rng = np.random.default_rng(6)
    lengths = np.array([40, 333, 1000], dtype=np.int64)
    features = np.zeros((3, 1000, 80), dtype=np.float32)
    for row, length in enumerate(lengths):
        features[row, :length] = rng.standard_normal((length, 80))
    assert cosines(onnx.run(features, lengths), eager.run(features, lengths)).min() > 0.99999


def test_int8_runtime_is_quantised_and_stays_close_to_float(tmp_path: Path) -> None:
    spec = small_spec(tmp_path, quantize="int8")
    quantised = build_runtime("onnx", spec)
    assert quantised.name == "onnx-int8"
    assert onnx_model_path(spec).name.endswith("-int8.onnx")
    assert onnx_model_path(spec) != onnx_model_path(small_spec(tmp_path))
    rng = np.random.default_rng(7)
    features = rng.standard_normal((2, 300, 80)).astype(np.float32)
    lengths = np.array([300, 300], dtype=np.int64)
    reference = build_runtime("torch", spec).run(features, lengths)
    assert cosines(quantised.run(features, lengths), reference).min() > 0.98


def test_unknown_runtime_or_quantisation_is_refused(tmp_path: Path) -> None:
    assert {"onnx", "torch"} <= set(RUNTIMES)
    with pytest.raises(InvalidParameterError, match="onnx, openvino, openvino-bf16, torch"):
        build_runtime("tensorrt", small_spec(tmp_path))
    with pytest.raises(InvalidParameterError, match="int8"):
        small_spec(tmp_path, quantize="fp8")
    with pytest.raises(InvalidParameterError):
        small_spec(tmp_path, num_threads=0)


def test_missing_onnxruntime_falls_back_to_torch_with_a_log_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with caplog.at_level(logging.WARNING, logger="voxprint.encoders.campplus_runtime"):
        runtime = build_runtime("onnx", small_spec(tmp_path))
    assert runtime.name == "torch"
    assert "onnxruntime is not available" in caplog.text
    assert not list(tmp_path.iterdir())  # nothing was exported


def test_failed_export_falls_back_to_torch_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_export(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(runtime_module, "export_onnx", broken_export)
    with caplog.at_level(logging.WARNING, logger="voxprint.encoders.campplus_runtime"):
        runtime = build_runtime("onnx", small_spec(tmp_path))
    assert runtime.name == "torch"
    assert "exporter exploded" in caplog.text
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no temp file left behind


# --- the encoder with the real weights ----------------------------------------------


def test_onnx_embeddings_match_torch_on_speech_like_signals(
    onnx_encoder: CampPlusEncoder, torch_encoder: CampPlusEncoder
) -> None:
    assert onnx_encoder.runtime == "onnx" and torch_encoder.runtime == "torch"
    waves = [speech_like(s, f, seed) for seed, (s, f) in enumerate([(0.8, 110), (3.3, 180)])]
    for wave in waves:
        assert cosines(onnx_encoder.embed(wave), torch_encoder.embed(wave))[0] > 0.999


@pytest.mark.data
def test_onnx_embeddings_match_torch_on_real_speech(
    onnx_encoder: CampPlusEncoder, torch_encoder: CampPlusEncoder, speech_file: Path
) -> None:
    samples, rate = sf.read(speech_file, dtype="float32")
    assert rate == RATE
    assert cosines(onnx_encoder.embed(samples), torch_encoder.embed(samples))[0] > 0.999


def test_the_runtime_does_not_change_the_version(
    onnx_encoder: CampPlusEncoder, torch_encoder: CampPlusEncoder
) -> None:
    assert onnx_encoder.version == torch_encoder.version
    assert onnx_encoder.version.endswith(weights_digest(onnx_encoder.weights_path))
    assert onnx_encoder.name == torch_encoder.name == "campplus"


def test_the_cached_graph_is_reused_without_exporting_again(
    onnx_encoder: CampPlusEncoder, weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = onnx_model_path(RuntimeSpec(onnx_encoder.network, weights_digest(weights)))
    assert path.is_file()
    stamp = path.stat().st_mtime_ns

    def no_export(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("exported again although the graph is cached")

    monkeypatch.setattr(runtime_module, "export_onnx", no_export)
    again = CampPlusEncoder(weights, runtime="onnx")
    assert again.runtime == "onnx"
    assert path.stat().st_mtime_ns == stamp
    wave = speech_like(1.5, 140, 9)
    np.testing.assert_allclose(again.embed(wave), onnx_encoder.embed(wave), atol=1e-6)


def saved_small_network(path: Path, seed: int) -> tuple[CampPlusNet, Path]:
    network = small_network(seed)
    torch.save(network.state_dict(), path)
    return network, path


def spec_for_file(path: Path, cache: Path) -> RuntimeSpec:
    network = CampPlusNet(SMALL)
    network.load_state_dict(torch.load(path, weights_only=True))
    return RuntimeSpec(network.eval(), weights_digest(path), cache_dir=cache)


def test_a_copied_and_perturbed_weight_file_gets_a_new_cache_file(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _, original = saved_small_network(tmp_path / "original.pt", seed=1)
    first = build_runtime("onnx", spec_for_file(original, cache))
    (cached,) = cache.glob("*.onnx")

    state = torch.load(original, weights_only=True)
    state["xvector.dense.linear.weight"] = state["xvector.dense.linear.weight"] * 1.5 + 0.1
    perturbed = tmp_path / "perturbed.pt"
    torch.save(state, perturbed)
    spec = spec_for_file(perturbed, cache)
    second = build_runtime("onnx", spec)

    assert weights_digest(perturbed) != weights_digest(original)
    assert sorted(cache.glob("*.onnx")) == sorted([cached, onnx_model_path(spec)])
    rng = np.random.default_rng(8)
    features = rng.standard_normal((1, 200, 80)).astype(np.float32)
    lengths = np.array([200], dtype=np.int64)
    new, old = second.run(features, lengths), first.run(features, lengths)
    assert cosines(new, old)[0] < 0.999
    assert cosines(new, build_runtime("torch", spec).run(features, lengths))[0] > 0.99999


def test_a_corrupt_cache_file_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = small_spec(tmp_path)
    build_runtime("onnx", spec)
    path = onnx_model_path(spec)
    size = path.stat().st_size
    path.write_bytes(b"\x08\x07 this is not an onnx graph")
    with caplog.at_level(logging.WARNING, logger="voxprint.encoders.campplus_runtime"):
        rebuilt = build_runtime("onnx", spec)
    assert "unreadable" in caplog.text
    assert rebuilt.name == "onnx"
    assert path.stat().st_size == size
    rng = np.random.default_rng(9)
    features = rng.standard_normal((1, 150, 80)).astype(np.float32)
    lengths = np.array([150], dtype=np.int64)
    expected = build_runtime("torch", spec).run(features, lengths)
    assert cosines(rebuilt.run(features, lengths), expected)[0] > 0.99999


def test_the_cli_environment_picks_runtime_and_threads(
    weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voxprint.encoders import load_encoder
    from voxprint.settings import load_settings

    monkeypatch.setenv("VOXPRINT_CAMPPLUS_RUNTIME", "torch")
    monkeypatch.setenv("VOXPRINT_NUM_THREADS", "1")
    options = load_settings().encoder_options()
    assert options.runtime == "torch" and options.num_threads == 1
    assert load_encoder("campplus", weights, options).runtime == "torch"
    monkeypatch.setenv("VOXPRINT_NUM_THREADS", "two")
    with pytest.raises(InvalidParameterError, match="VOXPRINT_NUM_THREADS"):
        load_settings()


def test_an_encoder_without_runtime_options_refuses_them() -> None:
    from voxprint.encoders import load_encoder
    from voxprint.encoders.options import EncoderOptions

    with pytest.raises(InvalidParameterError, match="no runtime options"):
        load_encoder("ge2e", options=EncoderOptions(runtime="torch"))


def test_embed_batch_equals_single_embeddings_across_windows_and_lengths(weights: Path) -> None:
    # 2 s windows, so the 5 s wave is embedded in overlapping windows of its own.
    encoder = CampPlusEncoder(weights, max_window_seconds=2.0)
    waves = [speech_like(s, 100 + 40 * i, i) for i, s in enumerate([0.4, 1.9, 2.0, 5.0, 1.1])]
    batch = encoder.embed_batch(waves)
    singles = np.stack([encoder.embed(w) for w in waves])
    assert batch.shape == (5, 192) and batch.dtype == np.float32
    assert cosines(batch, singles).min() > 0.9999


def test_batched_pipeline_equals_the_single_file_pipeline(
    onnx_encoder: CampPlusEncoder,
) -> None:
    pipeline = EmbeddingPipeline(onnx_encoder, config=PipelineConfig(), vad=EnergyVad())
    sources = [(voice(120 + 30 * i, 1.0 + 0.7 * i, seed=i, silence=0.3), RATE) for i in range(5)]
    batched = list(pipeline.process_many(sources, batch_size=3))
    single = [pipeline.process(source) for source in sources]
    for many, one in zip(batched, single, strict=True):
        assert not isinstance(many, Exception)
        assert many.net_speech_seconds == pytest.approx(one.net_speech_seconds)
        assert cosines(many.embedding, one.embedding)[0] > 0.999


class _RecordingSession:
    """Stands in for an onnxruntime session: records its calls; the first one can be
    held until released, so that another call overlaps it."""

    def __init__(self, name: str, hold: threading.Event | None = None) -> None:
        self.name = name
        self.calls = 0
        self.hold = hold
        self.started = threading.Event()

    def run(self, _outputs: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.calls += 1
        self.started.set()
        if self.hold is not None:
            self.hold.wait(timeout=10)
        return [np.ones((feeds["features"].shape[0], 4), dtype=np.float32)]


def _call(runtime: OnnxRuntime) -> np.ndarray:
    return runtime.run(np.zeros((1, 10, 80), np.float32), np.array([10]))


def test_a_call_that_overlaps_another_runs_on_the_one_thread_session() -> None:
    release = threading.Event()
    wide = _RecordingSession("wide", hold=release)
    narrow = _RecordingSession("narrow")
    built: list[int] = []
    runtime = OnnxRuntime(wide, "onnx", lambda: built.append(1) or narrow)
    first = threading.Thread(target=_call, args=(runtime,))
    first.start()
    assert wide.started.wait(timeout=10)
    assert _call(runtime).shape == (1, 4)  # while the first call is held
    release.set()
    first.join(timeout=10)
    _call(runtime)  # alone again
    assert (wide.calls, narrow.calls, len(built)) == (2, 1, 1)


def test_calls_one_after_another_never_build_the_one_thread_session() -> None:
    built: list[int] = []
    wide = _RecordingSession("wide")
    runtime = OnnxRuntime(wide, "onnx", lambda: built.append(1))
    for _ in range(3):
        _call(runtime)
    assert wide.calls == 3 and built == []


def test_a_one_thread_session_that_cannot_be_built_leaves_calls_on_the_main_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    wide = _RecordingSession("wide", hold=release)

    def fail() -> object:
        raise RuntimeError("no memory")

    runtime = OnnxRuntime(wide, "onnx", fail)
    first = threading.Thread(target=_call, args=(runtime,))
    first.start()
    assert wide.started.wait(timeout=10)
    with caplog.at_level(logging.WARNING):
        wide.hold = None
        _call(runtime)
    release.set()
    first.join(timeout=10)
    assert wide.calls == 2
    assert "no one-thread CAM++ session (no memory)" in caplog.text


def test_only_a_default_thread_count_gets_a_one_thread_session_for_overlaps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime_module, "default_onnx_threads", lambda: 2)
    spec = RuntimeSpec(small_network(), "small-test", cache_dir=tmp_path)
    chosen = runtime_module.build_onnx_runtime(spec)
    assert isinstance(chosen, OnnxRuntime) and chosen._build_narrow is not None
    narrow = chosen._build_narrow()
    assert narrow.get_session_options().intra_op_num_threads == 1
    fixed = runtime_module.build_onnx_runtime(
        RuntimeSpec(small_network(), "small-test", num_threads=2, cache_dir=tmp_path)
    )
    assert isinstance(fixed, OnnxRuntime) and fixed._build_narrow is None
