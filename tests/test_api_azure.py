"""The Azure Speaker Recognition v2.0 compatible routes, in-process with the fake model."""

import json

import numpy as np
import pytest
from starlette.requests import Request

from voxprint.api.azure.errors import azure_error_response
from voxprint.errors import (
    EncoderMismatchError,
    InvalidParameterError,
    ServiceBusyError,
    ServiceUnavailableError,
    SpeechTooShortError,
)
from voxprint.service import UNKNOWN_PROFILE_ID

from apihelp import client_for, issue_key, make_app, voice_wav, wav_bytes

VERIFY = "/speaker/verification/v2.0/text-independent/profiles"
IDENTIFY = "/speaker/identification/v2.0/text-independent/profiles"
TEXT_DEPENDENT = "/speaker/verification/v2.0/text-dependent/profiles"
WAV = "audio/wav; codecs=audio/pcm; samplerate=16000"
LOCALE = json.dumps({"locale": "en-us"})


@pytest.fixture()
def api(tmp_path):
    """(client, headers) for an app with the fake model; Azure's 20 s / 4 s thresholds."""
    app, service = make_app(tmp_path / "azure.db")
    key = issue_key(service)
    with client_for(app) as client:
        yield client, {"Ocp-Apim-Subscription-Key": key}


def json_headers(headers):
    return {**headers, "Content-Type": "application/json"}


def wav_headers(headers):
    return {**headers, "Content-Type": WAV}


def create(client, headers, base=VERIFY):
    r = client.post(base + "/", headers=json_headers(headers), content=LOCALE)
    assert r.status_code == 201, r.text
    return r.json()["profileId"]


def enrolled(client, headers, f0, base=VERIFY):
    profile_id = create(client, headers, base)
    r = client.post(
        f"{base}/{profile_id}/enrollments",
        headers=wav_headers(headers),
        content=voice_wav(f0, 21, seed=int(f0)),
    )
    assert r.status_code == 201, r.text
    assert r.json()["enrollmentStatus"] == "Enrolled"
    return profile_id


def assert_azure_error(r, status, code):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_creating_a_profile_answers_201_with_azure_fields(api):
    client, headers = api
    r = client.post(VERIFY, headers=json_headers(headers), content=LOCALE)
    assert r.status_code == 201
    body = r.json()
    assert body["locale"] == "en-us"
    assert body["enrollmentStatus"] == "Enrolling"
    assert body["enrollmentsCount"] == 0
    assert body["enrollmentsLength"] == 0
    assert body["enrollmentsSpeechLength"] == 0
    assert body["remainingEnrollmentsSpeechLength"] == 20
    assert body["createdDateTime"].endswith("Z")
    assert body["lastUpdatedDateTime"] is None
    assert body["modelVersion"] is None
    assert r.headers["location"].endswith(f"{VERIFY}/{body['profileId']}")
    again = client.get(f"{VERIFY}/{body['profileId']}", headers=headers)
    assert again.status_code == 200
    assert again.json() == body


def test_creating_a_profile_needs_a_json_body_with_a_locale(api):
    client, headers = api
    cases = [
        (json_headers(headers), "", 400, "InvalidRequest"),
        (json_headers(headers), "{not json", 400, "InvalidRequest"),
        (json_headers(headers), json.dumps({"language": "en"}), 400, "InvalidRequest"),
        (json_headers(headers), json.dumps({"locale": "english"}), 400, "InvalidArgument"),
        ({**headers, "Content-Type": "text/plain"}, LOCALE, 415, "UnsupportedMediaType"),
    ]
    for request_headers, body, status, code in cases:
        r = client.post(VERIFY, headers=request_headers, content=body)
        assert_azure_error(r, status, code)
    assert client.get(VERIFY, headers=headers).json()["profiles"] == []


def test_enrolment_reaches_enrolled_at_the_azure_speech_minimum(api):
    client, headers = api
    profile_id = create(client, headers)
    url = f"{VERIFY}/{profile_id}/enrollments"
    first = client.post(url, headers=wav_headers(headers), content=voice_wav(200, 12))
    assert first.status_code == 201, first.text
    body = first.json()
    # The fake service's own policy enrols at 10 s; Azure routes need 20 s.
    assert body["enrollmentStatus"] == "Enrolling"
    assert body["enrollmentsCount"] == 1
    assert body["audioLength"] == pytest.approx(12, abs=0.1)
    assert 0 < body["audioSpeechLength"] <= body["audioLength"]
    assert body["remainingEnrollmentsSpeechLength"] == pytest.approx(
        20 - body["enrollmentsSpeechLength"], abs=0.02
    )
    second = client.post(url, headers=wav_headers(headers), content=voice_wav(200, 12, seed=1))
    assert second.json()["enrollmentStatus"] == "Enrolled"
    assert second.json()["enrollmentsCount"] == 2
    assert second.json()["remainingEnrollmentsSpeechLength"] == 0
    profile = client.get(f"{VERIFY}/{profile_id}", headers=headers).json()
    assert profile["enrollmentStatus"] == "Enrolled"
    assert profile["modelVersion"]
    assert profile["lastUpdatedDateTime"] is not None


def test_ignore_min_length_enrols_a_profile_at_once(api):
    client, headers = api
    profile_id = create(client, headers)
    r = client.post(
        f"{VERIFY}/{profile_id}/enrollments?ignoreMinLength=true",
        headers=wav_headers(headers),
        content=voice_wav(200, 5),
    )
    assert r.json()["enrollmentStatus"] == "Enrolled"
    more = client.post(
        f"{VERIFY}/{profile_id}/enrollments",
        headers=wav_headers(headers),
        content=voice_wav(200, 5, seed=2),
    )
    assert more.json()["enrollmentStatus"] == "Enrolled"


def test_verify_accepts_the_same_speaker_and_rejects_another(api):
    client, headers = api
    profile_id = enrolled(client, headers, 200)
    url = f"{VERIFY}/{profile_id}/verify"
    same = client.post(url, headers=wav_headers(headers), content=voice_wav(200, 6, seed=9))
    other = client.post(url, headers=wav_headers(headers), content=voice_wav(330, 6, seed=9))
    assert same.status_code == 200, same.text
    assert set(same.json()) == {"recognitionResult", "score"}
    assert same.json()["recognitionResult"] == "Accept"
    assert other.json()["recognitionResult"] == "Reject"
    assert 0 <= other.json()["score"] < same.json()["score"] <= 1


def test_verify_weighs_a_stranger_only_as_azure_did_even_beside_the_same_voice(api):
    """Azure's verification profiles are resources apart from its identification ones, and
    one user often has both: the same voice enrolled twice in the key's namespace. The
    native verify would weigh the claim against that twin; this route, like Azure's,
    weighs a stranger only, so the owner is still accepted with a full score."""
    client, headers = api
    profile_id = enrolled(client, headers, 200)
    enrolled(client, headers, 200, base=IDENTIFY)  # the same user's identification profile
    url = f"{VERIFY}/{profile_id}/verify"
    same = client.post(url, headers=wav_headers(headers), content=voice_wav(200, 6, seed=9))
    assert same.json()["recognitionResult"] == "Accept"
    assert same.json()["score"] > 0.99
    native = client.post(
        f"/v1/profiles/{profile_id}/verify",
        headers={**headers, "Content-Type": "audio/wav"},
        content=voice_wav(200, 6, seed=9),
    )
    assert native.status_code == 200, native.text
    assert native.json()["look_alike"] is not None  # the native route weighs the twin


def test_verify_needs_four_seconds_of_speech_unless_told_to_ignore_it(api):
    client, headers = api
    profile_id = enrolled(client, headers, 200)
    url = f"{VERIFY}/{profile_id}/verify"
    short = voice_wav(200, 2.5, seed=3)
    r = client.post(url, headers=wav_headers(headers), content=short)
    assert_azure_error(r, 400, "InvalidRequest")
    assert "ignoreMinLength" in r.json()["error"]["message"]
    ok = client.post(url + "?ignoreMinLength=true", headers=wav_headers(headers), content=short)
    assert ok.status_code == 200
    assert ok.json()["recognitionResult"] == "Accept"
    bad = client.post(url + "?ignoreMinLength=maybe", headers=wav_headers(headers), content=short)
    assert_azure_error(bad, 400, "InvalidArgument")


@pytest.mark.parametrize("seconds", [0.6, 2.5])
def test_verify_and_identify_give_one_minimum_for_any_clip_under_it(api, seconds):
    """Found in a walkthrough: a clip under voxprint's own 1 s minimum was refused with
    "at least 1.00 s is needed", one between 1 and 4 s with "at least 4 s is needed
    (or set ignoreMinLength=true)"; a client that sent 2 s next was refused again."""
    client, headers = api
    verifier = enrolled(client, headers, 200)
    speaker = enrolled(client, headers, 200, base=IDENTIFY)
    short = voice_wav(200, seconds, seed=3)
    for url in (
        f"{VERIFY}/{verifier}/verify",
        f"{IDENTIFY}/identifySingleSpeaker?profileIds={speaker}",
    ):
        r = client.post(url, headers=wav_headers(headers), content=short)
        assert_azure_error(r, 400, "InvalidRequest")
        message = r.json()["error"]["message"]
        assert message.startswith("Audio is too short: ")
        assert "at least 4 s is needed (or set ignoreMinLength=true)" in message


def test_verify_refuses_a_profile_that_is_still_enrolling(api):
    client, headers = api
    profile_id = create(client, headers)
    r = client.post(
        f"{VERIFY}/{profile_id}/verify", headers=wav_headers(headers), content=voice_wav(200, 6)
    )
    assert_azure_error(r, 400, "InvalidRequest")
    assert "not enrolled" in r.json()["error"]["message"]


def test_audio_routes_refuse_wrong_types_large_bodies_and_corrupt_audio(tmp_path):
    app, service = make_app(tmp_path / "a.db", azure_max_bytes=200_000)
    key = issue_key(service)
    headers = {"Ocp-Apim-Subscription-Key": key}
    with client_for(app) as client:
        profile_id = create(client, headers)
        url = f"{VERIFY}/{profile_id}/enrollments"
        wrong = client.post(url, headers=json_headers(headers), content=voice_wav(200, 3))
        assert_azure_error(wrong, 415, "UnsupportedMediaType")
        large = client.post(url, headers=wav_headers(headers), content=voice_wav(200, 7))
        assert_azure_error(large, 413, "InvalidRequest")
        corrupt = client.post(url, headers=wav_headers(headers), content=b"RIFF" + b"\x07" * 5000)
        assert_azure_error(corrupt, 400, "InvalidRequest")
        silence = client.post(url, headers=wav_headers(headers), content=wav_bytes(np.zeros(48000)))
        assert_azure_error(silence, 400, "InvalidRequest")
        assert client.get(f"{VERIFY}/{profile_id}", headers=headers).json()["enrollmentsCount"] == 0


def test_the_default_body_limit_is_five_megabytes(api):
    client, headers = api
    profile_id = create(client, headers)
    body = voice_wav(200, 165)  # 5.28 MB of 16-bit 16 kHz audio
    assert len(body) > 5 * 1024 * 1024
    r = client.post(
        f"{VERIFY}/{profile_id}/enrollments", headers=wav_headers(headers), content=body
    )
    assert_azure_error(r, 413, "InvalidRequest")


def test_enrolment_audio_of_a_profile_is_capped(tmp_path):
    app, service = make_app(tmp_path / "q.db", azure_max_enroll_audio_seconds=10)
    key = issue_key(service)
    headers = {"Ocp-Apim-Subscription-Key": key}
    with client_for(app) as client:
        profile_id = create(client, headers)
        url = f"{VERIFY}/{profile_id}/enrollments"
        assert client.post(url, headers=wav_headers(headers), content=voice_wav(200, 6)).is_success
        r = client.post(url, headers=wav_headers(headers), content=voice_wav(200, 6, seed=1))
        assert_azure_error(r, 403, "InvalidRequest")


def test_unknown_profiles_are_not_found_on_every_profile_route(api):
    client, headers = api
    missing = "6f1c1d5e-0000-4000-8000-000000000000"
    audio = voice_wav(200, 5)
    for method, url, content in [
        ("GET", f"{VERIFY}/{missing}", None),
        ("DELETE", f"{VERIFY}/{missing}", None),
        ("POST", f"{VERIFY}/{missing}/reset", None),
        ("POST", f"{VERIFY}/{missing}/enrollments", audio),
        ("POST", f"{VERIFY}/{missing}/verify", audio),
        ("GET", f"{IDENTIFY}/{missing}", None),
        ("POST", f"{IDENTIFY}/{missing}/enrollments", audio),
    ]:
        r = client.request(method, url, headers=wav_headers(headers), content=content)
        assert_azure_error(r, 404, "NotFound")


def test_a_profile_exists_only_under_the_kind_it_was_created_as(api):
    client, headers = api
    verification_id = create(client, headers, VERIFY)
    identification_id = create(client, headers, IDENTIFY)
    assert_azure_error(
        client.get(f"{IDENTIFY}/{verification_id}", headers=headers), 404, "NotFound"
    )
    assert_azure_error(
        client.get(f"{VERIFY}/{identification_id}", headers=headers), 404, "NotFound"
    )
    assert [p["profileId"] for p in client.get(VERIFY, headers=headers).json()["profiles"]] == [
        verification_id
    ]
    assert [p["profileId"] for p in client.get(IDENTIFY, headers=headers).json()["value"]] == [
        identification_id
    ]


def test_azure_profiles_are_ordinary_voxprint_profiles_with_azure_marks(tmp_path):
    app, service = make_app(tmp_path / "m.db")
    key = issue_key(service)
    with client_for(app) as client:
        profile_id = create(client, {"Ocp-Apim-Subscription-Key": key}, IDENTIFY)
        native = client.get(f"/v1/profiles/{profile_id}", headers={"X-API-Key": key})
        assert native.status_code == 200, native.text
    profile = service.get_profile(profile_id)
    assert profile.metadata == {"azure": {"kind": "identification", "locale": "en-us"}}


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ServiceBusyError("queue full"), 429, "RateLimit"),
        (EncoderMismatchError("other model"), 409, "Conflict"),
        (ServiceUnavailableError("starting"), 503, "ServiceUnavailable"),
        (
            SpeechTooShortError("short", net_speech_seconds=1, required_seconds=4),
            400,
            "InvalidRequest",
        ),
        (InvalidParameterError("bad"), 400, "InvalidArgument"),
        (RuntimeError("bug"), 500, "InternalServerError"),
    ],
)
def test_errors_map_to_azure_statuses_and_codes(error, status, code):
    request = Request({"type": "http", "method": "POST", "path": VERIFY, "headers": []})
    response = azure_error_response(error, request)
    assert response.status_code == status
    body = json.loads(response.body)
    assert body["error"]["code"] == code
    assert ("retry-after" in response.headers) == (status in (429, 503))


def test_missing_or_wrong_keys_get_azure_401s(api):
    client, _ = api
    for headers in ({}, {"Ocp-Apim-Subscription-Key": "vxp_nope_nope"}):
        for method, url in [
            ("GET", VERIFY),
            ("POST", f"{VERIFY}/abc/verify"),
            ("POST", f"{IDENTIFY}//identifySingleSpeaker?profileIds=a"),
            ("POST", f"{TEXT_DEPENDENT}"),
        ]:
            r = client.request(method, url, headers=headers)
            assert_azure_error(r, 401, "Unauthorized")


def test_two_different_keys_get_an_azure_401_naming_neither(tmp_path):
    app, service = make_app(tmp_path / "azure.db")
    mine, theirs = issue_key(service, "tenant-a"), issue_key(service, "tenant-b", name="b")
    with client_for(app) as client:
        r = client.get(VERIFY, headers={"Ocp-Apim-Subscription-Key": mine, "X-API-Key": theirs})
    assert_azure_error(r, 401, "Unauthorized")
    assert mine.split("_", 2)[2] not in r.text and theirs.split("_", 2)[2] not in r.text


def test_listing_pages_with_top_and_skip_and_a_next_link(api):
    client, headers = api
    created = [create(client, headers) for _ in range(5)]
    create(client, headers, IDENTIFY)
    first = client.get(VERIFY, headers=headers, params={"$top": 2}).json()
    assert [p["profileId"] for p in first["profiles"]] == created[:2]
    assert first["value"] == first["profiles"]
    seen = [p["profileId"] for p in first["profiles"]]
    link = first["@nextLink"]
    while link:
        page = client.get(link, headers=headers).json()
        seen += [p["profileId"] for p in page["profiles"]]
        link = page["@nextLink"]
    assert seen == created
    everything = client.get(VERIFY, headers=headers).json()
    assert len(everything["profiles"]) == 5
    assert everything["@nextLink"] is None
    skipped = client.get(VERIFY, headers=headers, params={"$skip": 4}).json()
    assert [p["profileId"] for p in skipped["profiles"]] == created[4:]
    for top in (0, 501, "x"):
        r = client.get(VERIFY, headers=headers, params={"$top": top})
        assert_azure_error(r, 400, "InvalidArgument")


def test_reset_forgets_enrolments_and_delete_removes_the_profile(api):
    client, headers = api
    profile_id = enrolled(client, headers, 200)
    reset = client.post(f"{VERIFY}/{profile_id}/reset", headers=headers)
    assert reset.status_code == 204
    assert reset.content == b""
    after = client.get(f"{VERIFY}/{profile_id}", headers=headers).json()
    assert after["enrollmentStatus"] == "Enrolling"
    assert after["enrollmentsCount"] == 0
    assert after["remainingEnrollmentsSpeechLength"] == 20
    deleted = client.delete(f"{VERIFY}/{profile_id}", headers=headers)
    assert deleted.status_code == 204
    assert_azure_error(client.get(f"{VERIFY}/{profile_id}", headers=headers), 404, "NotFound")
    assert_azure_error(client.delete(f"{VERIFY}/{profile_id}", headers=headers), 404, "NotFound")


def test_identify_single_speaker_names_the_right_profile_and_ranks_the_rest(api):
    client, headers = api
    ids = {f0: enrolled(client, headers, f0, IDENTIFY) for f0 in (150, 240, 390)}
    # The seed tutorial's URL: main_url ends in "profiles/", then "/identifySingleSpeaker".
    url = f"{IDENTIFY}//identifySingleSpeaker?profileIds=" + ",".join(ids.values())
    r = client.post(url, headers=wav_headers(headers), content=voice_wav(240, 6, seed=7))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["identifiedProfile"]["profileId"] == ids[240]
    ranking = body["profilesRanking"]
    assert ranking[0]["profileId"] == ids[240]
    assert {p["profileId"] for p in ranking} == set(ids.values())
    assert [p["score"] for p in ranking] == sorted((p["score"] for p in ranking), reverse=True)
    single = client.post(
        f"{IDENTIFY}/identifySingleSpeaker",
        params={"profileIds": ids[150]},
        headers=wav_headers(headers),
        content=voice_wav(150, 6, seed=8),
    )
    assert single.json()["identifiedProfile"]["profileId"] == ids[150]


def test_identify_answers_the_zero_id_when_nobody_matches(api):
    client, headers = api
    ids = [enrolled(client, headers, f0, IDENTIFY) for f0 in (150, 240)]
    r = client.post(
        f"{IDENTIFY}/identifySingleSpeaker",
        params={"profileIds": ",".join(ids)},
        headers=wav_headers(headers),
        content=voice_wav(620, 6, seed=7),
    )
    assert r.status_code == 200, r.text
    assert r.json()["identifiedProfile"] == {"profileId": UNKNOWN_PROFILE_ID, "score": 0.0}
    assert len(r.json()["profilesRanking"]) == 2


def test_identify_refuses_unknown_missing_unenrolled_and_too_many_ids(api):
    client, headers = api
    enrolled_id = enrolled(client, headers, 150, IDENTIFY)
    enrolling_id = create(client, headers, IDENTIFY)
    verification_id = enrolled(client, headers, 240, VERIFY)
    url = f"{IDENTIFY}/identifySingleSpeaker"
    audio = voice_wav(150, 6)

    def identify(ids, **params):
        return client.post(
            url, params={"profileIds": ids, **params}, headers=wav_headers(headers), content=audio
        )

    assert_azure_error(identify(f"{enrolled_id},nobody"), 404, "NotFound")
    assert_azure_error(identify(f"{enrolled_id},{verification_id}"), 404, "NotFound")
    assert_azure_error(identify(""), 400, "InvalidArgument")
    assert_azure_error(identify(enrolling_id), 400, "InvalidRequest")
    assert_azure_error(
        identify(",".join(["x"] * 2 + [f"id{i}" for i in range(51)])), 400, "InvalidArgument"
    )
    short = client.post(
        url,
        params={"profileIds": enrolled_id},
        headers=wav_headers(headers),
        content=voice_wav(150, 2),
    )
    assert_azure_error(short, 400, "InvalidRequest")


def test_a_malformed_or_unknown_profile_id_gets_one_azure_message_on_every_route(api):
    """Found in a review: identifySingleSpeaker?profileIds=abc answered voxprint's own
    "no profile with id 'abc' in namespace ..." where a profile of the other kind got
    Azure's "requested profile doesn't exist"."""
    client, headers = api
    verification_id = create(client, headers, VERIFY)
    wanted = "no identification profile {}: requested profile doesn't exist"
    for profile_id in ("abc", "00000000-0000-0000-0000-000000000000", verification_id):
        answers = [
            client.post(
                f"{IDENTIFY}/identifySingleSpeaker",
                params={"profileIds": profile_id},
                headers=wav_headers(headers),
                content=voice_wav(150, 6),
            ),
            client.get(f"{IDENTIFY}/{profile_id}", headers=headers),
        ]
        for r in answers:
            assert_azure_error(r, 404, "NotFound")
            assert r.json()["error"]["message"] == wanted.format(profile_id)


def test_identification_profiles_have_no_verify_route(api):
    client, headers = api
    profile_id = enrolled(client, headers, 150, IDENTIFY)
    r = client.post(
        f"{IDENTIFY}/{profile_id}/verify", headers=wav_headers(headers), content=voice_wav(150, 6)
    )
    assert_azure_error(r, 404, "NotFound")


def test_unknown_paths_and_methods_get_azure_errors(api):
    client, headers = api
    assert_azure_error(client.get("/speaker/nothing/here", headers=headers), 404, "NotFound")
    assert_azure_error(client.put(VERIFY, headers=headers), 405, "MethodNotAllowed")


def test_the_azure_routes_only_see_the_callers_namespace(tmp_path):
    app, service = make_app(tmp_path / "ns.db")
    mine = {"Ocp-Apim-Subscription-Key": issue_key(service, "tenant-a")}
    theirs = {"Ocp-Apim-Subscription-Key": issue_key(service, "tenant-b", name="b")}
    with client_for(app) as client:
        profile_id = create(client, mine)
        assert_azure_error(client.get(f"{VERIFY}/{profile_id}", headers=theirs), 404, "NotFound")
        assert client.get(VERIFY, headers=theirs).json()["profiles"] == []


def test_a_wideband_recording_against_a_telephone_enrolment_is_scored_as_its_telephone_copy(
    tmp_path, monkeypatch
):
    """The Azure routes judge an app recording against a profile enrolled by telephone
    as the native ones do: by its copy band-limited to 8 kHz, made only then."""
    from apihelp import voice

    app, service = make_app(tmp_path / "azure.db")
    headers = {"Ocp-Apim-Subscription-Key": issue_key(service)}
    from voxprint.pipeline import EmbeddingPipeline

    copies = []
    made = EmbeddingPipeline.telephone_copy
    monkeypatch.setattr(  # on the class: a two-worker run serves from two services
        EmbeddingPipeline, "telephone_copy", lambda *a: copies.append(1) or made(*a)
    )
    with client_for(app) as client:
        for base in (VERIFY, IDENTIFY):
            profile_id = create(client, headers, base)
            telephone = wav_bytes(voice(150, 21, seed=1)[::2], 8000)
            r = client.post(
                f"{base}/{profile_id}/enrollments", headers=wav_headers(headers), content=telephone
            )
            assert r.status_code == 201 and r.json()["enrollmentStatus"] == "Enrolled", r.text
            wide = voice_wav(150, 6, seed=2)
            if base == VERIFY:
                r = client.post(
                    f"{base}/{profile_id}/verify", headers=wav_headers(headers), content=wide
                )
            else:
                r = client.post(
                    f"{base}/identifySingleSpeaker?profileIds={profile_id}",
                    headers=wav_headers(headers),
                    content=wide,
                )
            assert r.status_code == 200, r.text
    assert len(copies) == 2
