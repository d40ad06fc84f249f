"""Native /v1 routes for passphrases and spoken challenges (fake voice, scripted words)."""

from __future__ import annotations

import base64

import pytest
from starlette.websockets import WebSocketDisconnect

from voxprint.passphrase import RECOGNIZERS
from voxprint.passphrase.phrases import DIGITS, EN_US_PHRASES

from apihelp import auth, client_for, issue_key, make_app, voice_wav
from phrasefakes import ScriptedRecognizer

PASSPORT = "my voice is my passport verify me"
NAME = "my name is unknown to you"
ALICE, BOB = 150.0, 230.0
WAV = {"Content-Type": "audio/wav"}


@pytest.fixture()
def words(monkeypatch):
    recognizer = ScriptedRecognizer()
    recognizer.say(2.0, PASSPORT)
    recognizer.say(2.5, NAME)
    monkeypatch.setitem(RECOGNIZERS, "scripted", lambda: recognizer)
    return recognizer


@pytest.fixture()
def api(tmp_path, words):
    app, service = make_app(tmp_path / "phrases.db", phrase_recognizer="scripted")
    keys = {"a": issue_key(service, "tenant-a"), "b": issue_key(service, "tenant-b", name="b")}
    with client_for(app) as client:
        yield client, {name: auth(key) for name, key in keys.items()}


def create_td(client, headers, **extra) -> dict:
    r = client.post(
        "/v1/profiles", headers=headers, json={"name": "alice", "kind": "text-dependent", **extra}
    )
    assert r.status_code == 201, r.text
    return r.json()


def enrol(client, headers, profile_id, f0=ALICE, seconds=2.0, seed=0):
    return client.post(
        f"/v1/profiles/{profile_id}/enrollments",
        headers={**headers, **WAV},
        content=voice_wav(f0, seconds, seed=seed),
    )


def verify(client, headers, profile_id, f0=ALICE, seconds=2.0, seed=9, challenge=None):
    params = {"challenge": challenge} if challenge else None
    return client.post(
        f"/v1/profiles/{profile_id}/verify",
        headers={**headers, **WAV},
        content=voice_wav(f0, seconds, seed=seed),
        params=params,
    )


def enrolled_td(client, headers) -> str:
    profile = create_td(client, headers)
    for seed in range(3):
        assert enrol(client, headers, profile["id"], seed=seed).status_code == 201
    return profile["id"]


def enrolled_ti(client, headers, f0=ALICE) -> str:
    r = client.post("/v1/profiles", headers=headers, json={"name": "tina"})
    profile_id = r.json()["id"]
    assert enrol(client, headers, profile_id, f0=f0, seconds=11.0).status_code == 201
    return profile_id


def test_the_phrases_route_lists_the_ten_en_us_passphrases(api):
    client, h = api
    body = client.get("/v1/phrases", headers=h["a"]).json()
    assert body["phrases"] == list(EN_US_PHRASES) and body["supported_locales"] == ["en-us"]


def test_another_locale_is_a_400_naming_the_supported_locales(api):
    client, h = api
    r = client.get("/v1/phrases", headers=h["a"], params={"locale": "fr-fr"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_locale"
    assert "en-us" in r.json()["error"]["message"]
    body = {"name": "x", "kind": "text-dependent", "locale": "de-de"}
    r = client.post("/v1/profiles", headers=h["a"], json=body)
    assert r.status_code == 400 and "en-us" in r.json()["error"]["message"]


def test_a_text_dependent_profile_reports_its_kind_and_clips_needed(api):
    client, h = api
    created = create_td(client, h["a"])
    assert created["kind"] == "text-dependent" and created["passphrase"] is None
    assert created["remaining_clips"] == 3 and created["locale"] == "en-us"
    listed = client.get("/v1/profiles", headers=h["a"]).json()["items"][0]
    assert listed["kind"] == "text-dependent"


def test_enrolment_reports_the_phrase_heard_and_enrols_at_three_clips(api):
    client, h = api
    profile_id = create_td(client, h["a"])["id"]
    first = enrol(client, h["a"], profile_id).json()
    assert first["phrase"]["heard"] == PASSPORT and first["passphrase"] == PASSPORT
    assert first["remaining_clips"] == 2 and first["status"] == "enrolling"
    enrol(client, h["a"], profile_id, seed=1)
    third = enrol(client, h["a"], profile_id, seed=2).json()
    assert third["status"] == "enrolled" and third["remaining_clips"] == 0
    fetched = client.get(f"/v1/profiles/{profile_id}", headers=h["a"]).json()
    assert fetched["passphrase"] == PASSPORT
    # The enrolment's profile is the profile as fetched, locale included.
    for key in ("kind", "locale", "passphrase", "remaining_clips", "status", "clip_count"):
        assert third["profile"][key] == fetched[key], key


def test_verifying_a_profile_still_enrolling_is_a_409_counting_passphrase_clips(api):
    client, h = api
    profile_id = create_td(client, h["a"])["id"]
    assert enrol(client, h["a"], profile_id).json()["remaining_clips"] == 2
    refused = verify(client, h["a"], profile_id)
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "profile_not_enrolled",
        "message": "profile 'alice' is still enrolling: 2 more passphrase clips are needed",
    }


def test_a_wrong_phrase_at_enrolment_is_a_422_that_stores_nothing(api):
    client, h = api
    profile_id = create_td(client, h["a"])["id"]
    enrol(client, h["a"], profile_id)
    r = enrol(client, h["a"], profile_id, seconds=2.5, seed=1)
    assert r.status_code == 422
    body = r.json()["error"]
    assert body["code"] == "invalid_passphrase" and body["heard"] == NAME
    assert client.get(f"/v1/profiles/{profile_id}", headers=h["a"]).json()["clip_count"] == 1


def test_a_too_long_passphrase_clip_is_a_400(api):
    client, h = api
    profile_id = create_td(client, h["a"])["id"]
    r = enrol(client, h["a"], profile_id, seconds=11.0)
    assert r.status_code == 400 and r.json()["error"]["code"] == "clip_length"


def test_a_custom_passphrase_with_unknown_words_is_a_400(api):
    client, h = api
    r = client.post(
        "/v1/profiles",
        headers=h["a"],
        json={"name": "x", "kind": "text-dependent", "passphrase": "zzyzx opens"},
    )
    assert r.status_code == 400 and "zzyzx" in r.json()["error"]["message"]


def test_a_one_word_custom_passphrase_is_a_400_stating_the_minimum(api):
    client, h = api
    body = {"name": "x", "kind": "text-dependent", "passphrase": "hi"}
    r = client.post("/v1/profiles", headers=h["a"], json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameter"
    assert "at least 3 words" in r.json()["error"]["message"]
    assert client.get("/v1/profiles", headers=h["a"]).json()["total"] == 0


def test_verify_reports_the_phrase_and_the_voice_apart(api):
    client, h = api
    profile_id = enrolled_td(client, h["a"])
    right = verify(client, h["a"], profile_id).json()
    assert right["decision"] == "accept" and right["reason"] == "match"
    assert right["kind"] == "text-dependent" and right["phrase"]["accepted"]
    wrong_words = verify(client, h["a"], profile_id, seconds=2.5).json()
    assert wrong_words["decision"] == "reject" and wrong_words["reason"] == "wrong_phrase"
    assert wrong_words["voice_decision"] == "accept"
    wrong_voice = verify(client, h["a"], profile_id, f0=BOB).json()
    assert wrong_voice["reason"] == "no_match" and wrong_voice["phrase"]["accepted"]


def test_reset_clears_the_passphrase(api):
    client, h = api
    profile_id = enrolled_td(client, h["a"])
    reset = client.post(f"/v1/profiles/{profile_id}/reset", headers=h["a"]).json()
    assert reset["passphrase"] is None and reset["clip_count"] == 0


def test_text_dependent_profiles_are_invisible_to_another_tenant(api):
    client, h = api
    profile_id = enrolled_td(client, h["a"])
    assert client.get(f"/v1/profiles/{profile_id}", headers=h["b"]).status_code == 404
    assert enrol(client, h["b"], profile_id).status_code == 404
    assert verify(client, h["b"], profile_id).status_code == 404


def test_a_challenge_is_created_with_an_expiry_and_read_back(api):
    client, h = api
    r = client.post("/v1/challenges", headers=h["a"])
    assert r.status_code == 201
    made = r.json()
    assert 4 <= len(made["phrase"].split()) <= 6 and set(made["phrase"].split()) <= set(DIGITS)
    assert not made["used"] and made["expires_at"] > made["created_at"]
    assert client.get(f"/v1/challenges/{made['id']}", headers=h["a"]).json() == made
    words = client.post("/v1/challenges", headers=h["a"], json={"kind": "words", "words": 4})
    assert len(words.json()["phrase"].split()) == 4


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "emoji"},
        {"words": 0},
        {"words": 7},
        {"ttl_seconds": -1},
        {"ttl_seconds": 601},
        {"surprise": 1},
    ],
)
def test_bad_challenge_requests_are_4xx_errors(api, body):
    client, h = api
    r = client.post("/v1/challenges", headers=h["a"], json=body)
    assert r.status_code in (400, 422) and "error" in r.json()


def test_a_challenge_out_of_the_policy_is_refused_with_the_policys_own_bounds(api):
    client, h = api
    r = client.post("/v1/challenges", headers=h["a"], json={"words": 7})
    assert r.status_code == 400 and "4 to 6 words, not 7" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"words": True}, "words"),
        ({"words": "5"}, "words"),
        ({"ttl_seconds": False}, "ttl_seconds"),
        ({"ttl_seconds": "60"}, "ttl_seconds"),
    ],
)
def test_a_boolean_or_text_for_a_number_is_a_422_naming_the_field(api, body, field):
    client, h = api
    r = client.post("/v1/challenges", headers=h["a"], json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    assert r.json()["error"]["message"].startswith(f"{field}: must be a JSON number")


def test_challenge_numbers_sent_as_json_numbers_are_taken(api):
    client, h = api
    r = client.post("/v1/challenges", headers=h["a"], json={"words": 5.0, "ttl_seconds": 60})
    assert r.status_code == 201, r.text
    assert len(r.json()["phrase"].split()) == 5


def test_a_challenge_answered_by_the_owner_is_accepted_once_then_refused(api, words):
    client, h = api
    profile_id = enrolled_ti(client, h["a"])
    made = client.post("/v1/challenges", headers=h["a"]).json()
    words.say(3.0, made["phrase"])
    first = verify(client, h["a"], profile_id, seconds=3.0, challenge=made["id"])
    assert first.json()["decision"] == "accept" and first.json()["challenge_id"] == made["id"]
    again = verify(client, h["a"], profile_id, seconds=3.0, challenge=made["id"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "challenge_used"
    assert client.get(f"/v1/challenges/{made['id']}", headers=h["a"]).json()["used"]


def test_a_recording_of_other_words_fails_the_challenge(api, words):
    client, h = api
    profile_id = enrolled_ti(client, h["a"])
    made = client.post("/v1/challenges", headers=h["a"]).json()
    words.say(3.0, " ".join(DIGITS[(DIGITS.index(d) + 3) % 10] for d in made["phrase"].split()))
    r = verify(client, h["a"], profile_id, seconds=3.0, challenge=made["id"]).json()
    assert r["decision"] == "reject" and r["reason"] == "wrong_phrase"


def test_challenges_are_invisible_to_another_tenant_and_unknown_ids_are_404(api):
    client, h = api
    profile_id = enrolled_ti(client, h["b"])
    made = client.post("/v1/challenges", headers=h["a"]).json()
    assert client.get(f"/v1/challenges/{made['id']}", headers=h["b"]).status_code == 404
    r = verify(client, h["b"], profile_id, seconds=3.0, challenge=made["id"])
    assert r.status_code == 404 and r.json()["error"]["code"] == "challenge_not_found"
    assert client.get(f"/v1/challenges/{made['id']}", headers=h["a"]).json()["used"] is False
    assert client.get("/v1/challenges/not-a-uuid", headers=h["a"]).status_code == 422


def test_the_new_routes_need_a_key(api):
    client, _ = api
    assert client.get("/v1/phrases").status_code == 401
    assert client.post("/v1/challenges").status_code == 401


def test_a_batch_enrols_and_verifies_passphrase_profiles_with_the_phrase_check(api):
    client, h = api
    profile_id = enrolled_td(client, h["a"])

    def b64(f0, seconds, seed):
        return base64.b64encode(voice_wav(f0, seconds, seed=seed)).decode()

    items = [
        {"op": "enroll", "profile_id": profile_id, "audio": b64(ALICE, 2.5, 5)},
        {"op": "verify", "profile_id": profile_id, "audio": b64(ALICE, 2.5, 6)},
        {"op": "verify", "profile_id": profile_id, "audio": b64(ALICE, 2.0, 7)},
    ]
    results = client.post("/v1/batch", headers=h["a"], json={"items": items}).json()["results"]
    assert results[0]["error"]["code"] == "invalid_passphrase"
    assert results[1]["result"]["reason"] == "wrong_phrase"
    assert results[2]["result"]["decision"] == "accept"


def test_live_websockets_refuse_passphrase_profiles(api):
    client, h = api
    profile_id = enrolled_td(client, h["a"])
    key = h["a"]["Authorization"].split()[1]
    for route in ("verify", "enroll"):
        with client.websocket_connect(f"/v1/ws/{route}/{profile_id}?api_key={key}") as ws:
            assert ws.receive_json()["error"]["code"] == "wrong_profile_kind"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4409
