"""Native /v1 profile routes: create, list, look up, read, patch, reset, delete, merge,
export; tenant isolation."""

from __future__ import annotations

import base64
from datetime import datetime

import numpy as np
import pytest

from apihelp import auth, client_for, issue_key, make_app, voice_wav

PROFILE_FIELDS = {
    "id",
    "name",
    "external_id",
    "metadata",
    "status",
    "clip_count",
    "audio_seconds",
    "net_speech_seconds",
    "remaining_speech_seconds",
    "encoder_name",
    "encoder_version",
    "kind",
    "locale",
    "passphrase",
    "remaining_clips",
    "created_at",
    "updated_at",
}
UNKNOWN_ID = "0f0e0d0c-0b0a-4908-8706-050403020100"


@pytest.fixture()
def api(tmp_path):
    app, service = make_app(tmp_path / "v.db")
    with client_for(app) as client:
        client.headers.update(auth(issue_key(service)))
        yield client


def create(client, name="alice", **fields):
    response = client.post("/v1/profiles", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def enroll(client, profile_id, fundamental=150.0, seconds=12.0, seed=0):
    response = client.post(
        f"/v1/profiles/{profile_id}/enrollments",
        content=voice_wav(fundamental, seconds, seed=seed),
        headers={"Content-Type": "audio/wav"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_created_profile_has_every_field_in_snake_case_with_iso_times(api):
    profile = create(api, "alice", external_id="crm-1", metadata={"team": "blue"})
    assert set(profile) == PROFILE_FIELDS
    assert profile["status"] == "enrolling"
    assert profile["clip_count"] == 0
    assert profile["remaining_speech_seconds"] == pytest.approx(10.0)
    assert profile["encoder_name"] == "tone"
    assert profile["kind"] == "text-independent" and profile["passphrase"] is None
    assert profile["metadata"] == {"team": "blue"}
    assert datetime.fromisoformat(profile["created_at"]).tzinfo is not None
    fetched = api.get(f"/v1/profiles/{profile['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == profile


def test_create_refuses_empty_names_unknown_fields_and_malformed_json(api):
    for body in ({"name": "a", "colour": "red"}, {}, {"name": 3}, [1]):
        response = api.post("/v1/profiles", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_request"
    for name in ("", "   "):  # one rule, one answer for an empty and a blank name
        blank = api.post("/v1/profiles", json={"name": name})
        assert blank.status_code == 400
        assert blank.json()["error"] == {
            "code": "invalid_profile",
            "message": "a profile needs a non-empty name",
        }
    broken = api.post(
        "/v1/profiles", content=b'{"name": "a"', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.json()["error"]["code"] == "invalid_request"
    message = broken.json()["error"]["message"]
    assert message.startswith("the body is not valid JSON (") and "at character 12" in message
    surrogate = api.post(
        "/v1/profiles", content=b'{"name": "\\ud800"}', headers={"Content-Type": "application/json"}
    )
    assert surrogate.status_code == 422


def test_a_json_route_sent_a_form_or_text_answers_415_naming_the_type_it_takes(api):
    for media in ("text/plain", "application/x-www-form-urlencoded"):
        response = api.post(
            "/v1/profiles", content='{"name": "ann"}', headers={"Content-Type": media}
        )
        assert response.status_code == 415, media
        error = response.json()["error"]
        assert error["code"] == "unsupported_media"
        assert media in error["message"] and "application/json" in error["message"]
    patched = api.patch(
        f"/v1/profiles/{UNKNOWN_ID}",
        content='{"name": "b"}',
        headers={"Content-Type": "text/plain"},
    )
    assert patched.status_code == 415
    assert api.get("/v1/profiles").json()["items"] == []  # nothing was created


def test_a_json_route_without_a_body_or_with_a_non_object_says_so(api):
    empty = api.post("/v1/profiles")
    assert empty.status_code == 422
    assert empty.json()["error"]["message"] == "the request needs a JSON object as its body"
    for body in ("[1]", '"ann"'):
        response = api.post(
            "/v1/profiles", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422
        assert response.json()["error"] == {
            "code": "invalid_request",
            "message": "the body must be a JSON object",
        }


def test_a_second_profile_with_the_same_external_id_is_a_409(api):
    create(api, "a", external_id="crm-1")
    response = api.post("/v1/profiles", json={"name": "b", "external_id": "crm-1"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_external_id"


def test_lookup_by_external_id_finds_the_profile_and_an_unknown_one_is_404(api):
    profile = create(api, "a", external_id="crm-7")
    found = api.get("/v1/profiles/lookup", params={"external_id": "crm-7"})
    assert found.status_code == 200
    assert found.json()["id"] == profile["id"]
    missing = api.get("/v1/profiles/lookup", params={"external_id": "crm-8"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "profile_not_found"
    assert api.get("/v1/profiles/lookup").status_code == 422


def test_patch_changes_only_the_fields_sent_and_null_clears_the_external_id(api):
    profile = create(api, "a", external_id="crm-1", metadata={"k": 1})
    renamed = api.patch(f"/v1/profiles/{profile['id']}", json={"name": "anna"}).json()
    assert (renamed["name"], renamed["external_id"], renamed["metadata"]) == (
        "anna",
        "crm-1",
        {"k": 1},
    )
    assert renamed["updated_at"] >= profile["updated_at"]
    cleared = api.patch(f"/v1/profiles/{profile['id']}", json={"external_id": None}).json()
    assert cleared["external_id"] is None and cleared["name"] == "anna"
    for name in ("", " "):
        bad = api.patch(f"/v1/profiles/{profile['id']}", json={"name": name})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_profile"
    unknown = api.patch(f"/v1/profiles/{UNKNOWN_ID}", json={"name": "x"})
    assert unknown.status_code == 404


def test_a_name_too_long_is_counted_in_characters(api):
    response = api.post("/v1/profiles", json={"name": "x" * 300})
    assert response.status_code == 422
    assert "at most 200 characters" in response.json()["error"]["message"]


def test_patch_refuses_a_null_name_or_metadata_and_changes_nothing(api):
    """A profile always has a name and metadata: ``null`` for either used to answer 200
    and change nothing."""
    profile = create(api, "a", metadata={"k": 1})
    for field, hint in (("name", "send a new name"), ("metadata", "send {} to clear it")):
        response = api.patch(f"/v1/profiles/{profile['id']}", json={field: None})
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert f"{field} cannot be null; {hint}" in error["message"]
    kept = api.get(f"/v1/profiles/{profile['id']}").json()
    assert (kept["name"], kept["metadata"], kept["updated_at"]) == (
        "a",
        {"k": 1},
        profile["updated_at"],
    )


def test_the_list_pages_with_a_total_and_next_offset_and_refuses_bad_bounds(api):
    ids = [create(api, f"p{i}")["id"] for i in range(5)]
    first = api.get("/v1/profiles", params={"limit": 2}).json()
    assert first["total"] == 5 and first["next_offset"] == 2
    assert [p["id"] for p in first["items"]] == ids[:2]
    last = api.get("/v1/profiles", params={"limit": 2, "offset": 4}).json()
    assert [p["id"] for p in last["items"]] == ids[4:]
    assert last["next_offset"] is None
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "x"}):
        response = api.get("/v1/profiles", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "invalid_request"
    huge = api.get("/v1/profiles", params={"offset": 10**20})
    assert huge.status_code == 422


def test_malformed_profile_ids_are_422_and_unknown_ones_404(api):
    for path in ("/v1/profiles/not-a-uuid", "/v1/profiles/1234/voiceprint"):
        response = api.get(path)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_request"
    for method, path in (
        ("GET", f"/v1/profiles/{UNKNOWN_ID}"),
        ("DELETE", f"/v1/profiles/{UNKNOWN_ID}"),
        ("POST", f"/v1/profiles/{UNKNOWN_ID}/reset"),
        ("GET", f"/v1/profiles/{UNKNOWN_ID}/voiceprint"),
    ):
        response = api.request(method, path)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "profile_not_found"


def test_reset_forgets_every_clip_and_returns_to_enrolling(api):
    profile = create(api)
    enroll(api, profile["id"], seed=1)
    enroll(api, profile["id"], seed=2)
    reset = api.post(f"/v1/profiles/{profile['id']}/reset")
    assert reset.status_code == 200
    body = reset.json()
    assert (body["status"], body["clip_count"], body["net_speech_seconds"]) == ("enrolling", 0, 0)
    assert body["remaining_speech_seconds"] == pytest.approx(10.0)


def test_the_voiceprint_exports_as_floats_or_base64_with_its_encoder(api):
    profile = create(api)
    not_yet = api.get(f"/v1/profiles/{profile['id']}/voiceprint")
    assert not_yet.status_code == 409
    assert not_yet.json()["error"]["code"] == "profile_not_enrolled"
    enroll(api, profile["id"])
    as_list = api.get(f"/v1/profiles/{profile['id']}/voiceprint").json()
    as_b64 = api.get(f"/v1/profiles/{profile['id']}/voiceprint", params={"format": "base64"})
    assert as_list["encoder_name"] == "tone" and as_list["encoder_version"] == "1"
    assert as_list["dimension"] == len(as_list["vector"]) == 64
    decoded = np.frombuffer(base64.b64decode(as_b64.json()["vector_base64"]), dtype="<f4")
    np.testing.assert_allclose(decoded, as_list["vector"], rtol=1e-6)
    assert np.linalg.norm(decoded) == pytest.approx(1.0, abs=1e-5)
    bad = api.get(f"/v1/profiles/{profile['id']}/voiceprint", params={"format": "xml"})
    assert bad.status_code == 422


def test_a_deleted_profile_is_gone_for_every_route(api):
    profile = create(api)
    enroll(api, profile["id"])
    assert api.delete(f"/v1/profiles/{profile['id']}").status_code == 204
    assert api.get(f"/v1/profiles/{profile['id']}").status_code == 404
    assert api.get(f"/v1/profiles/{profile['id']}/voiceprint").status_code == 404
    assert api.get("/v1/profiles").json()["total"] == 0
    assert api.delete(f"/v1/profiles/{profile['id']}").status_code == 404


def test_a_key_of_one_namespace_cannot_touch_another_namespaces_profiles(tmp_path):
    app, service = make_app(tmp_path / "v.db")
    key_a, key_b = auth(issue_key(service, "tenant-a")), auth(issue_key(service, "tenant-b"))
    with client_for(app) as client:
        client.headers.update(key_b)
        theirs = create(client, "bob", external_id="shared-ext")
        enroll(client, theirs["id"])
        client.headers.update(key_a)
        mine = create(client, "amy", external_id="shared-ext")  # same external id: no clash
        enroll(client, mine["id"], fundamental=230.0)
        wav = voice_wav(150, 3, seed=9)
        pid = theirs["id"]
        for method, path, kwargs in (
            ("GET", f"/v1/profiles/{pid}", {}),
            ("PATCH", f"/v1/profiles/{pid}", {"json": {"name": "x"}}),
            ("GET", f"/v1/profiles/{pid}/voiceprint", {}),
            ("GET", f"/v1/profiles/{pid}/similar-voices", {}),
            ("POST", f"/v1/profiles/{pid}/verify", {"content": wav}),
            ("POST", f"/v1/profiles/{pid}/enrollments", {"content": wav}),
            ("POST", f"/v1/profiles/{pid}/reset", {}),
            ("POST", f"/v1/profiles/{pid}/merge", {"json": {"from": mine["id"]}}),
            ("POST", f"/v1/profiles/{mine['id']}/merge", {"json": {"from": pid}}),
            ("DELETE", f"/v1/profiles/{pid}", {}),
            ("POST", "/v1/identify", {"content": wav, "params": {"profile_ids": pid}}),
        ):
            response = client.request(method, path, **kwargs)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["error"]["code"] == "profile_not_found"
        listed = client.get("/v1/profiles").json()
        assert [p["id"] for p in listed["items"]] == [mine["id"]] and listed["total"] == 1
        looked_up = client.get("/v1/profiles/lookup", params={"external_id": "shared-ext"})
        assert looked_up.json()["id"] == mine["id"]
        identified = client.post("/v1/identify", content=wav).json()
        assert [c["profile_id"] for c in identified["candidates"]] == [mine["id"]]
        assert identified["unknown"] is True
        client.headers.update(key_b)
        still_there = client.get(f"/v1/profiles/{pid}").json()
        assert still_there["name"] == "bob" and still_there["clip_count"] == 1
        client.headers.update(key_a)
        assert client.get(f"/v1/profiles/{mine['id']}").json()["clip_count"] == 1


def test_an_enrolment_names_enrolled_profiles_with_a_voice_too_close_to_tell_apart(api):
    alice = create(api, "alice")
    assert enroll(api, alice["id"], 140.0)["similar_voices"] == []
    bob = create(api, "bob")
    assert enroll(api, bob["id"], 260.0)["similar_voices"] == []
    twin = create(api, "alice again")
    report = enroll(api, twin["id"], 140.0, seed=7)
    assert report["status"] == "enrolled"
    (similar,) = report["similar_voices"]
    assert similar["profile_id"] == alice["id"] and similar["profile_name"] == "alice"
    assert similar["cosine"] > 0.9 and similar["z"] >= 4.0


def test_similar_voices_can_be_asked_later_of_an_enrolled_profile_only(api):
    alice = create(api, "alice")
    enroll(api, alice["id"], 140.0)
    assert api.get(f"/v1/profiles/{alice['id']}/similar-voices").json() == {
        "profile_id": alice["id"],
        "profile_name": "alice",
        "similar_voices": [],
    }
    twin = create(api, "alice again")
    enroll(api, twin["id"], 140.0, seed=7)
    later = api.get(f"/v1/profiles/{alice['id']}/similar-voices").json()
    assert [s["profile_id"] for s in later["similar_voices"]] == [twin["id"]]
    pending = create(api, "carol")
    response = api.get(f"/v1/profiles/{pending['id']}/similar-voices")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "profile_not_enrolled"
    assert api.get(f"/v1/profiles/{UNKNOWN_ID}/similar-voices").status_code == 404


def test_merging_one_voice_enrolled_twice_answers_the_merged_profile_and_deletes_the_other(api):
    alice = create(api, "alice")
    enroll(api, alice["id"], 150.0, seed=1)
    twin = create(api, "alice 2", external_id="app-7")
    enroll(api, twin["id"], 150.0, seed=2)
    enroll(api, create(api, "bob")["id"], 260.0)
    probe = {"content": voice_wav(150, 4, seed=9), "headers": {"Content-Type": "audio/wav"}}
    refused = api.post(f"/v1/profiles/{alice['id']}/verify", **probe).json()
    assert refused["decision"] == "reject"
    assert refused["look_alike"]["profile_id"] == twin["id"]

    response = api.post(f"/v1/profiles/{alice['id']}/merge", json={"from": twin["id"]})

    assert response.status_code == 200, response.text
    merged = response.json()
    assert set(merged) == {
        "profile",
        "removed_profile_id",
        "removed_profile_name",
        "clips_moved",
        "duplicate_clips",
    }
    assert (merged["removed_profile_id"], merged["removed_profile_name"]) == (twin["id"], "alice 2")
    assert (merged["clips_moved"], merged["duplicate_clips"]) == (1, 0)
    assert set(merged["profile"]) == PROFILE_FIELDS
    assert merged["profile"] == api.get(f"/v1/profiles/{alice['id']}").json()
    assert merged["profile"]["clip_count"] == 2 and merged["profile"]["status"] == "enrolled"
    assert merged["profile"]["net_speech_seconds"] == pytest.approx(24.0, abs=0.2)
    assert api.get(f"/v1/profiles/{twin['id']}").status_code == 404
    assert api.get("/v1/profiles/lookup", params={"external_id": "app-7"}).status_code == 404
    accepted = api.post(f"/v1/profiles/{alice['id']}/verify", **probe).json()
    assert accepted["decision"] == "accept" and accepted["look_alike"] is None


def test_a_merge_that_cannot_be_made_is_a_4xx_with_its_code_and_changes_nothing(api):
    alice = create(api, "alice")
    enroll(api, alice["id"], 150.0, seed=1)
    passphrase = create(api, "door", kind="text-dependent")
    bob = create(api, "bob")
    enroll(api, bob["id"], 260.0)
    merge = f"/v1/profiles/{alice['id']}/merge"
    for path, body, status, code in (
        (merge, {"from": alice["id"]}, 400, "invalid_parameter"),
        (merge, {"from": UNKNOWN_ID}, 404, "profile_not_found"),
        (f"/v1/profiles/{UNKNOWN_ID}/merge", {"from": alice["id"]}, 404, "profile_not_found"),
        (merge, {"from": passphrase["id"]}, 409, "wrong_profile_kind"),
        (
            f"/v1/profiles/{passphrase['id']}/merge",
            {"from": alice["id"]},
            409,
            "wrong_profile_kind",
        ),
        (merge, {"from": "alice"}, 422, "invalid_request"),
        (merge, {}, 422, "invalid_request"),
        (merge, {"from_": UNKNOWN_ID}, 422, "invalid_request"),
        (merge, {"from": UNKNOWN_ID, "keep": "both"}, 422, "invalid_request"),
        (merge, {"from": bob["id"]}, 409, "voices_differ"),
        (merge, {"from": bob["id"], "force": "yes"}, 422, "invalid_request"),
    ):
        response = api.post(path, json=body)
        assert response.status_code == status, (path, body, response.text)
        assert response.json()["error"]["code"] == code
    assert api.get(f"/v1/profiles/{alice['id']}").json()["clip_count"] == 1
    assert api.get(f"/v1/profiles/{passphrase['id']}").status_code == 200
    forced = api.post(merge, json={"from": bob["id"], "force": True})
    assert forced.status_code == 200 and forced.json()["profile"]["clip_count"] == 2
