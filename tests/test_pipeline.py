"""The embedding pipeline: decode, keep the speech, embed; speech minimums and forcing."""

import numpy as np
import pytest

from voxprint.errors import NoSpeechError, SpeechTooShortError
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig

from fakes import RATE, EnergyVad, ToneEncoder, voice


def pipeline(**config):
    return EmbeddingPipeline(ToneEncoder(), config=PipelineConfig(**config), vad=EnergyVad())


def test_net_speech_is_measured_on_the_speech_not_the_whole_recording():
    utterance = pipeline().process((voice(150, 3.0, silence=2.0), RATE))
    assert utterance.audio_seconds == pytest.approx(7.0)
    assert utterance.net_speech_seconds == pytest.approx(3.0, abs=0.05)
    assert utterance.embedding.shape == (64,) and utterance.embedding.dtype == np.float32
    assert utterance.processing_seconds > 0


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
