"""Feature extraction: Kaldi fbank parity with kaldi-native-fbank, GE2E mel, normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxprint.errors import InvalidParameterError
from voxprint.features import (
    ge2e_mel,
    kaldi_fbank,
    kaldi_frame_count,
    mean_normalise,
    slaney_mel_centres,
    slaney_mel_filters,
)

SR = 16000


def reference_fbank(samples: np.ndarray) -> np.ndarray:
    """kaldi-native-fbank with the options kaldi_fbank reproduces, ``(frames, 80)``."""
    knf = pytest.importorskip("kaldi_native_fbank", reason="kaldi-native-fbank (dev extra) absent")
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = True
    opts.frame_opts.samp_freq = SR
    opts.mel_opts.num_bins = 80
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(SR, samples.astype(np.float32).tolist())
    fbank.input_finished()
    if fbank.num_frames_ready == 0:
        return np.zeros((0, 80), dtype=np.float32)
    return np.stack([np.asarray(fbank.get_frame(i)) for i in range(fbank.num_frames_ready)])


def chirp_with_noise(rng: np.random.Generator, seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    sweep = 0.5 * np.sin(2 * np.pi * (100 * t + (7000 - 100) / (2 * seconds) * t**2))
    return (sweep + 0.05 * rng.standard_normal(t.shape)).astype(np.float32)


@pytest.mark.parametrize("scale", [1.0, 32768.0])
def test_kaldi_fbank_matches_kaldi_native_fbank_on_chirp_and_noise(
    rng: np.random.Generator, scale: float
) -> None:
    samples = chirp_with_noise(rng) * np.float32(scale)
    ours = kaldi_fbank(samples)
    ref = reference_fbank(samples)
    assert ours.shape == ref.shape == (kaldi_frame_count(samples.size), 80)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=2e-3, rtol=1e-4)


@pytest.mark.data
def test_kaldi_fbank_matches_kaldi_native_fbank_on_real_speech(speech_file: Path) -> None:
    samples, rate = sf.read(speech_file, dtype="float32")
    assert rate == SR
    for scale in (1.0, 32768.0):
        scaled = samples * np.float32(scale)
        ours = kaldi_fbank(scaled)
        ref = reference_fbank(scaled)
        assert ours.shape == ref.shape
        diff = np.abs(ours - ref)
        assert diff.max() < 1e-2
        assert diff.mean() < 1e-4


@pytest.mark.parametrize("num_samples", [0, 399, 400, 401, 559, 560, 16000, 16123])
def test_kaldi_frame_count_follows_snip_edges_formula(num_samples: int) -> None:
    expected = 0 if num_samples < 400 else 1 + (num_samples - 400) // 160
    assert kaldi_frame_count(num_samples) == expected
    assert kaldi_fbank(np.zeros(num_samples, dtype=np.float32)).shape == (expected, 80)
    assert reference_fbank(np.full(num_samples, 0.1, dtype=np.float32)).shape[0] == expected


def test_kaldi_fbank_of_silence_is_floored_at_float_epsilon() -> None:
    feats = kaldi_fbank(np.zeros(1600, dtype=np.float32))
    np.testing.assert_allclose(feats, np.log(np.finfo(np.float32).eps))


def test_kaldi_fbank_rejects_multichannel_input() -> None:
    with pytest.raises(InvalidParameterError, match="mono"):
        kaldi_fbank(np.zeros((2, 1600), dtype=np.float32))


def test_mean_normalise_gives_zero_mean_per_bin(rng: np.random.Generator) -> None:
    feats = (rng.standard_normal((300, 80)) * 3 + 7).astype(np.float32)
    normalised = mean_normalise(feats)
    assert normalised.shape == feats.shape
    assert normalised.dtype == np.float32
    np.testing.assert_allclose(normalised.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(normalised - normalised[0], feats - feats[0], atol=1e-5)


def test_mean_normalised_fbank_ignores_a_constant_gain(rng: np.random.Generator) -> None:
    samples = chirp_with_noise(rng, seconds=1.0)
    quiet = mean_normalise(kaldi_fbank(samples))
    loud = mean_normalise(kaldi_fbank(samples * np.float32(32768.0)))
    np.testing.assert_allclose(quiet, loud, atol=1e-3)


def test_mean_normalise_rejects_one_dimensional_input() -> None:
    with pytest.raises(InvalidParameterError):
        mean_normalise(np.zeros(80, dtype=np.float32))


@pytest.mark.parametrize("num_samples", [0, 159, 160, 16000, 16159])
def test_ge2e_mel_has_one_centred_frame_per_hop(num_samples: int) -> None:
    mel = ge2e_mel(np.zeros(num_samples, dtype=np.float32))
    assert mel.shape == (1 + num_samples // 160, 40)
    assert mel.dtype == np.float32


def test_ge2e_mel_frames_are_centred_on_their_hop() -> None:
    samples = np.zeros(16000, dtype=np.float32)
    samples[0] = 1.0  # centred framing: sample 0 is in the middle of frame 0
    samples[160 * 50] = 1.0
    energy = ge2e_mel(samples).sum(axis=1)
    assert energy[0] == energy.max()
    assert energy[50] == pytest.approx(energy[0], rel=1e-5)
    # frames 2 hops away from an impulse do not see it (window is 400 samples)
    assert energy[3] == 0.0
    assert energy[47] == 0.0


@pytest.mark.parametrize("freq_hz", [300.0, 1000.0, 2500.0, 6000.0])
def test_ge2e_mel_puts_a_tone_in_the_nearest_band(freq_hz: float) -> None:
    t = np.arange(SR) / SR
    tone = (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    mel = ge2e_mel(tone)
    assert (mel >= 0).all()  # a power spectrogram, not a log
    band = int(np.argmax(mel[10:-10].mean(axis=0)))
    centres = slaney_mel_centres(SR, 40)
    assert abs(band - int(np.argmin(np.abs(centres - freq_hz)))) <= 1
    # power 2 and no log: doubling the amplitude quadruples every value
    np.testing.assert_allclose(ge2e_mel(2 * tone), 4 * mel, rtol=1e-4, atol=1e-6)


def test_slaney_filters_have_unit_area_in_hertz() -> None:
    filters = slaney_mel_filters(SR, 400, 40)
    assert filters.shape == (40, 201)
    bin_hz = SR / 400
    areas = filters.sum(axis=1) * bin_hz
    # bands spanning several FFT bins integrate to 1 (the narrow low bands are undersampled)
    np.testing.assert_allclose(areas[10:], 1.0, rtol=0.05)
    # below 1 kHz the Slaney scale is linear: equally spaced centres
    centres = slaney_mel_centres(SR, 40)
    low = np.diff(centres[centres < 1000])
    np.testing.assert_allclose(low, low[0], rtol=1e-9)


def test_audio_loud_enough_is_left_exactly_as_it_is() -> None:
    from voxprint.features import above_the_floor

    samples = chirp_with_noise(np.random.default_rng(1))
    assert above_the_floor(samples) is samples
    assert above_the_floor(np.zeros(100, np.float32)).max() == 0.0  # digital silence stays
    assert above_the_floor(np.zeros(0, np.float32)).size == 0


@pytest.mark.parametrize("gain", [1e-2, 1e-3, 1e-4])
def test_quiet_audio_has_the_features_of_the_same_audio_at_a_normal_level(gain: float) -> None:
    """The log is floored at float32 epsilon: under it a constant gain no longer only shifts
    every bin, and the upper bands of a quiet recording were lost."""
    from voxprint.features import RAISED_LEVEL, above_the_floor

    samples = chirp_with_noise(np.random.default_rng(2))
    samples *= np.float32(RAISED_LEVEL / np.percentile(np.abs(samples), 99.9))
    normal = mean_normalise(kaldi_fbank(samples))
    quiet = (samples * np.float32(gain)).astype(np.float32)
    raised = mean_normalise(kaldi_fbank(above_the_floor(quiet)))
    np.testing.assert_allclose(raised, normal, atol=1e-3)
    if gain <= 1e-3:  # without the raise the floor shows
        assert np.abs(mean_normalise(kaldi_fbank(quiet)) - normal).max() > 0.5
