"""The embedding pipeline: decode, keep the speech, embed; speech minimums and forcing."""

import threading

import numpy as np
import pytest

from voxprint.errors import AudioError, InvalidParameterError, NoSpeechError, SpeechTooShortError
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig, Utterance

from fakes import RATE, EnergyVad, ToneEncoder, voice


def pipeline(**config):
    return EmbeddingPipeline(ToneEncoder(), config=PipelineConfig(**config), vad=EnergyVad())


def test_net_speech_is_measured_on_the_speech_not_the_whole_recording():
    utterance = pipeline().process((voice(150, 3.0, silence=2.0), RATE))
    assert utterance.audio_seconds == pytest.approx(7.0)
    assert utterance.net_speech_seconds == pytest.approx(3.0, abs=0.05)
    assert utterance.embedding.shape == (64,) and utterance.embedding.dtype == np.float32
    assert utterance.processing_seconds > 0


def test_an_utterance_carries_the_level_snr_that_scoring_reads():
    rng = np.random.default_rng(3)
    clean = voice(150, 3.0, silence=1.0)
    noisy = clean + rng.normal(size=clean.size).astype(np.float32) * 0.2 * np.std(clean)
    clean_snr = pipeline().process((clean, RATE)).snr_db
    noisy_snr = pipeline(apply_vad=False).process((noisy, RATE)).snr_db
    assert clean_snr is not None and noisy_snr is not None
    assert noisy_snr < clean_snr


def test_silence_around_the_speech_does_not_change_the_embedding_much():
    plain = pipeline().process((voice(150, 3.0), RATE)).embedding
    padded = pipeline().process((voice(150, 3.0, silence=3.0), RATE)).embedding
    assert float(plain @ padded) > 0.99


def test_less_speech_than_the_minimum_is_refused_unless_forced():
    short = (voice(150, 0.6), RATE)
    with pytest.raises(SpeechTooShortError) as caught:
        pipeline(min_speech_seconds=1.0).process(short)
    assert caught.value.required_seconds == 1.0
    assert caught.value.net_speech_seconds == pytest.approx(0.6, abs=0.05)
    assert pipeline(min_speech_seconds=1.0).process(short, force=True).net_speech_seconds > 0


def test_no_speech_at_all_is_refused_even_when_forced():
    with pytest.raises(NoSpeechError):
        pipeline().process((np.zeros(RATE * 2, dtype=np.float32), RATE), force=True)


def test_without_vad_the_whole_recording_counts_as_speech():
    utterance = pipeline(apply_vad=False).process((voice(150, 2.0, silence=1.0), RATE))
    assert utterance.net_speech_seconds == pytest.approx(4.0)


def test_the_pipeline_decodes_any_source_to_the_encoder_rate():
    stereo_48k = np.stack([voice(150, 2.0)] * 2, axis=1)
    stereo_48k = np.repeat(stereo_48k, 3, axis=0)  # crude 48 kHz version
    waveform = pipeline().load((stereo_48k, 48000))
    assert waveform.ndim == 1 and len(waveform) == pytest.approx(2.0 * RATE, abs=10)


# --- process_many ----------------------------------------------------------------


class BatchToneEncoder(ToneEncoder):
    """ToneEncoder with an ``embed_batch`` that records its batch sizes and refuses
    waveforms shorter than 0.5 s (as a real encoder refuses too-short speech)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def embed(self, waveform):
        if len(waveform) < RATE // 2:
            raise SpeechTooShortError("too short", net_speech_seconds=0.0, required_seconds=0.5)
        return super().embed(waveform)

    def embed_batch(self, waveforms):
        self.batches.append(len(waveforms))
        return np.stack([self.embed(w) for w in waveforms])


def test_process_many_keeps_the_input_order_and_yields_typed_errors():
    sources = [
        (voice(150, 2.0, silence=0.5), RATE),
        b"definitely not audio",
        (np.zeros(RATE * 2, dtype=np.float32), RATE),  # silence
        (voice(250, 0.6), RATE),  # too short without force
        (voice(350, 3.0, seed=2), RATE),
    ]
    results = list(pipeline().process_many(sources, batch_size=2))
    assert len(results) == len(sources)
    assert isinstance(results[1], AudioError)
    assert isinstance(results[2], NoSpeechError)
    assert isinstance(results[3], SpeechTooShortError)
    for index in (0, 4):
        expected = pipeline().process(sources[index])
        assert results[index].net_speech_seconds == pytest.approx(expected.net_speech_seconds)
        np.testing.assert_allclose(results[index].embedding, expected.embedding, atol=1e-6)
        assert results[index].processing_seconds > 0


def test_process_many_batches_the_encoder_and_isolates_a_failing_item():
    encoder = BatchToneEncoder()
    many = EmbeddingPipeline(
        encoder, config=PipelineConfig(embedding_pad_seconds=0.0), vad=EnergyVad()
    )
    sources = [(voice(100 + 50 * i, 1.5 if i != 3 else 0.3, seed=i), RATE) for i in range(7)]
    results = list(many.process_many(sources, force=True, batch_size=3))
    assert encoder.batches[:2] == [3, 3]  # batches of three; the second one held the bad item
    assert isinstance(results[3], SpeechTooShortError)
    good = [r for i, r in enumerate(results) if i != 3]
    assert all(isinstance(r, Utterance) for r in good)
    # Every good item has its own embedding, in order (different tones, different bands).
    assert [int(np.argmax(r.embedding)) for r in good] == sorted(
        int(np.argmax(r.embedding)) for r in good
    )


class OverlapToneEncoder(ToneEncoder):
    """ToneEncoder whose ``embed_batch`` records how many batches run at once, and holds
    the first batch until a second one has started (or a few seconds have passed)."""

    def __init__(self) -> None:
        super().__init__()
        self.running = 0
        self.most_at_once = 0
        self.lock = threading.Lock()
        self.second = threading.Event()

    def embed_batch(self, waveforms):
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            if self.running > 1:
                self.second.set()
        self.second.wait(timeout=5)
        try:
            return np.stack([self.embed(w) for w in waveforms])
        finally:
            with self.lock:
                self.running -= 1


def test_process_many_embeds_two_chunks_at_a_time_and_keeps_the_input_order():
    encoder = OverlapToneEncoder()
    many = EmbeddingPipeline(
        encoder, config=PipelineConfig(embedding_pad_seconds=0.0), vad=EnergyVad()
    )
    sources = [(voice(100 + 50 * i, 1.5, seed=i), RATE) for i in range(8)]
    results = list(many.process_many(sources, force=True, batch_size=2, workers=2))
    assert encoder.most_at_once == 2
    peaks = [int(np.argmax(r.embedding)) for r in results]
    assert peaks == sorted(peaks) and len(set(peaks)) == len(sources)
    alone = OverlapToneEncoder()
    one = EmbeddingPipeline(
        alone, config=PipelineConfig(embedding_pad_seconds=0.0), vad=EnergyVad()
    )
    alone.second.set()  # nothing to wait for
    assert len(list(one.process_many(sources, force=True, batch_size=2, workers=1))) == 8
    assert alone.most_at_once == 1
    with pytest.raises(InvalidParameterError):
        list(many.process_many(sources, workers=0))


def test_process_many_uses_the_given_loader_and_reraises_unexpected_errors():
    waves = {"a": voice(150, 2.0), "b": voice(300, 2.0)}
    results = list(pipeline().process_many(["a", "b"], load=waves.__getitem__))
    assert all(isinstance(r, Utterance) for r in results)
    with pytest.raises(KeyError):
        list(pipeline().process_many(["a", "missing"], load=waves.__getitem__))


def test_process_many_can_be_abandoned_half_way_and_refuses_a_bad_batch_size():
    sources = ((voice(150, 1.5, seed=i), RATE) for i in range(100))
    results = pipeline().process_many(sources, batch_size=2)
    assert isinstance(next(results), Utterance)
    results.close()  # stops the prefetch thread; must not hang
    with pytest.raises(InvalidParameterError):
        list(pipeline().process_many([], batch_size=0))
    assert list(pipeline().process_many([])) == []


class CountingVad(EnergyVad):
    def __init__(self) -> None:
        self.calls = 0

    def detect(self, waveform):
        self.calls += 1
        return super().detect(waveform)


def test_known_segments_embed_like_process_waveform_without_running_the_vad_again():
    vad = CountingVad()
    pipe = EmbeddingPipeline(ToneEncoder(), vad=vad)
    audio = voice(150, 3.0, silence=1.0)
    whole = pipe.process_waveform(audio)
    segments = vad.detect(audio)
    calls = vad.calls
    known = pipe.process_segments(audio, segments)
    assert vad.calls == calls
    np.testing.assert_array_equal(known.embedding, whole.embedding)
    assert known.net_speech_seconds == whole.net_speech_seconds
    assert known.bandwidth_hz == whole.bandwidth_hz


def test_prepared_speech_tells_its_band_before_anything_is_embedded():
    """What a caller needs to choose between the recording and its telephone copy."""
    pipe = pipeline()
    embedded = []
    embed = pipe.encoder.embed
    pipe.encoder.embed = lambda speech: embedded.append(1) or embed(speech)  # type: ignore[method-assign]
    audio = voice(150, 3.0, silence=1.0)
    speech = pipe.prepare(audio)
    assert embedded == []
    whole = pipe.process_waveform(audio)
    assert speech.bandwidth_hz == whole.bandwidth_hz and speech.snr_db == whole.snr_db
    assert speech.segments.net_speech_seconds == whole.net_speech_seconds
    np.testing.assert_array_equal(pipe.embed(speech).embedding, whole.embedding)
    with pytest.raises(SpeechTooShortError):
        pipe.prepare(voice(150, 0.3))
    with pytest.raises(NoSpeechError):
        pipe.prepare(np.zeros(RATE, np.float32), force=True)


def test_known_segments_of_other_audio_or_without_speech_are_refused():
    pipe = EmbeddingPipeline(ToneEncoder(), vad=EnergyVad())
    audio = voice(150, 2.0)
    with pytest.raises(InvalidParameterError, match="segments cover"):
        pipe.process_segments(audio, EnergyVad().detect(audio[:-10]))
    silence = np.zeros(RATE, np.float32)
    with pytest.raises(NoSpeechError):
        pipe.process_segments(silence, EnergyVad().detect(silence), force=True)
    with pytest.raises(SpeechTooShortError):
        pipe.process_segments(voice(150, 0.5), EnergyVad().detect(voice(150, 0.5)))


def test_the_voice_detector_is_loaded_on_first_use_not_with_the_pipeline(monkeypatch):
    import voxprint.pipeline as pipeline_module

    built = []

    class Recording(EnergyVad):
        def __init__(self, config):
            built.append(config)

    monkeypatch.setattr(pipeline_module, "SileroVad", Recording)
    pipe = EmbeddingPipeline(ToneEncoder())
    assert built == []
    pipe.process((voice(150, 2.0), RATE))
    pipe.process((voice(150, 2.0), RATE))
    assert built == [pipe.config.vad]


def test_warm_up_loads_the_voice_detector_and_warms_the_encoder():
    class WarmEncoder(ToneEncoder):
        warmed = 0

        def warm_up(self):
            self.warmed += 1

    vad, encoder = CountingVad(), WarmEncoder()
    EmbeddingPipeline(encoder, vad=vad).warm_up()
    assert (vad.calls, encoder.warmed) == (1, 1)
    EmbeddingPipeline(ToneEncoder(), vad=vad).warm_up()  # an encoder without warm_up is fine


def test_a_telephone_copy_is_the_audio_band_limited_to_8_khz_and_embedded():
    audio = voice(150, 4.0, seed=3)
    wide = pipeline().process_waveform(audio)
    copy = pipeline().telephone_copy(audio, wide.segments)
    assert wide.bandwidth_hz is not None and wide.bandwidth_hz > 4500
    assert copy.bandwidth_hz is not None and copy.bandwidth_hz <= 4500
    # Over the speech found in the audio as it was: a short word's copy can hold none
    # for the detector run again (found in review).
    assert copy.segments == wide.segments
    assert copy.net_speech_seconds == wide.net_speech_seconds
    assert copy.embedding.shape == wide.embedding.shape
