"""The live recogniser: windows every hop, VAD gating, speaker changes, net speech."""

import numpy as np
import pytest

from voxprint.errors import InvalidParameterError
from voxprint.live import (
    IdentifyScorer,
    LiveConfig,
    LiveRecognizer,
    VerifyScorer,
    Window,
    evaluate_window,
    float_to_pcm16,
    pcm16_to_float,
    speech_in_tail,
    whole_samples,
)
from voxprint.vad import SpeechSegments

from apihelp import fake_service
from fakes import RATE, voice


@pytest.fixture()
def service(tmp_path):
    service = fake_service(tmp_path / "live.db")
    for name, fundamental in (("alice", 150), ("bob", 233)):
        profile = service.create_profile(name)
        service.enroll(profile.id, (voice(fundamental, 12, seed=1), RATE))
    return service


def recognizer(service, config=None, scorer=None):
    config = config or LiveConfig()
    scorer = scorer or IdentifyScorer(service, min_score=config.identification_threshold)
    return LiveRecognizer(
        config, lambda w: evaluate_window(service, w, scorer, config.min_speech_seconds)
    )


def test_a_result_comes_every_hop_and_marks_each_change_of_speaker(service):
    live = recognizer(service)
    audio = np.concatenate([np.zeros(RATE, np.float32), voice(150, 3), voice(233, 3)])
    events = live.feed(audio)
    assert [e.audio_seconds for e in events] == [0.5 * k for k in range(1, 15)]
    assert [e.decision for e in events[:2]] == ["silence", "silence"]
    names = [e.name for e in events]
    assert names[3:7] == ["alice"] * 4
    assert names[-3:] == ["bob"] * 3
    changes = [(e.audio_seconds, e.name) for e in events if e.changed]
    assert changes[0] == (2.0, "alice")
    assert changes[-1][1] == "bob"
    assert 4.0 < changes[-1][0] <= 6.0
    speech = [e.net_speech_seconds for e in events]
    assert speech == sorted(speech)
    assert speech[-1] == pytest.approx(6.0, abs=0.3)


def test_a_stranger_is_unknown_and_carries_the_best_score(service):
    events = recognizer(service).feed(voice(310, 3, seed=4))
    spoken = [e for e in events if e.speaking]
    assert spoken and all(e.unknown and e.profile_id is None for e in spoken)
    assert all(e.score is not None for e in spoken)
    assert spoken[0].changed and not any(e.changed for e in spoken[1:])


def test_windows_are_the_newest_audio_and_a_late_scorer_gets_only_the_newest(service):
    live = LiveRecognizer(LiveConfig(window_seconds=2.0, hop_seconds=0.5))
    live.push(np.zeros(int(0.3 * RATE), np.float32))
    assert live.next_window() is None
    live.push(np.arange(3 * RATE, dtype=np.float32))  # 3 s more arrive at once
    window = live.next_window()
    assert window is not None
    assert len(window.audio) == 2 * RATE
    assert window.audio[-1] == 3 * RATE - 1
    assert window.new_samples == 2 * RATE
    assert window.end_seconds == pytest.approx(3.3)
    assert live.next_window() is None


def test_cumulative_windows_keep_everything_up_to_the_cap():
    live = LiveRecognizer(LiveConfig(cumulative=True, max_seconds=3.0))
    live.push(np.ones(int(2.5 * RATE), np.float32))
    assert len(live.next_window().audio) == int(2.5 * RATE)
    live.push(np.ones(RATE, np.float32))
    assert len(live.next_window().audio) == 3 * RATE


def test_the_final_event_scores_what_is_left_even_short_of_a_hop(service):
    live = recognizer(service)
    live.feed(voice(150, 2.2))
    final = live.final_event()
    assert final.final and final.name == "alice"
    assert final.audio_seconds == pytest.approx(2.2)
    empty = recognizer(service).final_event()
    assert empty.final and empty.decision == "silence"


def test_verification_accepts_the_owner_and_rejects_another(service):
    alice = next(p for p in service.list_profiles() if p.name == "alice")
    config = LiveConfig(cumulative=True)
    owner = recognizer(service, config, VerifyScorer(service, alice)).feed(voice(150, 2))
    other = recognizer(service, config, VerifyScorer(service, alice)).feed(voice(233, 2))
    assert owner[-1].decision == "accept" and owner[-1].name == "alice"
    assert other[-1].decision == "reject"


def test_a_live_verify_session_never_scores_a_profile_deleted_or_reset_meanwhile(service):
    """A session scores the profile as it is now (found in review: an open session kept
    verifying against the voiceprint of a profile deleted or merged away)."""
    from voxprint.errors import ProfileNotEnrolledError, ProfileNotFoundError

    alice = next(p for p in service.list_profiles() if p.name == "alice")
    bob = next(p for p in service.list_profiles() if p.name == "bob")
    audio = voice(150, 2)
    window = Window(audio, 2.0, len(audio))
    assert evaluate_window(service, window, VerifyScorer(service, alice), 0.5).match is not None
    service.reset_profile(bob.id)
    with pytest.raises(ProfileNotEnrolledError):
        evaluate_window(service, window, VerifyScorer(service, bob), 0.5)
    service.delete_profile(alice.id)
    with pytest.raises(ProfileNotFoundError):
        evaluate_window(service, window, VerifyScorer(service, alice), 0.5)


def test_a_live_claim_turned_down_by_an_enrolled_look_alike_names_it(service):
    twin = service.create_profile("twin")
    service.enroll(twin.id, (voice(155, 12, seed=2), RATE))
    alice = next(p for p in service.list_profiles() if p.name == "alice")
    config = LiveConfig(cumulative=True)
    scorer = VerifyScorer(service, alice)
    claim = recognizer(service, config, scorer).feed(voice(155, 2))[-1]
    assert claim.decision == "reject"
    shown = claim.to_json()["look_alike"]
    assert (shown["profile_id"], shown["profile_name"]) == (twin.id, "twin")
    assert shown["cosine"] > claim.cosine
    owner = recognizer(service, config, scorer).feed(voice(150, 2))[-1]
    assert owner.decision == "accept" and owner.to_json()["look_alike"] is None


def test_a_live_window_says_why_it_names_someone_or_nobody(service):
    owner = recognizer(service).feed(voice(150, 3))[-1]
    stranger = recognizer(service).feed(voice(310, 3, seed=4))[-1]
    silence = recognizer(service).feed(np.zeros(RATE, np.float32))[-1]
    assert (owner.decision, owner.to_json()["reason"]) == ("identified", "match")
    assert (stranger.decision, stranger.to_json()["reason"]) == ("unknown", "no_match")
    assert (silence.decision, silence.to_json()["reason"]) == ("silence", None)
    # Scored on 0.2 s of speech (the live gate set lower than the decision's own minimum).
    audio = np.concatenate([np.zeros(int(1.8 * RATE), np.float32), voice(150, 0.2)])
    short = evaluate_window(service, Window(audio, 2.0, len(audio)), IdentifyScorer(service), 0.05)
    assert short.match.decision == "unknown"
    assert short.match.reason.value == "insufficient_speech"


@pytest.fixture()
def look_alikes(tmp_path, monkeypatch):
    """A namespace of close voices (150-158 Hz) under an operating point whose standout
    guard leaves a voice unknown when it is no further from the next profiles than 0.15."""
    from dataclasses import replace

    import fakes

    guarded = replace(fakes.TONE_PRIOR, standout_margin=0.15, identification_threshold=0.4)
    monkeypatch.setattr(fakes, "TONE_PRIOR", guarded)
    monkeypatch.setattr(fakes, "TONE_OPERATING_POINT", guarded.operating_point())
    service = fake_service(tmp_path / "alike.db")
    for i, fundamental in enumerate((150, 153, 155, 156, 157, 158, 300, 400)):
        profile = service.create_profile(f"p{fundamental}")
        service.enroll(profile.id, (voice(fundamental, 12.0, seed=i + 1), RATE))
    return service


def test_a_live_window_left_unknown_because_the_voice_does_not_stand_out_says_look_alike(
    look_alikes,
):
    last = recognizer(look_alikes).feed(voice(150, 3, seed=99))[-1]
    shown = last.to_json()
    assert shown["unknown"] and shown["decision"] == "unknown"
    assert shown["reason"] == "look_alike"
    assert shown["score"] is None and shown["cosine"] > 0.99  # close, but not singled out
    far = recognizer(look_alikes).feed(voice(233, 3, seed=99))[-1]
    assert far.unknown and far.to_json()["reason"] == "no_match"


def test_a_window_the_service_would_name_but_short_of_the_streams_threshold_is_no_match(
    look_alikes,
):
    # A stream asks more of a posterior than one identification does (each window is
    # another chance to look like someone): short of it, nobody is close enough.
    p400 = next(p for p in look_alikes.list_profiles() if p.name == "p400")
    last = recognizer(look_alikes).feed(voice(400, 3, seed=99))[-1]
    audio = voice(400, 2, seed=99)
    alone = look_alikes.identify((audio, RATE))
    assert alone.identified is not None and alone.identified.profile_id == p400.id
    assert last.unknown and last.score < LiveConfig().identification_threshold
    assert last.to_json()["reason"] == "no_match"


def test_a_live_verification_says_why_it_accepts_or_rejects(service):
    alice = next(p for p in service.list_profiles() if p.name == "alice")
    config = LiveConfig(cumulative=True)
    scorer = VerifyScorer(service, alice)
    owner = recognizer(service, config, scorer).feed(voice(150, 2))[-1]
    other = recognizer(service, config, scorer).feed(voice(233, 2))[-1]
    assert (owner.decision, owner.to_json()["reason"]) == ("accept", "match")
    assert (other.decision, other.to_json()["reason"]) == ("reject", "no_match")
    twin = service.create_profile("twin")
    service.enroll(twin.id, (voice(155, 12, seed=2), RATE))
    claim = recognizer(service, config, scorer).feed(voice(155, 2))[-1]
    assert (claim.decision, claim.to_json()["reason"]) == ("reject", "look_alike")


def test_speech_only_measuring_reports_speech_without_a_match(service):
    audio = np.concatenate([np.zeros(RATE, np.float32), voice(150, 1)])
    result = evaluate_window(service, Window(audio, 2.0, RATE), None, 0.5)
    assert result.match is None
    assert result.speech_seconds == pytest.approx(1.0, abs=0.05)
    assert result.new_speech_seconds == pytest.approx(1.0, abs=0.05)


def test_speech_in_the_tail_counts_only_the_new_samples():
    segments = SpeechSegments(((0, 100), (300, 500)), RATE, 600)
    assert speech_in_tail(segments, 250) * RATE == pytest.approx(150)
    assert speech_in_tail(segments, 0) == 0.0
    assert speech_in_tail(segments, 600) * RATE == pytest.approx(300)


def test_pcm16_round_trips_and_an_odd_byte_count_is_refused():
    samples = np.array([0.0, 0.5, -0.5, -1.0, 0.99997], np.float32)
    assert pcm16_to_float(float_to_pcm16(samples)) == pytest.approx(samples, abs=1e-4)
    assert pcm16_to_float(float_to_pcm16(np.array([2.0, -2.0]))).tolist() == pytest.approx(
        [32767 / 32768, -1.0]
    )
    with pytest.raises(InvalidParameterError):
        pcm16_to_float(b"\x00")


def test_a_chunk_that_splits_a_sample_keeps_its_odd_byte_for_the_next_chunk():
    data = float_to_pcm16(np.array([0.25, -0.5], np.float32))
    whole, rest = whole_samples(data[:3])
    assert whole == data[:2] and rest == data[2:3]
    whole, rest = whole_samples(rest + data[3:])
    assert whole == data[2:] and rest == b""
    assert whole_samples(b"") == (b"", b"")


@pytest.mark.parametrize(
    "settings",
    [
        {"hop_seconds": 0.0},
        {"window_seconds": 0.2, "hop_seconds": 0.5},
        {"min_speech_seconds": -1},
        {"window_seconds": 0.5, "min_speech_seconds": 0.8},  # could never name anyone
        {"max_seconds": 1.0},
        {"identification_threshold": 1.0},
    ],
)
def test_impossible_live_settings_are_refused(settings):
    with pytest.raises(InvalidParameterError):
        LiveConfig(**settings)


def test_a_window_runs_the_voice_detector_once(service, monkeypatch):
    detector = service.pipeline.vad
    calls = []
    original = detector.detect

    def counting(audio):
        calls.append(len(audio))
        return original(audio)

    monkeypatch.setattr(detector, "detect", counting)
    alice = next(p for p in service.list_profiles() if p.name == "alice")
    window = Window(voice(150, 2), 2.0, RATE)
    result = evaluate_window(service, window, VerifyScorer(service, alice), 0.5)
    assert result.match is not None and result.match.decision == "accept"
    assert calls == [2 * RATE]


@pytest.mark.parametrize("kind", ["verify", "identify"])
def test_a_wideband_window_against_a_telephone_enrolment_is_judged_as_its_telephone_copy(
    tmp_path, monkeypatch, kind
):
    """As verify and identify judge a whole recording: an app user enrolled by telephone
    is scored on the window band-limited to the telephone band (live windows used to be
    scored as they were, and owners across bands refused)."""
    from test_service import app_and_phone

    service, app, enrolled = app_and_phone(tmp_path / "mixed.db", phone_voice=200)
    phone = service.get_profile(enrolled.id)
    copies = []
    original = service.pipeline.telephone_copy

    def counting(waveform, segments):
        copies.append(len(waveform))
        return original(waveform, segments)

    monkeypatch.setattr(service.pipeline, "telephone_copy", counting)
    embedded = []
    embed = service.pipeline.encoder.embed
    monkeypatch.setattr(
        service.pipeline.encoder, "embed", lambda speech: embedded.append(1) or embed(speech)
    )
    audio = voice(200, 3.0, seed=5)
    scorer = (
        VerifyScorer(service, phone) if kind == "verify" else IdentifyScorer(service, [phone.id])
    )
    live = evaluate_window(service, Window(audio, 3.0, len(audio)), scorer, 0.5).match
    assert copies == [len(audio)]
    # verify embeds the copy alone; identify the window too, to search the gallery
    assert len(embedded) == (1 if kind == "verify" else 2)
    whole = (
        service.verify(phone.id, (audio, RATE))
        if kind == "verify"
        else service.identify((audio, RATE), profile_ids=[phone.id], top_n=1).candidates[0]
    )
    assert copies == [len(audio)] * 2
    assert live is not None and live.score == pytest.approx(whole.score, abs=1e-6)
    assert live.cosine == pytest.approx(whole.cosine, abs=1e-6)
    on_app = VerifyScorer(service, service.get_profile(app.id))
    evaluate_window(service, Window(audio, 3.0, len(audio)), on_app, 0.5)
    assert len(copies) == 2  # a wideband window against an app enrolment: no copy
