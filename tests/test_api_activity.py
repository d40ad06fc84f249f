"""GET /v1/activity: the key's own namespace's activity log, newest first, paged."""

from __future__ import annotations

from datetime import datetime

import pytest

from apihelp import auth, client_for, issue_key, make_app, voice_wav

ENTRY_FIELDS = {
    "id",
    "time",
    "namespace",
    "action",
    "profile_id",
    "profile_name",
    "result",
    "score",
    "detail",
}
UNKNOWN_ID = "0f0e0d0c-0b0a-4908-8706-050403020100"


@pytest.fixture()
def app_and_service(tmp_path):
    return make_app(tmp_path / "a.db")


@pytest.fixture()
def api(app_and_service):
    app, service = app_and_service
    with client_for(app) as client:
        client.headers.update(auth(issue_key(service)))
        yield client


def create(client, name):
    response = client.post("/v1/profiles", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def enroll(client, profile_id, fundamental):
    response = client.post(
        f"/v1/profiles/{profile_id}/enrollments",
        content=voice_wav(fundamental, 12.0),
        headers={"Content-Type": "audio/wav"},
    )
    assert response.status_code == 201, response.text


def test_the_log_lists_what_was_done_newest_first_with_names_and_results(api):
    alice = create(api, "alice")
    enroll(api, alice, 150.0)
    bob = create(api, "bob")
    enroll(api, bob, 230.0)
    verified = api.post(f"/v1/profiles/{alice}/verify", content=voice_wav(150.0, 4.0, seed=3))
    assert verified.status_code == 200
    assert api.delete(f"/v1/profiles/{bob}").status_code == 204

    response = api.get("/v1/activity")
    assert response.status_code == 200
    page = response.json()
    assert page["limit"] == 50 and page["offset"] == 0 and page["next_offset"] is None
    items = page["items"]
    assert all(set(item) == ENTRY_FIELDS for item in items)
    assert [(i["action"], i["profile_id"]) for i in items] == [
        ("delete", bob),
        ("verify", alice),
        ("enroll", bob),
        ("create", bob),
        ("enroll", alice),
        ("create", alice),
    ]
    ids = [i["id"] for i in items]
    assert ids == sorted(ids, reverse=True)
    delete, verify = items[0], items[1]
    assert delete["result"] == "deleted" and delete["profile_name"] is None  # gone since
    assert verify["profile_name"] == "alice"
    assert verify["result"] == verified.json()["decision"]
    assert verify["score"] == pytest.approx(verified.json()["score"])
    assert items[4]["result"] == "enrolled" and items[4]["detail"].startswith("net_speech=")
    assert datetime.fromisoformat(verify["time"]).tzinfo is not None
    assert {i["namespace"] for i in items} == {"default"}


def test_the_log_pages_with_limit_and_offset_and_a_next_offset(api):
    for name in ("p0", "p1", "p2", "p3", "p4"):
        create(api, name)
    everything = [i["id"] for i in api.get("/v1/activity").json()["items"]]
    assert len(everything) == 5
    first = api.get("/v1/activity", params={"limit": 2}).json()
    assert [i["id"] for i in first["items"]] == everything[:2]
    assert first["next_offset"] == 2
    middle = api.get("/v1/activity", params={"limit": 2, "offset": 2}).json()
    assert [i["id"] for i in middle["items"]] == everything[2:4] and middle["next_offset"] == 4
    last = api.get("/v1/activity", params={"limit": 2, "offset": 4}).json()
    assert [i["id"] for i in last["items"]] == everything[4:] and last["next_offset"] is None
    beyond = api.get("/v1/activity", params={"offset": 50}).json()
    assert beyond["items"] == [] and beyond["next_offset"] is None
    exact = api.get("/v1/activity", params={"limit": 5}).json()
    assert len(exact["items"]) == 5 and exact["next_offset"] is None


def test_a_client_paging_with_before_id_sees_no_entry_twice_while_entries_are_logged(api):
    for name in ("p0", "p1", "p2", "p3"):
        create(api, name)
    first = api.get("/v1/activity", params={"limit": 2}).json()
    assert first["before_id"] is None and first["next_before_id"] == first["items"][-1]["id"]
    create(api, "meanwhile")  # an offset would now show the first page's last entry again
    shifted = api.get("/v1/activity", params={"limit": 2, "offset": first["next_offset"]}).json()
    assert shifted["items"][0]["id"] == first["items"][-1]["id"]
    second = api.get(
        "/v1/activity", params={"limit": 2, "before_id": first["next_before_id"]}
    ).json()
    assert [i["id"] for i in second["items"]] == [
        first["items"][-1]["id"] - 1,
        first["items"][-1]["id"] - 2,
    ]
    assert second["before_id"] == first["next_before_id"] and second["next_before_id"] is None
    assert second["next_offset"] is None


def test_the_log_can_be_limited_to_one_profile_even_after_it_was_deleted(api):
    alice, bob = create(api, "alice"), create(api, "bob")
    assert api.delete(f"/v1/profiles/{bob}").status_code == 204
    mine = api.get("/v1/activity", params={"profile_id": alice}).json()["items"]
    assert [(i["action"], i["profile_id"]) for i in mine] == [("create", alice)]
    gone = api.get("/v1/activity", params={"profile_id": bob}).json()["items"]
    assert [i["action"] for i in gone] == ["delete", "create"]
    nobody = api.get("/v1/activity", params={"profile_id": UNKNOWN_ID}).json()
    assert nobody["items"] == [] and nobody["next_offset"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": "x"},
        {"offset": -1},
        {"offset": 10**20},
        {"before_id": 0},
        {"before_id": 2**63},
        {"profile_id": "not-a-uuid"},
    ],
)
def test_bad_paging_or_profile_parameters_are_422_with_a_code(api, params):
    response = api.get("/v1/activity", params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert next(iter(params)) in error["message"]


def test_the_log_needs_a_valid_key(app_and_service):
    app, _ = app_and_service
    with client_for(app) as client:
        for headers in ({}, auth("vxp_nothing_of_the_sort")):
            response = client.get("/v1/activity", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"


def test_another_tenants_key_sees_none_of_this_tenants_entries(app_and_service):
    app, service = app_and_service
    mine, theirs = auth(issue_key(service, "tenant-a")), auth(issue_key(service, "tenant-b"))
    with client_for(app) as client:
        client.headers.update(mine)
        alice = create(client, "alice")
        enroll(client, alice, 150.0)
        assert client.post("/v1/identify", content=voice_wav(150.0, 4.0)).status_code == 200
        client.headers.update(theirs)
        assert client.get("/v1/activity").json()["items"] == []
        filtered = client.get("/v1/activity", params={"profile_id": alice}).json()
        assert filtered["items"] == []
        bob = create(client, "bob")
        assert [i["profile_id"] for i in client.get("/v1/activity").json()["items"]] == [bob]
        client.headers.update(mine)
        items = client.get("/v1/activity").json()["items"]
        assert {i["namespace"] for i in items} == {"tenant-a"}
        assert bob not in {i["profile_id"] for i in items}
        assert [i["action"] for i in items] == ["identify", "enroll", "create"]


def test_entries_carry_no_secret_and_no_audio(app_and_service):
    app, service = app_and_service
    key = issue_key(service)
    with client_for(app) as client:
        client.headers.update(auth(key))
        alice = create(client, "alice")
        enroll(client, alice, 150.0)
        client.post(f"/v1/profiles/{alice}/verify", content=voice_wav(150.0, 4.0))
        client.post("/v1/identify", content=voice_wav(150.0, 4.0))
        response = client.get("/v1/activity")
    assert response.status_code == 200
    assert key not in response.text
    assert key.split("_", 2)[2] not in response.text  # the secret part
    for item in response.json()["items"]:
        assert set(item) == ENTRY_FIELDS
        for value in item.values():
            assert not isinstance(value, list | dict)
            assert len(str(value)) < 200, value  # measures, never samples or bytes


def test_the_route_is_in_the_api_reference(api):
    operation = api.get("/openapi.json").json()["paths"]["/v1/activity"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names == {"limit", "offset", "before_id", "profile_id"}
    assert {"200", "401", "422"} <= set(operation["responses"])
