"""Native /v1 enrolment, verification, identification and compare routes: good and bad audio."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from apihelp import auth, client_for, issue_key, make_app, voice_wav, wav_bytes

WAV = {"Content-Type": "audio/wav"}
UNKNOWN_ID = "0f0e0d0c-0b0a-4908-8706-050403020100"


@pytest.fixture()
def api(tmp_path):
    app, service = make_app(tmp_path / "v.db")
    with client_for(app) as client:
        client.headers.update(auth(issue_key(service)))
        yield client


def create(client, name="alice"):
    return client.post("/v1/profiles", json={"name": name}).json()["id"]


def enrolled(client, name="alice", fundamental=150.0):
    profile_id = create(client, name)
    response = client.post(
        f"/v1/profiles/{profile_id}/enrollments",
        content=voice_wav(fundamental, 12, seed=1),
        headers=WAV,
    )
    assert response.json()["status"] == "enrolled"
    return profile_id


def test_each_enrolment_reports_clip_speech_total_speech_remaining_and_status(api):
    profile_id = create(api)
    first = api.post(
        f"/v1/profiles/{profile_id}/enrollments", content=voice_wav(150, 6), headers=WAV
    )
    assert first.status_code == 201
    body = first.json()
    assert body["status"] == "enrolling"
    assert body["clip_net_speech_seconds"] == pytest.approx(6.0, abs=0.1)
    assert body["net_speech_seconds"] == pytest.approx(body["clip_net_speech_seconds"])
    assert body["remaining_speech_seconds"] == pytest.approx(10.0 - body["net_speech_seconds"])
    second = api.post(
        f"/v1/profiles/{profile_id}/enrollments",
        files={"audio": ("clip.wav", voice_wav(150, 6, seed=2), "audio/wav")},
        data={"label": "second"},
    ).json()
    assert second["status"] == "enrolled" and second["remaining_speech_seconds"] == 0
    assert second["net_speech_seconds"] == pytest.approx(
        body["net_speech_seconds"] + second["clip_net_speech_seconds"]
    )
    assert second["profile"]["clip_count"] == 2


def test_a_clip_below_the_speech_minimum_is_refused_unless_forced(api):
    profile_id = create(api)
    url = f"/v1/profiles/{profile_id}/enrollments"
    short = api.post(url, content=voice_wav(150, 0.5), headers=WAV)
    assert short.status_code == 422
    error = short.json()["error"]
    assert error["code"] == "speech_too_short"
    assert error["net_speech_seconds"] < error["required_seconds"] == 1.0
    forced = api.post(url, params={"force": "true"}, content=voice_wav(150, 0.5), headers=WAV)
    assert forced.status_code == 201
    assert forced.json()["profile"]["clip_count"] == 1
    assert api.post(url, params={"force": "maybe"}, content=b"x").status_code == 422


def test_bad_audio_gets_a_4xx_with_a_machine_readable_code(tmp_path):
    app, service = make_app(tmp_path / "v.db", max_upload_bytes=200_000)
    with client_for(app) as api:
        api.headers.update(auth(issue_key(service)))
        url = f"/v1/profiles/{create(api)}/enrollments"
        cases = [
            ({"content": wav_bytes(np.zeros(32000, np.float32)), "headers": WAV}, 422, "no_speech"),
            ({"content": b"RIFF\x00\x00garbage" * 50, "headers": WAV}, 400, "corrupt_audio"),
            ({"content": b"", "headers": WAV}, 400, "empty_audio"),
            ({"content": b"hello", "headers": {"Content-Type": "text/plain"}}, 415, None),
            ({"content": voice_wav(150, 8), "headers": WAV}, 413, "audio_too_large"),
            ({"files": {"other": ("a.txt", b"")}, "data": {"x": "1"}}, 400, None),
            ({"data": {"label": "not multipart"}}, 415, "unsupported_media"),
            ({"files": {"label": (None, "no file")}}, 400, "invalid_parameter"),
        ]
        for kwargs, status, code in cases:
            response = api.post(url, **kwargs)
            assert response.status_code == status, (kwargs.get("headers"), response.text)
            assert response.json()["error"]["code"] == code or code is None
        assert api.get(url.removesuffix("/enrollments")).json()["clip_count"] == 0


def test_a_streamed_body_over_the_limit_is_refused_without_reading_it_all(tmp_path):
    app, service = make_app(tmp_path / "v.db", max_upload_bytes=100_000)
    key = issue_key(service)
    received: list[int] = []
    sent: list[dict] = []

    async def receive() -> dict:
        received.append(1)
        return {"type": "http.request", "body": b"\x00" * 10_000, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    with client_for(app) as api:  # runs the lifespan
        api.headers.update(auth(key))
        profile_id = create(api)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": f"/v1/profiles/{profile_id}/verify",
            "raw_path": f"/v1/profiles/{profile_id}/verify".encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"authorization", f"Bearer {key}".encode()),
                (b"content-type", b"audio/wav"),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
        }
        asyncio.run(app(scope, receive, send))
        declared = api.post(
            f"/v1/profiles/{profile_id}/verify",
            content=b"\x00" * 200_000,
            headers=WAV,
        )
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert len(received) <= 11  # stopped just past the limit; an endless body never ends
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "audio_too_large"


def test_verify_names_the_enrolled_look_alike_that_turned_a_claim_down(api):
    older = enrolled(api, "older", 150.0)
    younger = enrolled(api, "younger", 155.0)
    claim = api.post(f"/v1/profiles/{older}/verify", content=voice_wav(155, 4, seed=7))
    assert claim.status_code == 200
    body = claim.json()
    assert body["decision"] == "reject" and body["reason"] == "look_alike"
    assert body["look_alike"]["profile_id"] == younger
    assert body["look_alike"]["profile_name"] == "younger"
    assert body["look_alike"]["cosine"] > body["cosine"]
    assert api.get("/v1/thresholds").json()["rival_weight"] == 1.0


def test_verify_accepts_the_owner_and_rejects_another_speaker(api):
    profile_id = enrolled(api)
    same = api.post(f"/v1/profiles/{profile_id}/verify", content=voice_wav(150, 3, seed=5))
    other = api.post(f"/v1/profiles/{profile_id}/verify", content=voice_wav(230, 3, seed=5))
    assert same.status_code == other.status_code == 200
    accepted, rejected = same.json(), other.json()
    assert set(accepted) == {
        "profile_id",
        "profile_name",
        "cosine",
        "score",
        "normalized_score",
        "decision",
        "reason",
        "threshold",
        "cosine_threshold",
        "net_speech_seconds",
        "source",
        "activity_logged",
        "kind",
        "voice_decision",
        "phrase",
        "challenge_id",
        "look_alike",
    }
    assert accepted["look_alike"] is None and rejected["look_alike"] is None  # one profile
    assert accepted["kind"] == "text-independent" and accepted["phrase"] is None
    assert accepted["normalized_score"] is None  # no cohort set up
    assert accepted["decision"] == "accept" and rejected["decision"] == "reject"
    assert 0 <= rejected["score"] < accepted["score"] <= 1
    assert rejected["score"] < accepted["threshold"] <= accepted["score"]
    assert rejected["cosine"] < accepted["cosine_threshold"] <= accepted["cosine"]
    assert (accepted["reason"], rejected["reason"]) == ("match", "no_match")
    assert accepted["source"]["kind"] == "prior"  # one profile: no adaptation yet
    assert accepted["net_speech_seconds"] == pytest.approx(3.0, abs=0.1)


def test_the_thresholds_route_reports_the_operating_point_of_the_keys_namespace(api):
    before = api.get("/v1/thresholds")
    assert before.status_code == 200, before.text
    body = before.json()
    assert body["source"]["kind"] == "prior" and body["statistics"] is None
    assert 0 < body["verification_threshold"] < 1 and body["min_speech_seconds"] > 0
    enrolled(api)
    enrolled(api, fundamental=260)
    after = api.get("/v1/thresholds").json()
    assert after["source"]["kind"] == "adapted"
    assert after["statistics"]["profiles"] == 2 and after["statistics"]["pairs"] == 1


def test_the_thresholds_route_says_which_bands_a_calibration_decides(tmp_path):
    from dataclasses import replace

    from voxprint.store.records import Band

    from fakes import tone_calibration

    app, service = make_app(tmp_path / "c.db")
    service.store.save_calibration(replace(tone_calibration(), bands=frozenset({Band.WIDE})))
    with client_for(app) as client:
        body = client.get("/v1/thresholds", headers=auth(issue_key(service))).json()
    assert body["source"]["kind"] == "calibrated"
    assert body["calibration_bands"] == ["wideband"]
    narrow = next(row for row in body["bands"] if row["band"] == "narrowband")
    assert narrow["source"]["kind"] == "prior" and 0 < narrow["verification_threshold"] < 1
    assert body["text_dependent"]["source"]["kind"] != "calibrated"
    assert body["text_dependent"]["calibrations"] == []


def test_the_thresholds_route_lists_each_bands_calibration(tmp_path):
    from dataclasses import replace

    from voxprint.store.records import Band

    from fakes import tone_calibration

    app, service = make_app(tmp_path / "c.db")
    service.store.save_calibration(replace(tone_calibration(), bands=frozenset({Band.WIDE})))
    narrow = replace(tone_calibration(threshold=0.8), bands=frozenset({Band.NARROW}))
    service.store.save_calibration(narrow)
    with client_for(app) as client:
        body = client.get("/v1/thresholds", headers=auth(issue_key(service))).json()
    listed = [(c["scale"], c["bands"], c["threshold"], c["in_use"]) for c in body["calibrations"]]
    assert listed == [("cosine", ["wideband"], 0.5, True), ("cosine", ["narrowband"], 0.8, True)]
    row = next(row for row in body["bands"] if row["band"] == "narrowband")
    assert row["source"]["kind"] == "calibrated"  # its own calibration, not the prior


def test_a_sub_second_probe_is_answered_as_too_little_speech_not_as_an_error(api):
    profile_id = enrolled(api)
    short = api.post(f"/v1/profiles/{profile_id}/verify", content=voice_wav(150, 0.2, seed=5))
    assert short.status_code == 200, short.text
    assert short.json()["decision"] == "reject"
    assert short.json()["reason"] == "insufficient_speech"
    who = api.post("/v1/identify", content=voice_wav(150, 0.2, seed=5)).json()
    assert who["unknown"] and who["reason"] == "insufficient_speech"


def test_verify_refuses_an_unenrolled_or_unknown_profile(api):
    enrolling = create(api)
    response = api.post(f"/v1/profiles/{enrolling}/verify", content=voice_wav(150, 3))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "profile_not_enrolled"
    missing = api.post(f"/v1/profiles/{UNKNOWN_ID}/verify", content=voice_wav(150, 3))
    assert missing.status_code == 404
    bad_id = api.post("/v1/profiles/x/verify", content=voice_wav(150, 3))
    assert bad_id.status_code == 422


def test_identify_names_the_speaker_and_says_unknown_for_a_stranger(api):
    alice, bob = enrolled(api, "alice", 150.0), enrolled(api, "bob", 230.0)
    found = api.post("/v1/identify", content=voice_wav(230, 3, seed=7)).json()
    assert found["identified"]["profile_id"] == bob and found["unknown"] is False
    assert found["gallery_size"] == 2 and len(found["candidates"]) == 2
    assert found["candidates"][0]["cosine"] >= found["candidates"][1]["cosine"]
    stranger = api.post("/v1/identify", content=voice_wav(97, 3, seed=7)).json()
    assert stranger["identified"] is None and stranger["unknown"] is True
    top1 = api.post("/v1/identify", params={"top_n": 1}, content=voice_wav(150, 3)).json()
    assert [c["profile_id"] for c in top1["candidates"]] == [alice]
    only_alice = api.post(
        "/v1/identify", params={"profile_ids": alice}, content=voice_wav(230, 3)
    ).json()
    assert only_alice["gallery_size"] == 1 and only_alice["unknown"] is True


def test_identify_refuses_bad_parameters(api):
    enrolled(api)
    wav = voice_wav(150, 3)
    for params in ({"top_n": 0}, {"top_n": 101}, {"top_n": "two"}):
        response = api.post("/v1/identify", params=params, content=wav)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "invalid_request"
    empty = api.post("/v1/identify", params={"profile_ids": ","}, content=wav)
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "invalid_parameter"
    unknown = api.post("/v1/identify", params={"profile_ids": UNKNOWN_ID}, content=wav)
    assert unknown.status_code == 404
    malformed = api.post("/v1/identify", params={"profile_ids": "not-a-uuid"}, content=wav)
    assert malformed.status_code == 400
    assert "'not-a-uuid' is not a profile id" in malformed.json()["error"]["message"]
    in_a_field = api.post(
        "/v1/identify",
        files={"audio": ("a.wav", wav, "audio/wav")},
        data={"profile_ids": '["not-a-uuid"]'},
    )
    assert in_a_field.status_code == 400
    assert in_a_field.json()["error"]["code"] == "invalid_parameter"


def test_compare_scores_two_recordings_sent_as_a_multipart_form(api):
    def files(f1, f2):
        return {
            "first": ("a.wav", voice_wav(f1, 3, seed=1), "audio/wav"),
            "second": ("b.wav", voice_wav(f2, 3, seed=2), "audio/wav"),
        }

    same = api.post("/v1/compare", files=files(150, 150))
    other = api.post("/v1/compare", files=files(150, 230))
    assert same.status_code == other.status_code == 200
    assert same.json()["decision"] == "accept" and other.json()["decision"] == "reject"
    assert other.json()["score"] < same.json()["score"]
    one = api.post("/v1/compare", files={"first": ("a.wav", voice_wav(150, 3), "audio/wav")})
    assert one.status_code == 400 and one.json()["error"]["code"] == "invalid_parameter"
    text = api.post("/v1/compare", content=b"x", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    broken = api.post(
        "/v1/compare",
        files={
            "first": ("a.wav", voice_wav(150, 3), "audio/wav"),
            "second": ("b.wav", b"", "audio/wav"),
        },
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "empty_audio"
    assert broken.json()["error"]["message"].startswith("second recording: ")


def test_compare_scores_exported_voiceprints_and_refuses_another_encoders(api):
    alice, bob = enrolled(api, "alice", 150.0), enrolled(api, "bob", 230.0)
    a = api.get(f"/v1/profiles/{alice}/voiceprint").json()
    b = api.get(f"/v1/profiles/{bob}/voiceprint", params={"format": "base64"}).json()
    same = api.post("/v1/compare", json={"first": a, "second": a}).json()
    assert same["cosine"] == pytest.approx(1.0) and same["decision"] == "accept"
    different = api.post("/v1/compare", json={"first": a, "second": b}).json()
    assert different["decision"] == "reject"
    foreign = api.post("/v1/compare", json={"first": a, "second": {**b, "encoder_version": "2"}})
    assert foreign.status_code == 409
    assert foreign.json()["error"]["code"] == "encoder_mismatch"
    for second in (
        {**a, "vector": a["vector"][:10]},
        {**a, "vector": [0.0] * 64},
        {"encoder_name": "tone", "encoder_version": "1"},
        {"encoder_name": "tone", "encoder_version": "1", "vector_base64": "!!"},
    ):
        response = api.post("/v1/compare", json={"first": a, "second": second})
        assert response.status_code == 400, second
        assert response.json()["error"]["code"] == "invalid_parameter"
    malformed = api.post(
        "/v1/compare", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400


def test_a_voiceprint_vector_of_booleans_is_refused(api):
    alice = enrolled(api, "alice", 150.0)
    a = api.get(f"/v1/profiles/{alice}/voiceprint").json()
    flags = {**a, "vector": [True] * len(a["vector"])}
    response = api.post("/v1/compare", json={"first": a, "second": flags})
    assert response.status_code == 400
    assert "must be a JSON number, not true" in response.json()["error"]["message"]


def test_twenty_concurrent_enrolments_into_one_profile_all_count(api):
    profile_id = create(api)
    clips = [voice_wav(150, 1.5, seed=i) for i in range(20)]
    start = threading.Barrier(20)

    def send(clip: bytes) -> int:
        start.wait()
        url = f"/v1/profiles/{profile_id}/enrollments"
        return api.post(url, content=clip, headers=WAV).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(send, clips))
    assert statuses == [201] * 20
    profile = api.get(f"/v1/profiles/{profile_id}").json()
    assert profile["clip_count"] == 20
    assert profile["net_speech_seconds"] == pytest.approx(20 * 1.5, abs=1.0)
    assert profile["status"] == "enrolled"


@pytest.mark.process_local
def test_inference_time_is_recorded_per_operation(api):
    profile_id = enrolled(api)
    api.post(f"/v1/profiles/{profile_id}/verify", content=voice_wav(150, 3))
    metrics = api.get("/metrics").text
    assert 'voxprint_inference_seconds_count{operation="verify"} 1.0' in metrics
    assert 'voxprint_inference_seconds_count{operation="enroll"} 1.0' in metrics


@pytest.mark.process_local
def test_a_full_inference_queue_answers_429_at_once_and_recovers(tmp_path):
    app, service = make_app(tmp_path / "v.db", inference_workers=1, inference_queue=0)
    encoder = service.pipeline.encoder
    embed, entered, release = encoder.embed, threading.Event(), threading.Event()

    def blocking_embed(waveform):
        entered.set()
        release.wait(10)
        return embed(waveform)

    with client_for(app) as api:
        api.headers.update(auth(issue_key(service)))
        profile_id = enrolled(api)
        encoder.embed = blocking_embed
        url = f"/v1/profiles/{profile_id}/verify"
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(api.post, url, content=voice_wav(150, 3), headers=WAV)
            assert entered.wait(10)
            busy = api.post(url, content=voice_wav(150, 3), headers=WAV)
            release.set()
            assert first.result().status_code == 200
        assert busy.status_code == 429
        assert busy.json()["error"]["code"] == "busy" and busy.headers["retry-after"] == "1"
        assert api.post(url, content=voice_wav(150, 3), headers=WAV).status_code == 200


def test_an_enrolment_reports_the_clips_quality_measures(api):
    profile_id = create(api, "quality")
    response = api.post(
        f"/v1/profiles/{profile_id}/enrollments", content=voice_wav(150, 4, seed=2), headers=WAV
    )
    assert response.status_code == 201
    quality = response.json()["quality"]
    assert quality["clipped_fraction"] == 0
    assert quality["multiple_speakers"] is False
    assert quality["net_speech_seconds"] == pytest.approx(4.0, abs=0.1)


def test_a_clipped_clip_is_refused_with_its_reasons_and_nothing_is_stored(api):
    from fakes import voice

    profile_id = create(api, "loud")
    clipped = np.clip(voice(150, 4, seed=3) * 20, -1, 1)
    refused = api.post(
        f"/v1/profiles/{profile_id}/enrollments", content=wav_bytes(clipped), headers=WAV
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "clip_rejected"
    assert any("clip" in reason for reason in error["reasons"])
    assert api.get(f"/v1/profiles/{profile_id}").json()["clip_count"] == 0
    allowed = api.post(
        f"/v1/profiles/{profile_id}/enrollments?quality_gate=false",
        content=wav_bytes(clipped),
        headers=WAV,
    )
    assert allowed.status_code == 201


def test_rest_identify_of_a_voice_that_does_not_stand_out_answers_unknown_as_a_look_alike(
    tmp_path, monkeypatch
):
    from dataclasses import replace

    import fakes

    guarded = replace(fakes.TONE_PRIOR, standout_margin=0.15, identification_threshold=0.4)
    monkeypatch.setattr(fakes, "TONE_PRIOR", guarded)
    monkeypatch.setattr(fakes, "TONE_OPERATING_POINT", guarded.operating_point())
    app, service = make_app(tmp_path / "v.db")
    with client_for(app) as api:
        api.headers.update(auth(issue_key(service)))
        for i, f in enumerate((150, 153, 155, 156, 157, 158, 300, 400)):
            pid = api.post("/v1/profiles", json={"name": f"p{f}"}).json()["id"]
            enrolled = api.post(
                f"/v1/profiles/{pid}/enrollments",
                content=wav_bytes(fakes.voice(f, 12.0, seed=i + 1)),
                headers={"Content-Type": "audio/wav"},
            )
            assert enrolled.json()["status"] == "enrolled"
        response = api.post(
            "/v1/identify",
            content=wav_bytes(fakes.voice(150, 6.0, seed=99)),
            headers={"Content-Type": "audio/wav"},
        )
    assert response.status_code == 200
    body = response.json()
    assert body["unknown"] and body["identified"] is None and body["reason"] == "look_alike"
