"""GE2E (Resemblyzer) encoder: partial windows, volume normalisation, real-speech sanity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxprint.encoders import Ge2eEncoder, SpeakerEncoder
from voxprint.encoders.ge2e import (
    PARTIAL_FRAMES,
    PartialConfig,
    normalise_volume,
    partial_frame_ranges,
)
from voxprint.encoders.weights import weights_digest
from voxprint.errors import InvalidParameterError, SpeechTooShortError, WeightsNotFoundError


def read(path: Path) -> np.ndarray:
    samples, rate = sf.read(path, dtype="float32")
    assert rate == 16000
    return np.asarray(samples)


def dbfs(wave: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))))


@pytest.fixture(scope="module")
def encoder() -> Ge2eEncoder:
    try:
        return Ge2eEncoder()
    except WeightsNotFoundError as exc:
        pytest.skip(f"GE2E weights not installed: {exc}")


@pytest.mark.parametrize(
    ("num_samples", "expected_partials"),
    [
        (1600, 1),  # shorter than one partial: always one, zero-padded
        (16000, 1),  # 1 s: one partial covering 62.5 % is still kept (it is the only one)
        (25440, 1),  # a second partial would cover 51 % < 75 %: dropped
        (31000, 1),  # second partial covers 73 %: dropped
        (32000, 2),  # second partial covers 77 %: kept
        (48000, 3),
        (160000, 12),
    ],
)
def test_partial_window_count_follows_resemblyzer(num_samples: int, expected_partials: int) -> None:
    ranges = partial_frame_ranges(num_samples)
    assert len(ranges) == expected_partials
    assert all(len(r) == PARTIAL_FRAMES for r in ranges)
    assert [r.start for r in ranges] == [77 * i for i in range(expected_partials)]


def test_lower_min_coverage_keeps_the_partial_tail() -> None:
    assert len(partial_frame_ranges(31000, PartialConfig(min_coverage=0.5))) == 2


@pytest.mark.parametrize("config", [{"rate": 0.0}, {"rate": 0.5}, {"min_coverage": 0.0}])
def test_invalid_partial_settings_raise(config: dict[str, float]) -> None:
    with pytest.raises(InvalidParameterError):
        PartialConfig(**config)


def test_quiet_audio_is_raised_to_minus_30_dbfs(rng: np.random.Generator) -> None:
    quiet = (0.001 * rng.standard_normal(16000)).astype(np.float32)
    louder = normalise_volume(quiet)
    assert louder.dtype == np.float32
    assert dbfs(louder) == pytest.approx(-30.0, abs=0.01)


def test_loud_audio_and_silence_are_left_alone(rng: np.random.Generator) -> None:
    loud = (0.3 * rng.standard_normal(16000)).astype(np.float32)
    assert normalise_volume(loud) is loud
    silence = np.zeros(16000, dtype=np.float32)
    np.testing.assert_array_equal(normalise_volume(silence), silence)


def test_ge2e_satisfies_the_encoder_protocol(encoder: Ge2eEncoder) -> None:
    assert isinstance(encoder, SpeakerEncoder)
    assert encoder.name == "ge2e"
    assert encoder.sample_rate == 16000
    assert encoder.dimension == 256
    assert encoder.version == f"resemblyzer-ge2e-{weights_digest(encoder.weights_path)}"


@pytest.mark.data
def test_embedding_is_a_unit_vector_averaged_over_partials(
    encoder: Ge2eEncoder, speech_file: Path
) -> None:
    samples = read(speech_file)
    embedding = encoder.embed(samples)
    assert embedding.shape == (256,)
    assert embedding.dtype == np.float32
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-5)
    assert (embedding >= 0).all()  # ReLU before normalisation
    partials = encoder.partial_embeddings(samples)
    assert partials.shape == (len(partial_frame_ranges(samples.size)), 256)
    mean = partials.mean(axis=0)
    np.testing.assert_allclose(embedding, mean / np.linalg.norm(mean), atol=1e-6)


@pytest.mark.data
def test_same_speaker_scores_higher_than_different_speakers(
    encoder: Ge2eEncoder, data_root: Path
) -> None:
    base = data_root / "librispeech" / "test-other"
    names = sorted(d.name for d in base.iterdir() if d.is_dir())[:4]
    embeddings = {
        n: encoder.embed_batch([read(p) for p in sorted((base / n).glob("*.flac"))[:2]])
        for n in names
    }
    same = [float(e[0] @ e[1]) for e in embeddings.values()]
    different = [float(embeddings[a][0] @ embeddings[b][1]) for a in names for b in names if a != b]
    assert np.mean(same) > np.mean(different) + 0.15, (same, different)
    assert min(same) > max(different) - 0.05


def test_volume_does_not_change_the_embedding_of_quiet_speech(
    encoder: Ge2eEncoder, rng: np.random.Generator
) -> None:
    t = np.arange(32000) / 16000
    wave = (np.sin(2 * np.pi * 220 * t) * (1 + rng.standard_normal(t.size) * 0.1)).astype(
        np.float32
    )
    quiet = encoder.embed(0.001 * wave)
    quieter = encoder.embed(0.0001 * wave)
    np.testing.assert_allclose(quiet, quieter, atol=1e-4)


def test_too_short_speech_raises(encoder: Ge2eEncoder) -> None:
    with pytest.raises(SpeechTooShortError):
        encoder.embed(np.zeros(800, dtype=np.float32))


def test_missing_weights_file_raises_weights_not_found(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="pip install --no-deps resemblyzer"):
        Ge2eEncoder(tmp_path / "absent.pt")
