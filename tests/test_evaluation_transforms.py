"""Waveform transforms that derive the benchmark conditions: crops, noise at an SNR, band limits."""

import numpy as np
import pytest
import soundfile as sf

from voxprint.errors import InvalidParameterError
from voxprint.evaluation.transforms import BandLimit, Crop, MixNoise, apply_transforms, mix_at_snr

from fakes import RATE, voice


def power_above(waveform: np.ndarray, hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(waveform)) ** 2
    freqs = np.fft.rfftfreq(len(waveform), 1 / RATE)
    return float(spectrum[freqs > hz].sum() / spectrum.sum())


def test_a_crop_keeps_exactly_the_asked_length_at_the_drawn_position():
    ramp = np.arange(5 * RATE, dtype=np.float32)
    start = Crop(3.0, 0.0).apply(ramp, RATE)
    end = Crop(3.0, 1.0).apply(ramp, RATE)
    middle = Crop(3.0, 0.5).apply(ramp, RATE)
    assert len(start) == len(end) == len(middle) == 3 * RATE
    assert start[0] == 0 and end[-1] == ramp[-1] and middle[0] == RATE


def test_a_crop_longer_than_the_audio_returns_it_whole_and_bad_crops_are_refused():
    short = voice(150, 1.0)
    np.testing.assert_array_equal(Crop(2.0, 0.7).apply(short, RATE), short)
    with pytest.raises(InvalidParameterError):
        Crop(0.0)
    with pytest.raises(InvalidParameterError):
        Crop(2.0, 1.5)


@pytest.mark.parametrize("snr_db", [10.0, 5.0, 0.0, -5.0])
def test_noise_is_mixed_in_at_the_asked_snr(rng, snr_db):
    speech = voice(140, 2.0, silence=0.3)
    noise = rng.normal(size=speech.size).astype(np.float32) * 3.0
    mixed = mix_at_snr(speech, noise, snr_db)
    added = mixed.astype(np.float64) - speech
    measured = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(added**2))
    assert measured == pytest.approx(snr_db, abs=0.01)
    assert mixed.dtype == np.float32


def test_mixing_silence_or_mismatched_lengths_is_handled(rng):
    silence = np.zeros(RATE, dtype=np.float32)
    np.testing.assert_array_equal(mix_at_snr(silence, rng.normal(size=RATE), 0.0), silence)
    with pytest.raises(InvalidParameterError):
        mix_at_snr(silence, np.ones(RATE - 1), 0.0)


def test_a_noise_file_is_mixed_at_the_snr_and_the_same_stretch_every_time(tmp_path, rng):
    noise_path = tmp_path / "noise.wav"
    sf.write(noise_path, 0.1 * rng.normal(size=4 * RATE), RATE)
    speech = voice(180, 1.5)
    transform = MixNoise(noise_path, 5.0, 0.4)
    first, second = transform.apply(speech, RATE), transform.apply(speech, RATE)
    np.testing.assert_array_equal(first, second)
    added = first.astype(np.float64) - speech
    assert 10 * np.log10(np.mean(speech**2.0) / np.mean(added**2)) == pytest.approx(5.0, abs=0.05)
    other = MixNoise(noise_path, 5.0, 0.9).apply(speech, RATE)
    assert not np.allclose(first, other)


def test_a_noise_file_shorter_than_the_speech_is_tiled(tmp_path, rng):
    noise_path = tmp_path / "short.wav"
    sf.write(noise_path, 0.1 * rng.normal(size=RATE // 2), RATE)
    speech = voice(200, 2.0)
    assert len(MixNoise(noise_path, 0.0, 0.5).apply(speech, RATE)) == len(speech)


def test_the_8khz_band_limit_removes_the_energy_above_4khz_and_keeps_the_length(rng):
    wideband = rng.normal(size=2 * RATE).astype(np.float32)  # white: half its energy above 4 kHz
    assert power_above(wideband, 4000) > 0.45
    narrow = BandLimit(8000).apply(wideband, RATE)
    assert len(narrow) == len(wideband) and narrow.dtype == np.float32
    assert power_above(narrow, 4100) < 1e-3
    speech = voice(120, 1.0)  # harmonics up to 600 Hz pass unchanged
    kept = BandLimit(8000).apply(speech, RATE)
    assert np.corrcoef(kept, speech)[0, 1] > 0.99


def test_transforms_apply_in_order():
    speech = voice(160, 4.0)
    out = apply_transforms(speech, RATE, (Crop(2.0, 0.25), BandLimit(8000)))
    assert len(out) == 2 * RATE
    assert out.flags.c_contiguous
