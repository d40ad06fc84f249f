"""Azure v2.0 text-dependent verification routes, in-process (fake voice, scripted words)."""

from __future__ import annotations

import json

import pytest

from voxprint.passphrase import RECOGNIZERS
from voxprint.passphrase.phrases import EN_US_PHRASES

from apihelp import client_for, issue_key, make_app, voice_wav
from phrasefakes import ScriptedRecognizer

BASE = "/speaker/verification/v2.0/text-dependent"
PROFILES = BASE + "/profiles"
WAV = "audio/wav; codecs=audio/pcm; samplerate=16000"
PASSPORT = "my voice is my passport verify me"
NAME = "my name is unknown to you"
ALICE, BOB = 150.0, 230.0


@pytest.fixture()
def words(monkeypatch):
    recognizer = ScriptedRecognizer()
    recognizer.say(2.0, PASSPORT)
    recognizer.say(2.5, NAME)
    monkeypatch.setitem(RECOGNIZERS, "scripted", lambda: recognizer)
    return recognizer


@pytest.fixture()
def api(tmp_path, words):
    app, service = make_app(tmp_path / "td.db", phrase_recognizer="scripted")
    keys = {
        "a": {"Ocp-Apim-Subscription-Key": issue_key(service, "tenant-a")},
        "b": {"Ocp-Apim-Subscription-Key": issue_key(service, "tenant-b", name="b")},
    }
    with client_for(app) as client:
        yield client, keys


def azure_error(r, status, code):
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    return r.json()["error"]["message"]


def create(client, headers, locale="en-us"):
    return client.post(
        PROFILES + "/",
        headers={**headers, "Content-Type": "application/json"},
        content=json.dumps({"locale": locale}),
    )


def enrol(client, headers, profile_id, f0=ALICE, seconds=2.0, seed=0):
    return client.post(
        f"{PROFILES}/{profile_id}/enrollments",
        headers={**headers, "Content-Type": WAV},
        content=voice_wav(f0, seconds, seed=seed),
    )


def verify(client, headers, profile_id, f0=ALICE, seconds=2.0, seed=9):
    return client.post(
        f"{PROFILES}/{profile_id}/verify",
        headers={**headers, "Content-Type": WAV},
        content=voice_wav(f0, seconds, seed=seed),
    )


def enrolled(client, headers) -> str:
    profile_id = create(client, headers).json()["profileId"]
    for seed in range(3):
        assert enrol(client, headers, profile_id, seed=seed).status_code == 201
    return profile_id


def test_phrases_lists_the_ten_passphrases_of_en_us(api):
    client, h = api
    for locale in ("en-us", "en-US"):
        r = client.get(f"{BASE}/phrases/{locale}", headers=h["a"])
        assert r.status_code == 200 and r.json() == list(EN_US_PHRASES)


def test_other_locales_are_400s_naming_the_supported_one(api):
    client, h = api
    r = client.get(f"{BASE}/phrases/fr-fr", headers=h["a"])
    message = azure_error(r, 400, "InvalidArgument")
    assert "en-US" in message
    message = azure_error(create(client, h["a"], "de-de"), 400, "InvalidArgument")
    assert "Supported locales are en-US" in message


def test_create_answers_201_with_three_enrolments_to_go(api):
    client, h = api
    r = create(client, h["a"])
    assert r.status_code == 201 and r.headers["Location"].endswith(r.json()["profileId"])
    body = r.json()
    assert body["enrollmentStatus"] == "Enrolling" and body["remainingEnrollmentsCount"] == 3
    assert body["enrollmentsCount"] == 0 and body["locale"] == "en-us"


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json", "", 400, "InvalidRequest"),
        ("application/json", "{", 400, "InvalidRequest"),
        ("application/json", json.dumps({"language": "en"}), 400, "InvalidRequest"),
        ("text/plain", json.dumps({"locale": "en-us"}), 415, "UnsupportedMediaType"),
    ],
)
def test_bad_create_bodies_get_azure_errors(api, content_type, body, status, code):
    client, h = api
    r = client.post(PROFILES, headers={**h["a"], "Content-Type": content_type}, content=body)
    azure_error(r, status, code)


def test_three_passphrase_enrolments_make_the_profile_enrolled(api):
    client, h = api
    profile_id = create(client, h["a"]).json()["profileId"]
    first = enrol(client, h["a"], profile_id).json()
    assert first["passPhrase"] == PASSPORT and first["remainingEnrollmentsCount"] == 2
    assert first["enrollmentsCount"] == 1 and first["audioLength"] == 2.0
    assert first["audioSpeechLength"] > 0 and first["enrollmentStatus"] == "Enrolling"
    enrol(client, h["a"], profile_id, seed=1)
    third = enrol(client, h["a"], profile_id, seed=2)
    assert third.status_code == 201
    assert third.json()["enrollmentStatus"] == "Enrolled"
    assert third.json()["remainingEnrollmentsCount"] == 0


def test_a_wrong_passphrase_at_enrolment_is_invalid_passphrase_and_stores_nothing(api):
    client, h = api
    profile_id = create(client, h["a"]).json()["profileId"]
    enrol(client, h["a"], profile_id)
    message = azure_error(enrol(client, h["a"], profile_id, seconds=2.5), 400, "InvalidRequest")
    assert message == "Invalid passphrase."
    assert client.get(f"{PROFILES}/{profile_id}", headers=h["a"]).json()["enrollmentsCount"] == 1
    other = create(client, h["a"]).json()["profileId"]
    assert azure_error(enrol(client, h["a"], other, seconds=4.0), 400, "InvalidRequest") == (
        "Invalid passphrase."
    )


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        (0.5, "Invalid audio length. Minimum allowed length is 1 second."),
        (10.5, "Invalid audio length. Maximum allowed length is 10 seconds."),
    ],
)
def test_clips_outside_one_to_ten_seconds_get_azures_messages(api, seconds, message):
    client, h = api
    profile_id = enrolled(client, h["a"])
    assert (
        azure_error(enrol(client, h["a"], profile_id, seconds=seconds), 400, "InvalidRequest")
        == message
    )
    assert (
        azure_error(verify(client, h["a"], profile_id, seconds=seconds), 400, "InvalidRequest")
        == message
    )


def test_verify_accepts_only_the_passphrase_in_the_owners_voice(api):
    client, h = api
    profile_id = enrolled(client, h["a"])
    right = verify(client, h["a"], profile_id)
    assert right.status_code == 200 and right.json()["recognitionResult"] == "Accept"
    assert 0.0 <= right.json()["score"] <= 1.0
    wrong_phrase = verify(client, h["a"], profile_id, seconds=2.5)
    assert wrong_phrase.status_code == 200
    assert wrong_phrase.json()["recognitionResult"] == "Reject"
    other_voice = verify(client, h["a"], profile_id, f0=BOB)
    assert other_voice.json()["recognitionResult"] == "Reject"


def test_verifying_a_profile_still_enrolling_is_profile_is_not_enrolled(api):
    client, h = api
    profile_id = create(client, h["a"]).json()["profileId"]
    enrol(client, h["a"], profile_id)
    message = azure_error(verify(client, h["a"], profile_id), 400, "InvalidRequest")
    assert message == "Profile is not enrolled."


def test_reset_is_204_and_forgets_the_passphrase(api, words):
    client, h = api
    profile_id = enrolled(client, h["a"])
    assert client.post(f"{PROFILES}/{profile_id}/reset", headers=h["a"]).status_code == 204
    after = client.get(f"{PROFILES}/{profile_id}", headers=h["a"]).json()
    assert after["enrollmentStatus"] == "Enrolling" and after["remainingEnrollmentsCount"] == 3
    assert enrol(client, h["a"], profile_id, seconds=2.5).json()["passPhrase"] == NAME


def test_delete_is_204_and_the_profile_is_gone(api):
    client, h = api
    profile_id = enrolled(client, h["a"])
    assert client.delete(f"{PROFILES}/{profile_id}", headers=h["a"]).status_code == 204
    azure_error(client.get(f"{PROFILES}/{profile_id}", headers=h["a"]), 404, "NotFound")


def test_list_pages_with_top_and_shows_only_text_dependent_profiles(api):
    client, h = api
    ids = [create(client, h["a"]).json()["profileId"] for _ in range(3)]
    client.post(
        "/speaker/verification/v2.0/text-independent/profiles",
        headers={**h["a"], "Content-Type": "application/json"},
        content=json.dumps({"locale": "en-us"}),
    )
    page = client.get(PROFILES, headers=h["a"], params={"$top": 2}).json()
    assert [p["profileId"] for p in page["profiles"]] == ids[:2] and "@nextLink" in page
    everything = client.get(PROFILES, headers=h["a"]).json()["profiles"]
    assert [p["profileId"] for p in everything] == ids
    azure_error(client.get(PROFILES, headers=h["a"], params={"$top": 0}), 400, "InvalidArgument")


def test_text_dependent_and_text_independent_profiles_do_not_see_each_other(api):
    client, h = api
    td = create(client, h["a"]).json()["profileId"]
    ti = client.post(
        "/speaker/verification/v2.0/text-independent/profiles",
        headers={**h["a"], "Content-Type": "application/json"},
        content=json.dumps({"locale": "en-us"}),
    ).json()["profileId"]
    azure_error(client.get(f"{PROFILES}/{ti}", headers=h["a"]), 404, "NotFound")
    azure_error(
        client.get(f"/speaker/verification/v2.0/text-independent/profiles/{td}", headers=h["a"]),
        404,
        "NotFound",
    )


def test_another_tenant_sees_none_of_the_profiles(api):
    client, h = api
    profile_id = enrolled(client, h["a"])
    azure_error(client.get(f"{PROFILES}/{profile_id}", headers=h["b"]), 404, "NotFound")
    azure_error(verify(client, h["b"], profile_id), 404, "NotFound")
    azure_error(enrol(client, h["b"], profile_id), 404, "NotFound")
    assert client.delete(f"{PROFILES}/{profile_id}", headers=h["b"]).status_code == 404
    assert client.get(PROFILES, headers=h["b"]).json()["profiles"] == []


def test_no_key_is_401_and_wrong_methods_are_405(api):
    client, h = api
    azure_error(client.get(f"{BASE}/phrases/en-us"), 401, "Unauthorized")
    azure_error(client.put(PROFILES, headers=h["a"]), 405, "MethodNotAllowed")
