"""Input limits: names people will read, bounded id lists, bounded live sessions."""

from __future__ import annotations

import json
import uuid

import pytest
from starlette.websockets import WebSocketDisconnect

from voxprint.errors import InvalidParameterError, InvalidProfileError
from voxprint.store.records import unprintable

from apihelp import auth, client_for, issue_key, make_app, voice_wav

WAV = {"Content-Type": "audio/wav"}


@pytest.fixture()
def api(tmp_path):
    app, service = make_app(tmp_path / "limits.db")
    with client_for(app) as client:
        client.headers.update(auth(issue_key(service)))
        yield client, service


@pytest.mark.parametrize("bad", ["ali\x00ce", "bob\nsmith", "\u202eecila", "a\u200db", "x\x1b[31m"])
def test_names_with_control_or_invisible_characters_are_refused_everywhere(api, bad):
    client, service = api
    assert unprintable(bad) is not None
    response = client.post("/v1/profiles", json={"name": bad})
    assert 400 <= response.status_code < 500 and "error" in response.json()
    with pytest.raises(InvalidProfileError, match="U\\+"):
        service.create_profile(bad)
    profile = service.create_profile("carol")
    renamed = client.patch(f"/v1/profiles/{profile.id}", json={"name": bad})
    assert 400 <= renamed.status_code < 500
    ext = client.post("/v1/profiles", json={"name": "dave", "external_id": bad})
    assert 400 <= ext.status_code < 500


def test_ordinary_names_in_any_script_are_kept():
    for good in ("Zoë", "王小明", "Łukasz O'Neil", "محمد", "Ana-María 2"):
        assert unprintable(good) is None


def enrolled(client, name="alice"):
    profile_id = client.post("/v1/profiles", json={"name": name}).json()["id"]
    added = client.post(
        f"/v1/profiles/{profile_id}/enrollments", content=voice_wav(150, 12, seed=1), headers=WAV
    )
    assert added.json()["status"] == "enrolled"
    return profile_id


def test_comma_joined_profile_ids_count_toward_the_limit_of_1000(api):
    client, _ = api
    enrolled(client)
    many = ",".join(str(uuid.uuid4()) for _ in range(1001))
    response = client.post(
        "/v1/identify", params={"profile_ids": many}, content=voice_wav(150, 3), headers=WAV
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


def test_a_long_id_list_can_travel_in_a_multipart_field(api):
    client, _ = api
    alice = enrolled(client)
    files = {"audio": ("probe.wav", voice_wav(150, 3, seed=4), "audio/wav")}
    for field in (json.dumps([alice]), alice):
        response = client.post("/v1/identify", files=files, data={"profile_ids": field})
        assert response.status_code == 200, response.text
        assert response.json()["identified"]["profile_id"] == alice
    bad = client.post("/v1/identify", files=files, data={"profile_ids": "[1, 2"})
    assert bad.status_code == 400


def test_identification_limited_to_too_many_profiles_is_refused_by_the_service(api):
    _, service = api
    with pytest.raises(InvalidParameterError, match="at most 1000"):
        service.identify(b"", profile_ids=[str(uuid.uuid4()) for _ in range(1001)])


def test_live_sessions_beyond_the_limit_are_refused_with_try_again_later(tmp_path):
    app, service = make_app(tmp_path / "ws.db", live_max_sessions=1)
    key = issue_key(service)
    with client_for(app) as client:
        with client.websocket_connect(f"/v1/ws/identify?api_key={key}") as first:
            assert first.receive_json()["type"] == "ready"
            with client.websocket_connect(f"/v1/ws/identify?api_key={key}") as second:
                assert second.receive_json()["error"]["code"] == "busy"
                with pytest.raises(WebSocketDisconnect) as closed:
                    second.receive_json()
                assert closed.value.code == 1013
        with client.websocket_connect(f"/v1/ws/identify?api_key={key}") as again:
            assert again.receive_json()["type"] == "ready"  # the slot was given back
