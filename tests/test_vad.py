"""Voice activity detection with Silero VAD (ONNX)."""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voxprint.audio import load_audio
from voxprint.errors import (
    InvalidParameterError,
    NonFiniteAudioError,
    NoSpeechError,
    WeightsNotFoundError,
)
from voxprint.vad import (
    DETECTION_LEVEL,
    SileroVad,
    SpeechSegments,
    VadConfig,
    level_for_detection,
    require_speech,
    speech_spans,
)

RATE = 16000


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


@pytest.fixture(scope="module")
def speech(speech_file: Path) -> np.ndarray:
    return load_audio(speech_file)


def assert_well_formed(result: SpeechSegments, total: int) -> None:
    assert result.total_samples == total and result.sample_rate == RATE
    previous_end = 0
    for start, end in result.segments:
        assert previous_end <= start < end <= total
        previous_end = end


# --- real speech --------------------------------------------------------------------------------


def test_real_speech_is_mostly_speech_and_segments_stay_inside_the_audio(
    vad: SileroVad, speech: np.ndarray
) -> None:
    result = vad.detect(speech)

    assert_well_formed(result, len(speech))
    assert result.duration_seconds == pytest.approx(len(speech) / RATE)
    assert 0.5 * result.duration_seconds <= result.net_speech_seconds <= result.duration_seconds
    assert require_speech(result) is result


def test_speech_between_three_seconds_of_silence_is_found_only_in_the_middle(
    vad: SileroVad, speech: np.ndarray
) -> None:
    pad = np.zeros(3 * RATE, dtype=np.float32)
    padded = np.concatenate([pad, speech, pad])

    result = vad.detect(padded)

    assert_well_formed(result, len(padded))
    assert result.segments
    assert result.segments[0][0] >= 2.5 * RATE
    assert result.segments[-1][1] <= len(padded) - 2.5 * RATE


def test_extract_returns_exactly_the_summed_segment_lengths(
    vad: SileroVad, speech: np.ndarray
) -> None:
    result = vad.detect(speech)

    extracted = result.extract(speech)

    assert extracted.dtype == np.float32
    assert len(extracted) == sum(end - start for start, end in result.segments)
    assert len(extracted) == round(result.net_speech_seconds * RATE)
    first_start, first_end = result.segments[0]
    np.testing.assert_array_equal(
        extracted[: first_end - first_start], speech[first_start:first_end]
    )


def test_concurrent_detection_from_four_threads_matches_serial_detection(
    vad: SileroVad, speech: np.ndarray
) -> None:
    clips = [speech, speech[: len(speech) // 2], speech[len(speech) // 3 :], speech[::-1].copy()]
    serial = [vad.detect(clip) for clip in clips]

    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(vad.detect, clips * 3))

    assert concurrent == serial * 3


def test_the_stock_streaming_model_gives_the_same_probabilities_and_segments(
    vad: SileroVad, speech: np.ndarray
) -> None:
    spec = importlib.util.find_spec("silero_vad")
    assert spec is not None and spec.submodule_search_locations
    stock_path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not stock_path.is_file():
        pytest.skip(f"stock Silero model not installed at {stock_path}")
    stock = SileroVad(model_path=stock_path)
    clip = speech[: 4 * RATE]

    np.testing.assert_allclose(stock.probabilities(clip), vad.probabilities(clip), atol=1e-5)
    assert stock.detect(clip) == vad.detect(clip)


def test_one_probability_per_512_sample_window(vad: SileroVad, speech: np.ndarray) -> None:
    probabilities = vad.probabilities(speech[:5000])

    assert probabilities.shape == (10,) and probabilities.dtype == np.float32
    assert np.all((probabilities >= 0) & (probabilities <= 1))


# --- no speech ----------------------------------------------------------------------------------


def test_digital_silence_has_no_speech_and_require_speech_says_how_long_it_was(
    vad: SileroVad,
) -> None:
    result = vad.detect(np.zeros(5 * RATE, dtype=np.float32))

    assert result.segments == ()
    assert result.net_speech_seconds == 0.0
    with pytest.raises(NoSpeechError, match=r"no speech detected in 5\.0 s of audio"):
        require_speech(result)


def test_quiet_recordings_words_are_found_at_any_level(vad: SileroVad, data_root: Path) -> None:
    """Found in a walkthrough: a quiet speaker's spoken digits (FSDD's theo, 8 kHz) came
    back "no speech": 7 of these 10 at their own level, all 10 at a tenth of it."""
    files = sorted((data_root / "fsdd" / "theo").glob("*.wav"))[:10]
    assert len(files) == 10
    for gain in (1.0, 0.1):
        found = [
            vad.detect((load_audio(f) * gain).astype(np.float32)).net_speech_seconds > 0
            for f in files
        ]
        assert sum(found) >= 9, gain


def test_only_quiet_audio_is_raised_for_detection_and_a_click_does_not_set_its_level(
    rng: np.random.Generator,
) -> None:
    quiet = (0.01 * rng.standard_normal(RATE)).astype(np.float32)
    raised = level_for_detection(quiet)
    assert np.percentile(np.abs(raised), 99.9) == pytest.approx(DETECTION_LEVEL, rel=1e-3)
    loud = (0.3 * rng.standard_normal(RATE)).astype(np.float32)
    assert level_for_detection(loud) is loud
    clicked = quiet.copy()
    clicked[100] = 0.9  # one loud sample
    assert np.percentile(np.abs(level_for_detection(clicked)), 99.9) > 0.5 * DETECTION_LEVEL
    silence = np.zeros(RATE, dtype=np.float32)
    assert not level_for_detection(silence).any()
    faint = np.full(RATE, 1e-5, dtype=np.float32)  # raised at most 40 dB
    assert level_for_detection(faint).max() == pytest.approx(1e-3)


def test_quiet_noise_raised_for_detection_is_still_no_speech(
    vad: SileroVad, rng: np.random.Generator
) -> None:
    noise = rng.normal(0.0, 0.001, 5 * RATE).astype(np.float32)
    assert vad.detect(noise).segments == ()


def test_low_white_noise_has_no_speech(vad: SileroVad, rng: np.random.Generator) -> None:
    noise = rng.normal(0.0, 0.01, 5 * RATE).astype(np.float32)

    result = vad.detect(noise)

    assert result.segments == ()
    with pytest.raises(NoSpeechError):
        require_speech(result)


def test_a_steady_tone_is_not_speech(vad: SileroVad) -> None:
    t = np.arange(3 * RATE) / RATE
    result = vad.detect((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))

    assert result.segments == ()


def test_empty_and_very_short_input_give_no_segments(vad: SileroVad) -> None:
    assert vad.detect(np.zeros(0, dtype=np.float32)).segments == ()
    assert vad.detect(np.zeros(100, dtype=np.float32)).segments == ()


# --- post-processing ----------------------------------------------------------------------------


def test_spans_are_padded_and_short_blips_dropped() -> None:
    config = VadConfig(threshold=0.5, min_speech_ms=250, min_silence_ms=100, speech_pad_ms=30)
    probabilities = np.zeros(100, dtype=np.float32)
    probabilities[10:30] = 0.9  # 20 windows = 640 ms of speech
    probabilities[50:53] = 0.9  # 96 ms: too short to keep

    spans = speech_spans(probabilities, 100 * 512, config)

    assert spans == ((10 * 512 - 480, 30 * 512 + 480),)


def test_a_short_pause_does_not_split_a_segment_but_a_long_one_does() -> None:
    config = VadConfig(min_silence_ms=100, speech_pad_ms=0)
    probabilities = np.zeros(100, dtype=np.float32)
    probabilities[10:30] = 0.9
    probabilities[32:50] = 0.9  # 2-window (64 ms) pause: bridged
    probabilities[60:80] = 0.9  # 10-window (320 ms) pause: split

    spans = speech_spans(probabilities, 100 * 512, config)

    assert spans == ((10 * 512, 50 * 512), (60 * 512, 80 * 512))


def test_close_segments_share_the_gap_instead_of_overlapping() -> None:
    config = VadConfig(min_silence_ms=100, speech_pad_ms=200)
    probabilities = np.zeros(100, dtype=np.float32)
    probabilities[10:30] = 0.9
    probabilities[35:60] = 0.9  # 5-window gap (2560 samples) < 2 x 3200 pad

    spans = speech_spans(probabilities, 100 * 512, config)

    assert spans == ((10 * 512 - 3200, 30 * 512 + 1280), (35 * 512 - 1280, 60 * 512 + 3200))


def test_speech_running_to_the_end_closes_at_the_last_sample() -> None:
    probabilities = np.zeros(20, dtype=np.float32)
    probabilities[5:] = 0.9

    spans = speech_spans(probabilities, 20 * 512 - 100, VadConfig())

    assert spans == ((5 * 512 - 480, 20 * 512 - 100),)


# --- failure paths and validation -------------------------------------------------------------


def test_a_missing_model_file_says_to_install_silero_vad(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="silero-vad"):
        SileroVad(model_path=tmp_path / "nope.onnx")


def test_non_finite_or_multichannel_input_is_rejected(vad: SileroVad) -> None:
    with pytest.raises(NonFiniteAudioError):
        vad.detect(np.full(1000, np.nan, dtype=np.float32))
    with pytest.raises(InvalidParameterError):
        vad.detect(np.zeros((1000, 2), dtype=np.float32))


@pytest.mark.parametrize(
    "kwargs",
    [{"threshold": 0.0}, {"threshold": 1.5}, {"min_speech_ms": -1}, {"speech_pad_ms": 2.5}],
)
def test_invalid_vad_config_is_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError):
        VadConfig(**kwargs)


def test_segments_must_be_sorted_and_inside_the_audio() -> None:
    with pytest.raises(InvalidParameterError):
        SpeechSegments(((100, 50),), RATE, 1000)
    with pytest.raises(InvalidParameterError):
        SpeechSegments(((0, 500), (400, 600)), RATE, 1000)
    with pytest.raises(InvalidParameterError):
        SpeechSegments(((0, 1001),), RATE, 1000)


def test_extract_refuses_a_waveform_of_another_length() -> None:
    segments = SpeechSegments(((0, 10),), RATE, 100)
    with pytest.raises(InvalidParameterError):
        segments.extract(np.zeros(99, dtype=np.float32))


def test_widened_segments_grow_by_the_pad_and_bridge_short_pauses():
    segments = SpeechSegments(((1000, 2000), (2600, 3000), (9000, 9500)), 1000, 10000)
    widened = segments.widened(pad_seconds=0.1, bridge_seconds=0.5)
    # (900, 2100) and (2500, 3100) are 0.4 s apart: bridged; (8900, 9600) stays apart.
    assert widened.segments == ((900, 3100), (8900, 9600))
    assert segments.widened(0.0, 0.0).segments == segments.segments


def test_widened_segments_stay_inside_the_waveform():
    segments = SpeechSegments(((0, 50), (950, 1000)), 1000, 1000)
    assert segments.widened(0.2, 0.0).segments == ((0, 250), (750, 1000))
    with pytest.raises(InvalidParameterError):
        segments.widened(-0.1, 0.0)
