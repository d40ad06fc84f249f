"""POST /v1/batch: several operations in one request, each with its own status and result."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from apihelp import auth, client_for, issue_key, make_app, voice_wav

UNKNOWN_ID = "0f0e0d0c-0b0a-4908-8706-050403020100"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture()
def app_and_service(tmp_path):
    return make_app(tmp_path / "v.db")


@pytest.fixture()
def api(app_and_service):
    app, service = app_and_service
    with client_for(app) as client:
        client.headers.update(auth(issue_key(service)))
        yield client


def run(client, items):
    response = client.post("/v1/batch", json={"items": items})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_batch_runs_every_operation_and_one_bad_item_fails_alone(api):
    profile_id = api.post("/v1/profiles", json={"name": "alice"}).json()["id"]
    items = [
        {"op": "create_profile", "id": "new", "name": "bob", "external_id": "b-1"},
        {"op": "enroll", "id": "e1", "profile_id": profile_id, "audio": b64(voice_wav(150, 6))},
        {"op": "enroll", "profile_id": profile_id, "audio": b64(voice_wav(150, 6, seed=1))},
        {"op": "verify", "id": "v", "profile_id": profile_id, "audio": b64(voice_wav(150, 3))},
        {"op": "identify", "audio": b64(voice_wav(150, 3, seed=3)), "top_n": 1},
        {"op": "get_profile", "profile_id": profile_id},
        {"op": "get_profile", "id": "missing", "profile_id": UNKNOWN_ID},
        {"op": "verify", "profile_id": profile_id, "audio": "not base64!"},
        {"op": "verify", "profile_id": profile_id, "audio": b64(b"RIFF garbage")},
        {"op": "teleport", "id": "odd"},
        {"op": "enroll", "profile_id": profile_id},
        {"op": "identify", "audio": b64(voice_wav(150, 3)), "top_n": 0},
        {"op": "identify", "audio": b64(voice_wav(150, 3)), "profile_ids": ["alice"]},
    ]
    body = run(api, items)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["status"] for r in results] == [
        201,
        201,
        201,
        200,
        200,
        200,
        404,
        400,
        400,
        422,
        400,
        422,
        422,
    ]
    assert (body["succeeded"], body["failed"]) == (6, 7)
    created, first, second, verified, identified, fetched = (r["result"] for r in results[:6])
    assert created["name"] == "bob" and created["external_id"] == "b-1"
    assert results[0]["id"] == "new" and results[1]["id"] == "e1"
    assert first["status"] == "enrolling" and second["status"] == "enrolled"
    assert second["net_speech_seconds"] > first["net_speech_seconds"]
    assert verified["decision"] == "accept" and results[3]["id"] == "v"
    assert identified["identified"]["profile_id"] == profile_id
    assert fetched["clip_count"] == 2
    codes = [r["error"]["code"] for r in results[6:]]
    assert codes == [
        "profile_not_found",
        "invalid_parameter",
        "corrupt_audio",
        "invalid_request",
        "invalid_parameter",
        "invalid_request",
        "invalid_request",  # a name where profile ids go
    ]
    assert results[9]["id"] == "odd" and results[9]["op"] == "teleport"
    assert all(r["result"] is None and not r["ok"] for r in results[6:])


def test_a_boolean_top_n_fails_its_item_naming_the_field(api):
    audio = b64(voice_wav(150, 3))
    items = [
        {"op": "identify", "audio": audio, "top_n": True},
        {"op": "identify", "audio": audio, "top_n": 2},
    ]
    first, second = run(api, items)["results"]
    assert first["status"] == 422 and first["error"]["code"] == "invalid_request"
    assert first["error"]["message"].startswith("top_n: must be a JSON number, not true")
    assert second["ok"]


def test_a_multipart_batch_takes_the_audio_from_named_parts(api):
    profile_id = api.post("/v1/profiles", json={"name": "alice"}).json()["id"]
    request = {
        "items": [
            {"op": "enroll", "profile_id": profile_id, "audio_part": "clip1"},
            {"op": "enroll", "profile_id": profile_id, "audio_part": "clip2"},
            {"op": "verify", "profile_id": profile_id, "audio_part": "probe"},
            {"op": "verify", "profile_id": profile_id, "audio_part": "absent"},
        ]
    }
    response = api.post(
        "/v1/batch",
        data={"request": json.dumps(request)},
        files={
            "clip1": ("1.wav", voice_wav(150, 6), "audio/wav"),
            "clip2": ("2.wav", voice_wav(150, 6, seed=1), "audio/wav"),
            "probe": ("p.wav", voice_wav(230, 3), "audio/wav"),
        },
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 201, 200, 400]
    assert results[1]["result"]["status"] == "enrolled"
    assert results[2]["result"]["decision"] == "reject"
    assert "absent" in results[3]["error"]["message"]


def test_a_malformed_batch_is_refused_as_a_whole_as_every_native_route_refuses_one(api):
    """422 ``invalid_request``, as a body FastAPI validates (found in a walkthrough: the
    batch answered 400 ``invalid_parameter`` where the README and ``POST /v1/profiles``
    say 422)."""
    cases = [
        ({"json": {"items": []}}, 422),
        ({"json": {"items": [{"op": "get_profile"}] * 33}}, 422),
        ({"json": {"operations": []}}, 422),
        ({"json": [1, 2]}, 422),
        ({"content": b"{oops", "headers": {"Content-Type": "application/json"}}, 422),
        ({"content": b"", "headers": {"Content-Type": "application/json"}}, 422),
        ({"content": b"items", "headers": {"Content-Type": "text/plain"}}, 415),
        ({"files": {"clip": ("a.wav", b"RIFF", "audio/wav")}}, 422),
        ({"data": {"request": "{bad"}, "files": {"x": ("a", b"1")}}, 422),
        ({"content": b"[" * 5000, "headers": {"Content-Type": "application/json"}}, 422),
        ({"data": {"request": "[" * 5000}, "files": {"x": ("a", b"1")}}, 422),
    ]
    for kwargs, status in cases:
        response = api.post("/v1/batch", **kwargs)
        assert response.status_code == status, (kwargs, response.text)
        code = "unsupported_media" if status == 415 else "invalid_request"
        assert response.json()["error"]["code"] == code, (kwargs, response.text)
    profiles = api.post(
        "/v1/profiles", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert (profiles.status_code, profiles.json()["error"]["code"]) == (422, "invalid_request")


def test_a_batch_over_the_size_limit_is_413(tmp_path):
    app, service = make_app(tmp_path / "v.db", max_upload_bytes=50_000)
    with client_for(app) as api:
        api.headers.update(auth(issue_key(service)))
        items = [{"op": "identify", "audio": b64(voice_wav(150, 3))}]
        response = api.post("/v1/batch", json={"items": items})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "audio_too_large"


def test_a_batch_sees_only_its_own_namespace(app_and_service):
    app, service = app_and_service
    with client_for(app) as client:
        theirs = client.post(
            "/v1/profiles", json={"name": "bob"}, headers=auth(issue_key(service, "b"))
        ).json()["id"]
        client.headers.update(auth(issue_key(service, "a")))
        body = run(
            client,
            [
                {"op": "get_profile", "profile_id": theirs},
                {"op": "enroll", "profile_id": theirs, "audio": b64(voice_wav(150, 3))},
            ],
        )
    assert [r["status"] for r in body["results"]] == [404, 404]


def readme_batch_example() -> str:
    """The README's batch example: from the heredoc that writes the body to the curl call."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("cat > body.json <<EOF")
    end = readme.index("/v1/batch", start) + len("/v1/batch")
    return readme[start:end]


def test_the_readme_batch_example_works_with_an_8_second_clip(app_and_service, tmp_path):
    """The body is written to a file, so a long clip's base64 never goes on a command line
    (one argument is limited to 128 KiB on Linux; this clip's base64 is about 340 KB)."""
    app, service = app_and_service
    key = issue_key(service)
    (tmp_path / "probe.wav").write_bytes(voice_wav(150, 8))
    with client_for(app) as client:
        client.headers.update(auth(key))
        profile_id = client.post("/v1/profiles", json={"name": "alice"}).json()["id"]
        client.post(
            f"/v1/profiles/{profile_id}/enrollments",
            content=voice_wav(150, 12, seed=1),
            headers={"Content-Type": "audio/wav"},
        )
        script = (
            'curl() { printf "%s\\n" "$@" > curl-args.txt; }\n'  # records what curl is given
            f'ID={profile_id}\nH="X-API-Key: {key}"\n' + readme_batch_example() + "\n"
        )
        done = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        args = (tmp_path / "curl-args.txt").read_text().splitlines()
        assert "@body.json" in args and sum(map(len, args)) < 1000
        body = (tmp_path / "body.json").read_bytes()
        assert len(body) > 300_000
        answer = client.post(
            "/v1/batch", content=body, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 200, answer.text
    verify, profile = answer.json()["results"]
    assert verify["id"] == "call-1" and verify["status"] == 200
    assert verify["result"]["decision"] == "accept"
    assert profile["result"]["id"] == profile_id


def test_an_item_that_is_not_an_object_fails_alone(api):
    profile_id = api.post("/v1/profiles", json={"name": "alice"}).json()["id"]
    items = [5, {"op": "get_profile", "profile_id": profile_id}, "verify", None, [1, 2]]
    body = run(api, items)
    results = body["results"]
    assert [r["status"] for r in results] == [422, 200, 422, 422, 422]
    assert (body["succeeded"], body["failed"]) == (1, 4)
    assert results[1]["result"]["id"] == profile_id
    refused = [results[i] for i in (0, 2, 3, 4)]
    assert {r["error"]["code"] for r in refused} == {"invalid_request"}
    assert results[0]["error"]["message"].endswith("not 5")
    assert results[2]["error"]["message"].endswith('not "verify"')
    assert all(r["id"] is None and r["op"] is None for r in refused)
