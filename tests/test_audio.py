"""Audio intake: every supported source and format becomes (n,) float32 mono at 16 kHz."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

import av
import numpy as np
import pytest
import soundfile as sf

from voxprint.audio import AudioLimits, load_audio, resample
from voxprint.errors import (
    AudioError,
    AudioFileNotFoundError,
    AudioTooLargeError,
    AudioTooLongError,
    CorruptAudioError,
    EmptyAudioError,
    InvalidParameterError,
    InvalidSampleRateError,
    NonFiniteAudioError,
    UnsupportedAudioError,
)

TONE_HZ = 440.0
AMPLITUDE = 0.5
TONE_RMS = AMPLITUDE / np.sqrt(2.0)


# --- signal and encoding helpers ---------------------------------------------------------------


def tone(rate: int, seconds: float = 1.0, hz: float = TONE_HZ, amplitude: float = AMPLITUDE):
    """(n,) float64 sine."""
    t = np.arange(round(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * hz * t)


def stereo(signal: np.ndarray) -> np.ndarray:
    """(n,) -> (n, 2) float32 with the same signal on both channels."""
    return np.repeat(signal[:, None], 2, axis=1).astype(np.float32)


def dominant_hz(waveform: np.ndarray, rate: int = 16000) -> float:
    """Frequency of the strongest FFT bin of the middle half of ``waveform``."""
    quarter = len(waveform) // 4
    middle = waveform[quarter : len(waveform) - quarter]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
    return float(np.argmax(spectrum) * rate / len(middle))


def middle_rms(waveform: np.ndarray) -> float:
    quarter = len(waveform) // 4
    return float(np.sqrt(np.mean(waveform[quarter : len(waveform) - quarter] ** 2)))


def encode_av(
    path: Path,
    signal: np.ndarray,
    rate: int,
    *,
    container: str,
    codec: str,
    video: str | None = None,
) -> Path:
    """Write ``signal`` ((n, channels) float32) with PyAV, optionally next to a small video."""
    layout = "stereo" if signal.shape[1] == 2 else "mono"
    with av.open(str(path), "w", format=container) as out:
        # Every stream must exist before the first packet is muxed.
        video_stream = out.add_stream(video, rate=25) if video is not None else None
        options = {"strict": "experimental"} if codec == "vorbis" else {}
        audio = out.add_stream(codec, rate=rate, options=options)
        assert isinstance(audio, av.AudioStream)
        audio.layout = layout
        if video_stream is not None:
            assert isinstance(video_stream, av.VideoStream)
            video_stream.width, video_stream.height, video_stream.pix_fmt = 64, 48, "yuv420p"
            for index in range(round(len(signal) / rate * 25)):
                picture = np.full((48, 64, 3), (index * 8) % 256, dtype=np.uint8)
                image = av.VideoFrame.from_ndarray(picture, format="rgb24")
                image.pts = index
                out.mux(video_stream.encode(image))
            out.mux(video_stream.encode(None))
        frame_size = audio.codec_context.frame_size or 1024
        padded_length = -(-len(signal) // frame_size) * frame_size
        padded = np.zeros((padded_length, signal.shape[1]), dtype=np.float32)
        padded[: len(signal)] = signal
        for start in range(0, padded_length, frame_size):
            chunk = np.ascontiguousarray(padded[start : start + frame_size].T)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate, frame.pts = rate, start
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


def write_soundfile(path: Path, signal: np.ndarray, rate: int, fmt: str, subtype: str) -> Path:
    sf.write(str(path), signal, rate, format=fmt, subtype=subtype)
    return path


Writer = Callable[[Path], Path]

SIGNAL_44K = stereo(tone(44100))
SIGNAL_48K = stereo(tone(48000))

FORMATS: dict[str, Writer] = {
    "wav_pcm_u8": lambda d: write_soundfile(d / "a.wav", SIGNAL_44K, 44100, "WAV", "PCM_U8"),
    "wav_pcm_16": lambda d: write_soundfile(d / "a.wav", SIGNAL_44K, 44100, "WAV", "PCM_16"),
    "wav_pcm_24": lambda d: write_soundfile(d / "a.wav", SIGNAL_44K, 44100, "WAV", "PCM_24"),
    "wav_pcm_32": lambda d: write_soundfile(d / "a.wav", SIGNAL_44K, 44100, "WAV", "PCM_32"),
    "wav_float": lambda d: write_soundfile(d / "a.wav", SIGNAL_44K, 44100, "WAV", "FLOAT"),
    "wav_double": lambda d: write_soundfile(d / "a.wav", SIGNAL_44K, 44100, "WAV", "DOUBLE"),
    "flac": lambda d: write_soundfile(d / "a.flac", SIGNAL_44K, 44100, "FLAC", "PCM_16"),
    "flac_24": lambda d: write_soundfile(d / "a.flac", SIGNAL_48K, 48000, "FLAC", "PCM_24"),
    "ogg_vorbis": lambda d: write_soundfile(d / "a.ogg", SIGNAL_44K, 44100, "OGG", "VORBIS"),
    "ogg_opus": lambda d: encode_av(
        d / "a.opus", SIGNAL_48K, 48000, container="ogg", codec="libopus"
    ),
    "mp3": lambda d: encode_av(d / "a.mp3", SIGNAL_44K, 44100, container="mp3", codec="libmp3lame"),
    "m4a_aac": lambda d: encode_av(d / "a.m4a", SIGNAL_44K, 44100, container="ipod", codec="aac"),
    "webm_opus": lambda d: encode_av(
        d / "a.webm", SIGNAL_48K, 48000, container="webm", codec="libopus"
    ),
    "mp4_h264_aac": lambda d: encode_av(
        d / "a.mp4", SIGNAL_44K, 44100, container="mp4", codec="aac", video="libx264"
    ),
    "mkv_mpeg4_mp3": lambda d: encode_av(
        d / "a.mkv", SIGNAL_44K, 44100, container="matroska", codec="libmp3lame", video="mpeg4"
    ),
}


# --- formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_format_becomes_a_16k_mono_float32_440hz_tone_of_the_right_length_and_level(
    name: str, tmp_path: Path
) -> None:
    path = FORMATS[name](tmp_path)

    waveform = load_audio(path)

    assert waveform.dtype == np.float32
    assert waveform.ndim == 1
    assert abs(len(waveform) / 16000 - 1.0) <= 0.06, f"{name}: {len(waveform) / 16000:.3f} s"
    assert abs(dominant_hz(waveform) - TONE_HZ) <= 2.0
    lossy = name in {"ogg_vorbis", "ogg_opus", "mp3", "m4a_aac", "webm_opus"} or "mp4" in name
    tolerance = 0.1 if lossy or "mkv" in name else 0.02
    assert middle_rms(waveform) == pytest.approx(TONE_RMS, rel=tolerance)


def test_a_stereo_44k_wav_becomes_16k_mono_float32(tmp_path: Path) -> None:
    left, right = tone(44100, hz=440.0), tone(44100, hz=1000.0, amplitude=0.2)
    path = write_soundfile(
        tmp_path / "s.wav", np.stack([left, right], axis=1), 44100, "WAV", "FLOAT"
    )

    waveform = load_audio(path)

    assert waveform.dtype == np.float32 and waveform.shape == (16000,)
    expected = resample((left + right).astype(np.float32) / 2, 44100, 16000)
    np.testing.assert_allclose(waveform, expected, atol=1e-5)


@pytest.mark.parametrize("container", ["file", "array", "uint8 array"])
def test_stereo_channels_in_opposite_phase_give_their_difference_not_silence(
    tmp_path: Path, container: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Mixed by averaging, channels in opposite phase cancel out and the recording read
    as no speech, without saying why (found in a walkthrough)."""
    left = tone(16000, seconds=0.5).astype(np.float32)
    both = np.stack([left, -left], axis=1)
    source: Any
    match container:
        case "file":
            source = write_soundfile(tmp_path / "a.wav", both, 16000, "WAV", "FLOAT")
        case "array":
            source = (both, 16000)
        case _:
            source = (np.round(both * 127 + 128).astype(np.uint8), 16000)

    with caplog.at_level("WARNING", logger="voxprint.audio.decode"):
        waveform = load_audio(source)

    np.testing.assert_allclose(waveform, left, atol=1e-2)
    assert [r.getMessage() for r in caplog.records] == [
        "the 2 channels cancel out when mixed (recorded in opposite phase): "
        "their difference is used"
    ]


@pytest.mark.parametrize(
    "shared",
    [lambda n: 0.05 * np.ones(n), lambda n: 0.1 * np.sin(2 * np.pi * 50 * np.arange(n) / 16000)],
    ids=["an offset", "mains hum at -15 dB"],
)
def test_what_opposite_phase_channels_share_is_not_taken_for_the_speech(shared: Any) -> None:
    """Averaging keeps only what both channels share (an offset, hum): their difference
    holds the speech, and leaves the shared part out."""
    speech = tone(16000, seconds=0.5).astype(np.float32)
    common = shared(speech.size).astype(np.float32)
    waveform = load_audio((np.stack([speech + common, -speech + common], axis=1), 16000))
    np.testing.assert_allclose(waveform, speech, atol=1e-5)


def test_three_channels_that_cancel_give_the_loudest_one(caplog: pytest.LogCaptureFixture) -> None:
    speech = tone(16000, seconds=0.5).astype(np.float32)
    channels = np.stack([np.zeros_like(speech), speech, -speech], axis=1)
    with caplog.at_level("WARNING", logger="voxprint.audio.decode"):
        waveform = load_audio((channels, 16000))
    np.testing.assert_allclose(waveform, speech, atol=1e-6)
    assert caplog.records[0].getMessage().endswith("the loudest channel is used")


@pytest.mark.parametrize(
    "second",
    [
        lambda x: np.roll(x[::-1], 123),
        lambda x: np.zeros_like(x),
        lambda x: 0.5 * x,
    ],
    ids=["another sound", "a silent channel", "the same in phase"],
)
def test_stereo_channels_that_do_not_cancel_are_averaged_without_a_warning(
    second: Any, caplog: pytest.LogCaptureFixture
) -> None:
    left = tone(16000, seconds=0.5).astype(np.float32)
    right = second(left).astype(np.float32)
    with caplog.at_level("WARNING", logger="voxprint.audio.decode"):
        waveform = load_audio((np.stack([left, right], axis=1), 16000))
    np.testing.assert_allclose(waveform, (left + right) / 2, atol=1e-5)
    assert not caplog.records


def test_empty_stereo_audio_is_refused_as_empty_without_numpy_warnings() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(EmptyAudioError):
            load_audio((np.zeros((0, 2), np.float32), 16000))


def test_a_wav_already_at_16k_is_returned_sample_for_sample(tmp_path: Path) -> None:
    signal = tone(16000, seconds=0.5).astype(np.float32)
    path = write_soundfile(tmp_path / "m.wav", signal, 16000, "WAV", "FLOAT")

    np.testing.assert_array_equal(load_audio(path), signal)


def test_another_target_rate_is_honoured(tmp_path: Path) -> None:
    path = FORMATS["flac"](tmp_path)

    waveform = load_audio(path, sample_rate=8000)

    assert waveform.shape == (8000,)
    assert abs(dominant_hz(waveform, 8000) - TONE_HZ) <= 2.0


def test_concatenated_mp3s_at_different_rates_decode_end_to_end(tmp_path: Path) -> None:
    first = FORMATS["mp3"](tmp_path).read_bytes()
    second = encode_av(
        tmp_path / "b.mp3",
        stereo(tone(22050, hz=1000.0)),
        22050,
        container="mp3",
        codec="libmp3lame",
    ).read_bytes()

    waveform = load_audio(first + second)

    assert abs(len(waveform) / 16000 - 2.0) <= 0.15
    assert abs(dominant_hz(waveform[:16000]) - TONE_HZ) <= 2.0
    assert abs(dominant_hz(waveform[16800:]) - 1000.0) <= 2.0
    assert middle_rms(waveform[16800:]) == pytest.approx(TONE_RMS, rel=0.1)


def test_a_long_real_flac_decodes_to_its_true_length(speech_file: Path) -> None:
    info = sf.info(str(speech_file))

    waveform = load_audio(speech_file)

    assert waveform.shape == (info.frames,)
    reference, _ = sf.read(str(speech_file), dtype="float32")
    np.testing.assert_allclose(waveform, reference, atol=1e-6)


# --- source kinds -------------------------------------------------------------------------------


@pytest.fixture()
def flac_file(tmp_path: Path) -> Path:
    return FORMATS["flac"](tmp_path)


@pytest.mark.parametrize(
    "make_source",
    [
        pytest.param(lambda p: str(p), id="str"),
        pytest.param(lambda p: p, id="Path"),
        pytest.param(lambda p: p.read_bytes(), id="bytes"),
        pytest.param(lambda p: bytearray(p.read_bytes()), id="bytearray"),
        pytest.param(lambda p: memoryview(p.read_bytes()), id="memoryview"),
        pytest.param(lambda p: io.BytesIO(p.read_bytes()), id="BytesIO"),
        pytest.param(lambda p: p.open("rb"), id="open-file"),
    ],
)
def test_every_encoded_source_kind_gives_the_same_waveform(
    flac_file: Path, make_source: Callable[[Path], Any]
) -> None:
    reference = load_audio(flac_file)
    source = make_source(flac_file)
    try:
        waveform = load_audio(source)
    finally:
        if hasattr(source, "close"):
            source.close()
    np.testing.assert_array_equal(waveform, reference)


def test_a_file_object_is_read_from_its_current_position(flac_file: Path) -> None:
    stream = io.BytesIO(b"JUNK" + flac_file.read_bytes())
    stream.seek(4)

    assert load_audio(stream).shape == load_audio(flac_file).shape


def test_a_1d_float_array_at_16k_is_copied_not_aliased() -> None:
    signal = tone(16000, seconds=0.25).astype(np.float32)

    waveform = load_audio((signal, 16000))

    np.testing.assert_array_equal(waveform, signal)
    assert not np.shares_memory(waveform, signal)


def test_a_float64_array_is_returned_as_float32() -> None:
    waveform = load_audio((tone(16000, seconds=0.25), 16000))

    assert waveform.dtype == np.float32
    assert middle_rms(waveform) == pytest.approx(TONE_RMS, rel=1e-3)


def test_a_2d_frames_by_channels_array_is_averaged_to_mono() -> None:
    left = tone(16000, seconds=0.5)
    pair = np.stack([left, np.zeros_like(left)], axis=1)

    waveform = load_audio((pair, 16000))

    np.testing.assert_allclose(waveform, left / 2, atol=1e-7)


def test_a_channels_first_array_is_recognised_by_its_small_first_axis() -> None:
    left = tone(16000, seconds=0.5)
    channels_first = np.stack([left, left, left, np.zeros_like(left)])  # (4, n)

    waveform = load_audio((channels_first, 16000))

    assert waveform.shape == (8000,)
    np.testing.assert_allclose(waveform, left * 0.75, atol=1e-6)


@pytest.mark.parametrize(
    ("dtype", "full_scale", "offset"),
    [
        (np.int16, 32768, 0),
        (np.int32, 2**31, 0),
        (np.int8, 128, 0),
        (np.uint8, 128, 128),
        (np.uint16, 32768, 32768),
    ],
)
def test_integer_arrays_are_scaled_to_plus_minus_one(
    dtype: type[np.integer], full_scale: int, offset: int
) -> None:
    pcm = (np.round(tone(16000, seconds=0.5) * (full_scale - 1)) + offset).astype(dtype)

    waveform = load_audio((pcm, 16000))

    assert waveform.dtype == np.float32
    assert float(np.max(np.abs(waveform))) == pytest.approx(AMPLITUDE, rel=0.01)
    assert middle_rms(waveform) == pytest.approx(TONE_RMS, rel=0.01)


def test_an_int16_stereo_array_at_48k_is_scaled_mixed_and_resampled() -> None:
    pcm = np.round(stereo(tone(48000)) * 32767).astype(np.int16)

    waveform = load_audio((pcm, 48000))

    assert waveform.shape == (16000,) and waveform.dtype == np.float32
    assert abs(dominant_hz(waveform) - TONE_HZ) <= 2.0
    assert middle_rms(waveform) == pytest.approx(TONE_RMS, rel=0.01)


def test_a_whole_number_float_sample_rate_is_accepted() -> None:
    source: Any = (tone(8000, seconds=0.5), 8000.0)
    assert load_audio(source).shape == (8000,)


# --- resampling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000, 192000])
def test_a_tone_below_the_new_nyquist_keeps_its_frequency_and_amplitude(rate: int) -> None:
    hz = 1000.0 if rate == 8000 else 3000.0

    waveform = load_audio((tone(rate, hz=hz), rate))

    assert abs(len(waveform) - 16000) <= 1
    assert abs(dominant_hz(waveform) - hz) <= 2.0
    assert middle_rms(waveform) == pytest.approx(TONE_RMS, rel=0.01)


@pytest.mark.parametrize(
    ("rate", "hz"), [(44100, 12000.0), (48000, 9000.0), (96000, 30000.0), (192000, 60000.0)]
)
def test_content_above_the_new_nyquist_is_removed_not_aliased(rate: int, hz: float) -> None:
    waveform = load_audio((tone(rate, hz=hz), rate))

    assert len(waveform) == 16000
    assert middle_rms(waveform) < 1e-3 * TONE_RMS


def test_upsampling_8k_adds_no_images_above_the_old_nyquist() -> None:
    waveform = load_audio((tone(8000, hz=3000.0), 8000))

    spectrum = np.abs(np.fft.rfft(waveform[4000:12000] * np.hanning(8000)))
    freqs = np.fft.rfftfreq(8000, 1 / 16000)
    assert spectrum[freqs > 4200].max() < 1e-3 * spectrum.max()


def test_resample_keeps_the_channel_axis_of_a_2d_array() -> None:
    pair = stereo(tone(48000))

    out = resample(pair, 48000, 16000)

    assert out.shape == (16000, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], out[:, 1])


def test_resample_rejects_a_non_positive_rate() -> None:
    with pytest.raises(InvalidSampleRateError):
        resample(np.zeros(10, dtype=np.float32), 0, 16000)


# --- failure paths ------------------------------------------------------------------------------


def test_empty_bytes_raise_empty_audio() -> None:
    with pytest.raises(EmptyAudioError, match=r"empty \(0 bytes\)"):
        load_audio(b"")


def test_an_empty_file_raises_empty_audio_naming_zero_bytes(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match=r"0 bytes"):
        load_audio(path)


def test_an_empty_file_object_raises_empty_audio() -> None:
    with pytest.raises(EmptyAudioError):
        load_audio(io.BytesIO())


@pytest.mark.parametrize("shape", [(0,), (0, 2), (2, 0)])
def test_a_zero_length_array_raises_empty_audio(shape: tuple[int, ...]) -> None:
    with pytest.raises(EmptyAudioError, match="no samples"):
        load_audio((np.zeros(shape, dtype=np.float32), 16000))


def test_a_wav_with_no_frames_raises_empty_audio(tmp_path: Path) -> None:
    path = write_soundfile(tmp_path / "none.wav", np.zeros(0), 16000, "WAV", "PCM_16")
    with pytest.raises(EmptyAudioError):
        load_audio(path)


def test_random_bytes_are_unsupported_media(rng: np.random.Generator) -> None:
    garbage = rng.integers(0, 256, size=20000, dtype=np.uint8).tobytes()
    with pytest.raises(UnsupportedAudioError, match="not a recognised audio or video format"):
        load_audio(garbage)


def test_a_text_file_is_unsupported_media(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is a shopping list, not a recording\n" * 50)
    with pytest.raises(UnsupportedAudioError):
        load_audio(path)


@pytest.mark.parametrize("name", ["mp3", "flac", "ogg_opus", "webm_opus", "ogg_vorbis", "m4a_aac"])
@pytest.mark.parametrize("kept", [0.5, 0.7])
def test_a_truncated_file_is_corrupt(name: str, kept: float, tmp_path: Path) -> None:
    data = FORMATS[name](tmp_path).read_bytes()
    with pytest.raises(CorruptAudioError, match="could not decode audio"):
        load_audio(data[: int(len(data) * kept)])


def test_a_truncated_flac_is_refused_with_its_error_and_no_warning_of_its_own(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Found in a review: the cut-off last packet was logged as a skipped packet, a
    warning line on the CLI's stderr before its one-line error."""
    data = FORMATS["flac"](tmp_path).read_bytes()
    with (
        caplog.at_level("DEBUG", logger="voxprint.audio.decode"),
        pytest.raises(CorruptAudioError, match="truncated"),
    ):
        load_audio(data[: int(len(data) * 0.5)])
    assert [r.levelname for r in caplog.records] == ["DEBUG"]
    assert "undecodable audio packets" in caplog.records[0].getMessage()


@pytest.mark.parametrize("name", ["mp3", "flac", "m4a_aac", "ogg_opus"])
def test_only_the_first_bytes_of_a_file_are_corrupt_not_unsupported(
    name: str, tmp_path: Path
) -> None:
    data = FORMATS[name](tmp_path).read_bytes()
    with pytest.raises(CorruptAudioError):
        load_audio(data[:200])


def test_an_all_nan_array_is_rejected_as_non_finite() -> None:
    with pytest.raises(NonFiniteAudioError, match="entirely NaN"):
        load_audio((np.full(16000, np.nan, dtype=np.float32), 16000))


def test_a_single_infinity_is_rejected_as_non_finite() -> None:
    signal = tone(16000).astype(np.float32)
    signal[1234] = np.inf
    with pytest.raises(NonFiniteAudioError, match="1 non-finite"):
        load_audio((signal, 16000))


def test_a_float_wav_holding_nan_is_rejected_as_non_finite(tmp_path: Path) -> None:
    signal = tone(16000).astype(np.float32)
    signal[100:200] = np.nan
    path = write_soundfile(tmp_path / "nan.wav", signal, 16000, "WAV", "FLOAT")
    with pytest.raises(NonFiniteAudioError):
        load_audio(path)


@pytest.mark.parametrize("rate", [4000, 400000, 0, -16000])
def test_an_array_rate_outside_8k_to_192k_is_rejected(rate: int) -> None:
    with pytest.raises(InvalidSampleRateError, match="outside the supported range"):
        load_audio((np.zeros(1000, dtype=np.float32), rate))


@pytest.mark.parametrize("rate", [16000.5, "16000", None, True])
def test_a_non_integer_sample_rate_is_rejected(rate: object) -> None:
    with pytest.raises(InvalidSampleRateError):
        load_audio((np.zeros(1000, dtype=np.float32), cast(Any, rate)))


def test_a_file_at_4k_is_rejected_for_its_sample_rate(tmp_path: Path) -> None:
    path = write_soundfile(tmp_path / "low.wav", tone(4000, hz=300.0), 4000, "WAV", "PCM_16")
    with pytest.raises(InvalidSampleRateError, match="4000 Hz"):
        load_audio(path)


@pytest.mark.parametrize("target", [1000, 400000])
def test_a_target_rate_outside_the_range_is_rejected(target: int) -> None:
    with pytest.raises(InvalidSampleRateError, match="target sample_rate"):
        load_audio((np.zeros(1000, dtype=np.float32), 16000), sample_rate=target)


def test_too_many_bytes_are_refused_before_decoding(flac_file: Path) -> None:
    limits = AudioLimits(max_bytes=1000)
    for source in (flac_file, str(flac_file), flac_file.read_bytes()):
        with pytest.raises(AudioTooLargeError, match="over the"):
            load_audio(source, limits=limits)


class CountingStream(io.RawIOBase):
    """A readable stream that records how many bytes were taken from it."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._inner.read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_a_file_object_is_read_no_further_than_max_bytes_plus_one(flac_file: Path) -> None:
    stream = CountingStream(flac_file.read_bytes())
    with pytest.raises(AudioTooLargeError, match="more than"):
        load_audio(cast(BinaryIO, stream), limits=AudioLimits(max_bytes=1000))
    assert stream.bytes_read == 1001


def test_too_many_seconds_are_refused(flac_file: Path) -> None:
    limits = AudioLimits(max_seconds=0.5)
    with pytest.raises(AudioTooLongError, match=r"0\.5 s limit"):
        load_audio(flac_file, limits=limits)
    with pytest.raises(AudioTooLongError):
        load_audio((np.zeros(16001, dtype=np.float32), 16000), limits=AudioLimits(max_seconds=1.0))


def seconds_seen(error: AudioTooLongError) -> float:
    return float(error.message.rsplit("at least ", 1)[1].split(" s")[0])


def test_decoding_stops_soon_after_the_duration_limit(tmp_path: Path) -> None:
    # Raw ADTS AAC states no exact length, so the limit is only found while decoding.
    long_signal = stereo(tone(44100, seconds=30.0))
    data = encode_av(
        tmp_path / "long.aac", long_signal, 44100, container="adts", codec="aac"
    ).read_bytes()
    with pytest.raises(AudioTooLongError) as caught:
        load_audio(data, limits=AudioLimits(max_seconds=1.0))
    assert 1.0 < seconds_seen(caught.value) < 2.0


@pytest.mark.parametrize("name", ["mp3", "flac", "m4a_aac"])
def test_losing_only_the_last_few_percent_is_still_detected(name: str, tmp_path: Path) -> None:
    data = FORMATS[name](tmp_path).read_bytes()
    with pytest.raises(CorruptAudioError, match="truncated"):
        load_audio(data[: int(len(data) * 0.95)])


def test_a_header_that_states_a_long_duration_is_refused_before_decoding(tmp_path: Path) -> None:
    path = write_soundfile(
        tmp_path / "long.flac", tone(16000, seconds=30.0), 16000, "FLAC", "PCM_16"
    )
    with pytest.raises(AudioTooLongError) as caught:
        load_audio(path, limits=AudioLimits(max_seconds=1.0))
    assert seconds_seen(caught.value) == pytest.approx(30.0, abs=0.01)


def test_a_missing_path_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "voice.wav"
    with pytest.raises(AudioFileNotFoundError, match=r"voice\.wav") as caught:
        load_audio(missing)
    assert caught.value.code == "audio_not_found"


def test_a_directory_is_not_an_audio_file(tmp_path: Path) -> None:
    with pytest.raises(AudioFileNotFoundError, match="directory"):
        load_audio(tmp_path)


def test_a_video_with_no_audio_track_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(UnsupportedAudioError, match="no audio stream in input"):
        load_audio(path)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(np.zeros(100, dtype=np.float32), id="bare-array"),
        pytest.param(12345, id="int"),
        pytest.param((np.zeros(100, dtype=np.complex64), 16000), id="complex"),
        pytest.param((np.zeros((2, 3, 100), dtype=np.float32), 16000), id="3-D"),
        pytest.param((np.zeros((20, 30), dtype=np.float32), 16000), id="ambiguous-2-D"),
        pytest.param((np.zeros(100, dtype=np.float32), 16000, 1), id="3-tuple"),
        pytest.param(io.StringIO("RIFF"), id="text-stream"),
    ],
)
def test_sources_that_are_not_audio_are_unsupported(source: Any) -> None:
    with pytest.raises(UnsupportedAudioError):
        load_audio(source)


@pytest.mark.parametrize(
    "kwargs", [{"max_bytes": 0}, {"max_seconds": -1.0}, {"max_seconds": float("nan")}]
)
def test_audio_limits_must_be_positive(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError):
        AudioLimits(**kwargs)


def test_every_failure_is_an_audio_error_never_a_raw_av_or_os_error(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    good = FORMATS["m4a_aac"](tmp_path).read_bytes()
    corrupted = bytearray(good)
    corrupted[len(good) // 3 : len(good) // 3 + 4000] = rng.bytes(4000)
    sources: list[Any] = [
        bytes(corrupted),
        good[: len(good) // 3],
        b"\xff\xfb" + rng.integers(0, 256, 5000, np.uint8).tobytes(),
        b"OggS" + bytes(100),
        b"RIFF" + bytes(100),
        tmp_path / "missing.flac",
    ]
    for source in sources:
        with pytest.raises(AudioError):
            load_audio(source)


# --- the direct path for plain 16-bit WAV ------------------------------------------------------


def ffmpeg_decode(data: bytes) -> Any:
    from voxprint.audio.decode import _decode_media

    return _decode_media(io.BytesIO(data), data[:64], AudioLimits())


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_a_16_bit_wav_read_directly_has_exactly_the_samples_ffmpeg_gives(
    channels: int, tmp_path: Path, rng: np.random.Generator
) -> None:
    from voxprint.audio.decode import _plain_wav, decode_source

    samples = (0.3 * rng.standard_normal((22050, channels))).clip(-1, 1)
    path = tmp_path / "plain.wav"
    sf.write(path, samples, 22050, subtype="PCM_16")
    data = path.read_bytes()
    direct = _plain_wav(data, AudioLimits())
    assert direct is not None
    expected = ffmpeg_decode(data)
    assert direct.sample_rate == expected.sample_rate == 22050
    np.testing.assert_array_equal(direct.samples, expected.samples)
    for source in (data, path, io.BytesIO(data)):
        np.testing.assert_array_equal(decode_source(source, AudioLimits()).samples, direct.samples)


@pytest.mark.parametrize("subtype", ["PCM_24", "FLOAT", "PCM_U8"])
def test_other_wav_sample_types_go_through_ffmpeg(subtype: str, tmp_path: Path) -> None:
    from voxprint.audio.decode import _plain_wav

    path = tmp_path / "other.wav"
    sf.write(path, tone(16000, 0.5), 16000, subtype=subtype)
    assert _plain_wav(path.read_bytes(), AudioLimits()) is None
    assert load_audio(path).shape == (8000,)


def test_a_direct_wav_still_obeys_the_duration_and_rate_limits(tmp_path: Path) -> None:
    long = tmp_path / "long.wav"
    sf.write(long, tone(16000, 3.0), 16000, subtype="PCM_16")
    with pytest.raises(AudioTooLongError):
        load_audio(long.read_bytes(), limits=AudioLimits(max_seconds=2.0))
    low = tmp_path / "low.wav"
    sf.write(low, tone(4000, 1.0), 4000, subtype="PCM_16")
    with pytest.raises(InvalidSampleRateError):
        load_audio(low.read_bytes())
