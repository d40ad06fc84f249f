"""POST /v1/diarize and enrolment from a kept diarization, with the tone fakes."""

from __future__ import annotations

import numpy as np
import pytest

from diarization_fakes import EnergySegmenter
from voxprint.api.routes.diarize import EXTENSION, DiarizationRegistry
from voxprint.diarization import SpeakerDiarizer
from voxprint.store.records import PhraseProfile, ProfileKind

from apihelp import auth, client_for, issue_key, make_app, wav_bytes
from fakes import RATE, voice


def meeting_wav() -> bytes:
    silence = np.zeros(RATE, dtype=np.float32)
    parts = []
    for i, f0 in enumerate([110, 260, 110, 260]):
        parts += [voice(f0, 5.0, seed=i), silence]
    return wav_bytes(np.concatenate(parts))


@pytest.fixture()
def api(tmp_path):
    app, service = make_app(tmp_path / "api.db")
    with client_for(app) as client:
        app.state.voxprint.extensions[EXTENSION] = DiarizationRegistry(
            SpeakerDiarizer(EnergySegmenter())
        )
        client.headers.update(auth(issue_key(service)))
        yield client, service


def diarize(client, query=""):
    return client.post(
        f"/v1/diarize{query}", content=meeting_wav(), headers={"Content-Type": "audio/wav"}
    )


def test_diarize_answers_speakers_segments_and_talk_time(api):
    client, _ = api
    response = diarize(client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["speaker_count"] == 2
    assert [s["speaker"] for s in body["speakers"]] == ["unknown 1", "unknown 2"]
    assert body["segments"][0]["start"] == 0.0 and body["segments"][0]["speaker"] == "unknown 1"
    assert body["speakers"][0]["talk_seconds"] == pytest.approx(10.0, abs=0.2)
    assert body["diarization_id"] and body["expires_in_seconds"] > 0
    again = client.get(f"/v1/diarizations/{body['diarization_id']}")
    assert again.status_code == 200 and again.json()["segments"] == body["segments"]


def test_an_unknown_speaker_enrolled_from_the_diarization_is_named_next_time(api):
    client, _ = api
    first = diarize(client).json()
    response = client.post(
        f"/v1/diarizations/{first['diarization_id']}/enroll",
        json={"speaker": "unknown 2", "name": "Bob"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["profile"]["name"] == "Bob"
    assert response.json()["status"] == "enrolled"
    second = diarize(client).json()
    assert [s["speaker"] for s in second["speakers"]] == ["unknown 1", "Bob"]
    bob = second["speakers"][1]
    assert bob["profile_id"] == response.json()["profile_id"] and bob["score"] >= 0.7


def test_enrolling_into_an_existing_profile_and_limiting_the_match(api):
    client, _ = api
    alice = client.post("/v1/profiles", json={"name": "Alice"}).json()
    first = diarize(client).json()
    enrolled = client.post(
        f"/v1/diarizations/{first['diarization_id']}/enroll",
        json={"speaker": "unknown 1", "profile_id": alice["id"]},
    )
    assert enrolled.status_code == 201 and enrolled.json()["profile_id"] == alice["id"]
    named = diarize(client).json()
    assert named["speakers"][0]["speaker"] == "Alice"
    bob = client.post("/v1/profiles", json={"name": "Bob"}).json()
    assert diarize(client, f"?profile_ids={bob['id']}").status_code == 409  # Bob not enrolled
    malformed = diarize(client, "?profile_ids=bob")  # a name is no profile id
    assert malformed.status_code == 400 and "not a profile id" in malformed.text


def test_a_speaker_enrolled_into_a_passphrase_profile_is_refused_as_the_live_routes_do(api):
    client, service = api
    alice = client.post("/v1/profiles", json={"name": "Alice"}).json()
    service.store.set_phrase_profile(
        "default",
        PhraseProfile(alice["id"], ProfileKind.TEXT_DEPENDENT, "en-us", "open the door now"),
    )
    first = diarize(client).json()
    refused = client.post(
        f"/v1/diarizations/{first['diarization_id']}/enroll",
        json={"speaker": "unknown 1", "profile_id": alice["id"]},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "wrong_profile_kind"
    assert "text-dependent" in refused.json()["error"]["message"]
    fetched = client.get(f"/v1/profiles/{alice['id']}").json()
    assert fetched["clip_count"] == 0 and fetched["kind"] == "text-dependent"


def test_rttm_and_subtitles_come_as_text(api):
    client, _ = api
    rttm = diarize(client, "?format=rttm")
    assert rttm.status_code == 200 and rttm.text.startswith("SPEAKER audio 1 0.000 ")
    assert rttm.headers["x-diarization-id"]
    assert diarize(client, "?format=vtt").text.startswith("WEBVTT")
    assert diarize(client, "?format=srt").text.startswith("1\n00:00:00,000 --> ")


def test_a_fixed_speaker_count_is_obeyed(api):
    client, _ = api
    assert diarize(client, "?num_speakers=1").json()["speaker_count"] == 1
    bad = diarize(client, "?min_speakers=3&max_speakers=2")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_parameter"


def test_fewer_speakers_than_asked_for_carry_both_numbers(api):
    client, _ = api
    body = diarize(client, "?num_speakers=20").json()
    assert 1 <= body["speaker_count"] < 20
    assert body["speakers_missing"] == 20 - body["speaker_count"]
    assert body["requested_speakers"] == {
        "num_speakers": 20,
        "min_speakers": None,
        "max_speakers": None,
    }
    assert diarize(client).json()["speakers_missing"] == 0


def test_an_unknown_speaker_whose_profile_names_another_speaker_carries_no_posterior(api):
    client, _ = api
    silence = np.zeros(RATE, dtype=np.float32)
    one_voice = wav_bytes(
        np.concatenate([part for i in range(3) for part in (voice(110, 4.0, seed=i), silence)])
    )

    def post(query=""):
        return client.post(
            f"/v1/diarize{query}", content=one_voice, headers={"Content-Type": "audio/wav"}
        ).json()

    first = post()
    enrolled = client.post(
        f"/v1/diarizations/{first['diarization_id']}/enroll",
        json={"speaker": "unknown 1", "name": "Alice"},
    )
    assert enrolled.status_code == 201, enrolled.text
    speakers = post("?num_speakers=2")["speakers"]
    assert sorted(s["speaker"] for s in speakers) == ["Alice", "unknown 1"]
    unknown = next(s for s in speakers if s["unknown"])
    assert unknown["score"] is None and unknown["unknown_probability"] is None
    assert unknown["unknown_reason"] == "profile_named_elsewhere"
    named = next(s for s in speakers if not s["unknown"])
    assert named["score"] >= 0.7 and named["unknown_reason"] is None


def test_errors_are_4xx_with_codes(api):
    client, _ = api
    quiet = client.post(
        "/v1/diarize",
        content=wav_bytes(np.zeros(3 * RATE, dtype=np.float32)),
        headers={"Content-Type": "audio/wav"},
    )
    assert quiet.status_code == 422 and quiet.json()["error"]["code"] == "no_speech"
    text = client.post("/v1/diarize", content=b"hello", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    missing = client.post(
        "/v1/diarizations/nope/enroll", json={"speaker": "unknown 1", "name": "X"}
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "diarization_not_found"
    first = diarize(client).json()
    wrong = client.post(
        f"/v1/diarizations/{first['diarization_id']}/enroll",
        json={"speaker": "unknown 9", "name": "X"},
    )
    assert wrong.status_code == 400 and "unknown 1" in wrong.json()["error"]["message"]
    both = client.post(
        f"/v1/diarizations/{first['diarization_id']}/enroll",
        json={"speaker": "unknown 1", "name": "X", "profile_id": "y"},
    )
    assert both.status_code == 400
    assert client.get("/v1/profiles").json()["total"] == 0


def test_another_tenant_cannot_see_or_enrol_from_a_diarization(api):
    client, service = api
    first = diarize(client).json()
    other = auth(issue_key(service, namespace="other", name="other"))
    seen = client.get(f"/v1/diarizations/{first['diarization_id']}", headers=other)
    assert seen.status_code == 404
    enrol = client.post(
        f"/v1/diarizations/{first['diarization_id']}/enroll",
        json={"speaker": "unknown 1", "name": "Mallory"},
        headers=other,
    )
    assert enrol.status_code == 404


def test_the_route_needs_a_key(api):
    client, _ = api
    response = client.post(
        "/v1/diarize",
        content=meeting_wav(),
        headers={"Content-Type": "audio/wav", "Authorization": "Bearer nope"},
    )
    assert response.status_code == 401
