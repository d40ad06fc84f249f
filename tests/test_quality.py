"""Enrolment clip quality: SNR, clipping, more than one speaker, and the gate in the service.

Synthetic signals with known answers, the tone fakes for the service, and one check of
the multi-speaker rule on real LibriSpeech speech with CAM++ (skipped without the data).
"""

from pathlib import Path

import numpy as np
import pytest

from voxprint.audio import load_audio, resample
from voxprint.enrollment import EnrollmentPolicy
from voxprint.errors import ClipRejectedError, InvalidParameterError
from voxprint.evaluation.datasets import speaker_folders
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig
from voxprint.quality import (
    MAX_SNR_DB,
    ClipQuality,
    QualityGate,
    assess_clip,
    clipped_fraction,
    estimate_snr,
    level_snr,
    speaker_similarity,
    speech_bandwidth,
)
from voxprint.service import VoxprintService
from voxprint.store import SQLiteStore
from voxprint.vad import SpeechSegments

from fakes import RATE, EnergyVad, ToneEncoder, tone_thresholds, voice

TONE_GATE = QualityGate(min_speaker_similarity=0.9)


def bursts(rng, *, n=6, speech=1.0, gap=0.5):
    """Speech-like bursts (random-phase harmonics) separated by gaps, and their segments."""
    pieces, spans, position = [], [], 0
    t = np.arange(int(speech * RATE)) / RATE
    for i in range(n):
        f0 = 120 + 10 * i
        burst = sum(
            np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 8)
        )
        gap_samples = np.zeros(int(gap * RATE))
        pieces += [gap_samples, burst]
        spans.append((position + gap_samples.size, position + gap_samples.size + burst.size))
        position += gap_samples.size + burst.size
    pieces.append(np.zeros(int(gap * RATE)))
    signal = np.concatenate(pieces)
    return signal, SpeechSegments(tuple(spans), RATE, signal.size)


def mixed(rng, snr_db):
    clean, segments = bursts(rng)
    speech_power = np.mean(segments.extract(clean.astype(np.float32)).astype(np.float64) ** 2)
    noise = rng.normal(size=clean.size) * np.sqrt(speech_power / 10 ** (snr_db / 10))
    scale = 0.5 / np.max(np.abs(clean + noise))
    return ((clean + noise) * scale).astype(np.float32), segments


@pytest.mark.parametrize("snr_db", [0.0, 5.0, 10.0, 20.0, 30.0])
def test_the_snr_estimate_is_within_a_db_of_the_mixture_snr(rng, snr_db):
    waveform, segments = mixed(rng, snr_db)
    assert estimate_snr(waveform, segments) == pytest.approx(snr_db, abs=1.0)


def test_the_snr_is_unknown_without_non_speech_to_measure_noise_on():
    waveform = voice(150, 3.0)
    everything = SpeechSegments(((0, waveform.size),), RATE, waveform.size)
    assert estimate_snr(waveform, everything) is None


def test_digital_silence_between_words_gives_the_top_snr(rng):
    clean, segments = bursts(rng)
    assert estimate_snr(clean.astype(np.float32), segments) == MAX_SNR_DB


def test_the_level_snr_falls_as_noise_rises_even_without_pauses(rng):
    """Scoring's SNR reads continuous speech too: the bursts mixed without their gaps."""
    t = np.arange(3 * RATE) / RATE
    syllables = np.sin(2 * np.pi * 4 * t) ** 2  # speech rises and falls about 4 times a second
    speech = syllables * sum(np.sin(2 * np.pi * 130 * k * t) / k for k in range(1, 8))
    power = np.mean(speech**2)
    everything = SpeechSegments(((0, t.size),), RATE, t.size)
    readings = []
    for snr_db in (0.0, 5.0, 20.0):
        noise = rng.normal(size=t.size) * np.sqrt(power / 10 ** (snr_db / 10))
        continuous = (0.3 * (speech + noise) / np.max(np.abs(speech + noise))).astype(np.float32)
        assert estimate_snr(continuous, everything) is None
        reading = level_snr(continuous, RATE)
        assert reading is not None
        readings.append(reading)
    assert readings[0] < readings[1] < readings[2]
    assert readings[0] < 10.0


def test_the_level_snr_is_top_over_digital_silence_and_unknown_for_a_blip(rng):
    clean, _ = bursts(rng)
    assert level_snr(clean.astype(np.float32), RATE) == MAX_SNR_DB
    assert level_snr(np.ones(RATE // 100, dtype=np.float32), RATE) is None


def test_a_clean_signal_has_no_clipping_and_a_clipped_one_does():
    t = np.arange(RATE) / RATE
    sine = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    assert clipped_fraction(sine) == 0.0
    hard = np.clip(3 * sine, -1.0, 1.0)
    assert clipped_fraction(hard) > 0.5
    # Clipped at 0.8 and turned down: no sample near full scale, but flat tops remain.
    flat = 0.5 * np.clip(2 * sine, -0.8, 0.8)
    assert np.max(np.abs(flat)) < 0.5
    assert clipped_fraction(flat) > 0.3
    assert clipped_fraction(np.zeros(0, np.float32)) == 0.0


def test_one_voice_is_consistent_and_two_voices_are_not():
    encoder = ToneEncoder()
    one = [encoder.embed(voice(150, 1.5, seed=i)) for i in range(6)]
    two = one[:3] + [encoder.embed(voice(320, 1.5, seed=i)) for i in range(3)]
    assert speaker_similarity(np.stack(one)) > 0.95
    assert speaker_similarity(np.stack(two)) < 0.5
    with pytest.raises(InvalidParameterError):
        speaker_similarity(np.stack(one[:1]))


def test_assess_clip_reports_every_measure():
    waveform = np.concatenate([voice(150, 4.0, silence=1.0), voice(320, 4.0, seed=3)])
    segments = EnergyVad().detect(waveform)
    quality = assess_clip(waveform, segments, ToneEncoder(), TONE_GATE)
    assert quality.audio_seconds == pytest.approx(10.0)
    assert quality.net_speech_seconds == pytest.approx(8.0, abs=0.1)
    assert quality.snr_db is not None and quality.snr_db > 20
    assert quality.clipped_fraction == 0.0
    assert quality.multiple_speakers and quality.speaker_similarity is not None
    short = voice(150, 2.0)
    brief = assess_clip(short, EnergyVad().detect(short), ToneEncoder(), TONE_GATE)
    assert brief.speaker_similarity is None and not brief.multiple_speakers


def test_the_gate_names_each_problem_and_can_be_switched_off():
    bad = ClipQuality(10.0, 8.0, 2.0, 0.05, 0.3, True)
    problems = QualityGate().problems(bad)
    assert len(problems) == 3
    assert "SNR 2.0 dB" in problems[0] and "clipped" in problems[1] and "speaker" in problems[2]
    assert QualityGate(enabled=False).problems(bad) == ()
    relaxed = QualityGate(
        min_snr_db=None, max_clipped_fraction=None, reject_multiple_speakers=False
    )
    assert relaxed.problems(bad) == ()
    unknown = ClipQuality(10.0, 8.0, None, 0.0, None, False)
    assert QualityGate().problems(unknown) == ()
    with pytest.raises(InvalidParameterError):
        QualityGate(window_seconds=0)


def test_the_two_voice_check_runs_for_calibrated_encoders_only_unless_a_threshold_is_set():
    gate = QualityGate()
    assert gate.speaker_threshold("campplus") == 0.55
    assert gate.speaker_threshold("campplus+ge2e") == 0.55
    assert gate.speaker_threshold("ge2e") is None
    assert QualityGate(min_speaker_similarity=0.4).speaker_threshold("ge2e") == 0.4


class MiddleVad:
    """Speech is everything but the first and last second (how ``voice(silence=1.0)`` is built);
    unlike the energy fake it still finds the pauses when noise fills them."""

    sample_rate = RATE

    def detect(self, waveform: np.ndarray) -> SpeechSegments:
        return SpeechSegments(((RATE, waveform.size - RATE),), RATE, waveform.size)


def make_service(db: Path, vad=None) -> VoxprintService:
    pipeline = EmbeddingPipeline(
        ToneEncoder(), config=PipelineConfig(min_speech_seconds=1.0), vad=vad or EnergyVad()
    )
    store = SQLiteStore(db)
    return VoxprintService(
        pipeline=pipeline,
        store=store,
        thresholds=tone_thresholds(store),
        enrollment=EnrollmentPolicy(min_net_speech_seconds=10.0, quality_gate=TONE_GATE),
    )


def test_a_clean_clip_is_enrolled_with_its_quality_reported(tmp_path):
    service = make_service(tmp_path / "q.db")
    profile = service.create_profile("alice")
    report = service.enroll(profile.id, (voice(150, 6.0, silence=1.0), RATE))
    assert report.quality is not None
    assert report.quality.snr_db is not None and report.quality.snr_db > 20
    assert not report.quality.multiple_speakers
    assert report.profile.clip_count == 1


def test_the_gate_rejects_a_noisy_clip_and_stores_nothing(tmp_path, rng):
    service = make_service(tmp_path / "q.db", vad=MiddleVad())
    profile = service.create_profile("alice")
    quiet = voice(150, 6.0, silence=1.0)
    noisy = (quiet + rng.normal(size=quiet.size) * 0.08).astype(np.float32)
    with pytest.raises(ClipRejectedError) as caught:
        service.enroll(profile.id, (noisy, RATE))
    error = caught.value
    assert error.code == "clip_rejected"
    assert error.quality.snr_db < 5.0 and "too noisy" in error.reasons[0]
    assert "SNR" in error.message
    assert service.get_profile(profile.id).clip_count == 0
    assert service.store.list_clips("default", profile.id) == []
    assert service.activity(limit=1)[0].result == "rejected"
    # Switched off for this call, the same clip is enrolled and its measures reported.
    report = service.enroll(profile.id, (noisy, RATE), check_quality=False)
    assert report.profile.clip_count == 1 and report.quality is not None
    assert report.quality.snr_db is not None and report.quality.snr_db < 5.0


def test_the_gate_rejects_a_clip_with_two_voices_and_a_clipped_clip(tmp_path):
    service = make_service(tmp_path / "q.db")
    profile = service.create_profile("alice")
    two = np.concatenate([voice(150, 4.0), voice(320, 4.0, seed=2)])
    with pytest.raises(ClipRejectedError, match="more than one speaker"):
        service.enroll(profile.id, (two, RATE))
    clipped = np.clip(voice(150, 6.0) * 8, -1.0, 1.0).astype(np.float32)
    with pytest.raises(ClipRejectedError, match="clipped"):
        service.enroll(profile.id, (clipped, RATE))
    assert service.get_profile(profile.id).clip_count == 0


def test_two_librispeech_speakers_in_one_clip_are_flagged_and_one_is_not(data_root):
    from voxprint.bootstrap import ServiceOptions, build_pipeline

    pipeline = build_pipeline(ServiceOptions(model="campplus"))
    folders = speaker_folders(data_root / "librispeech" / "train-clean-100")
    first, second = (load_audio(paths[0]) for paths in list(folders.values())[:2])
    gate = QualityGate()

    def quality_of(waveform: np.ndarray) -> ClipQuality:
        return assess_clip(waveform, pipeline.vad.detect(waveform), pipeline.encoder, gate)

    one = quality_of(first[: 12 * RATE])
    two = quality_of(np.concatenate([first[: 6 * RATE], second[: 6 * RATE]]))
    assert not one.multiple_speakers
    assert two.multiple_speakers
    assert one.snr_db is not None and one.snr_db > 10


def test_the_speaker_windows_are_embedded_in_one_batch_when_the_encoder_can():
    class BatchingEncoder(ToneEncoder):
        def __init__(self):
            super().__init__()
            self.batches, self.singles = [], 0

        def embed(self, waveform):
            self.singles += 1
            return super().embed(waveform)

        def embed_batch(self, waveforms):
            self.batches.append(len(waveforms))
            return np.stack([ToneEncoder.embed(self, w) for w in waveforms])

    waveform = np.concatenate([voice(150, 4.0, seed=1), voice(233, 4.0, seed=2)])
    segments = EnergyVad().detect(waveform)
    encoder = BatchingEncoder()
    batched = assess_clip(waveform, segments, encoder, TONE_GATE)
    alone = assess_clip(waveform, segments, ToneEncoder(), TONE_GATE)
    assert encoder.singles == 0 and len(encoder.batches) == 1 and encoder.batches[0] >= 4
    assert batched == alone


def test_speech_bandwidth_tells_telephone_speech_from_wideband_even_with_clicks():
    """Clicks where two recordings were joined are broadband: counted in a mean over
    frames, they made 8 kHz digit strings read as wideband."""
    wide = voice(150, 4.0, seed=1)
    phone = resample(resample(wide, RATE, 8000), 8000, RATE)[: len(wide)]
    clicked = phone.copy()
    clicked[:: RATE // 2] += 0.5
    whole = SpeechSegments(((0, len(wide)),), RATE, len(wide))
    assert speech_bandwidth(wide, whole) >= 7000
    assert speech_bandwidth(phone, whole) <= 4500
    assert speech_bandwidth(clicked, whole) <= 4500
    assert speech_bandwidth(np.zeros_like(wide), whole) == 0.0


def test_the_gate_names_another_voice_below_its_bar_and_not_when_off():
    gate = QualityGate()
    problem = gate.voice_problem(0.01, "ada")
    assert problem is not None and problem.startswith("another voice: the clip scores 0.010")
    assert gate.voice_problem(0.05, "ada") is None
    assert QualityGate(min_own_voice_score=None).voice_problem(0.0, "ada") is None
    assert QualityGate(enabled=False).voice_problem(0.0, "ada") is None
    with pytest.raises(InvalidParameterError, match="min_own_voice_score"):
        QualityGate(min_own_voice_score=1.5)
