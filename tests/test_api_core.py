"""The service's core: health, API keys, authentication, error bodies, limits, the runner."""

import asyncio

import pytest
from typer.testing import CliRunner

from voxprint.access import KeyService
from voxprint.api.inference import InferenceRunner
from voxprint.cli.app import app as cli
from voxprint.errors import (
    ApiKeyNotFoundError,
    AuthenticationError,
    InvalidParameterError,
    ServiceBusyError,
    ServiceUnavailableError,
)
from voxprint.store import SQLiteStore

from apihelp import auth, client_for, issue_key, make_app


@pytest.fixture()
def keys(tmp_path):
    return KeyService(SQLiteStore(tmp_path / "keys.db"))


def test_a_created_key_authenticates_to_its_namespace(keys):
    issued = keys.create("ci", "tenant-a")
    key = keys.authenticate(issued.token)
    assert key.id == issued.key.id
    assert key.namespace == "tenant-a"


def test_the_store_keeps_only_a_hash_of_the_secret(tmp_path, keys):
    issued = keys.create("ci")
    secret = issued.token.rsplit("_", 1)[1]
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("keys.db*"))
    assert secret.encode() not in raw
    assert issued.key.id.encode() in raw


def test_wrong_unknown_malformed_and_revoked_keys_are_refused(keys):
    issued = keys.create("ci")
    key_id, secret = issued.token.split("_")[1], issued.token.split("_", 2)[2]
    for token in (
        None,
        "",
        "nonsense",
        f"vxp_{key_id}_{'x' * len(secret)}",
        f"vxp_{'0' * 16}_{secret}",
    ):
        with pytest.raises(AuthenticationError):
            keys.authenticate(token)
    keys.revoke(issued.key.id)
    with pytest.raises(AuthenticationError):
        keys.authenticate(issued.token)


def test_keys_are_revoked_by_unique_name_and_unknown_ones_say_so(keys):
    keys.create("alpha")
    keys.create("twin")
    keys.create("twin")
    assert not keys.revoke("alpha").is_active
    with pytest.raises(InvalidParameterError):
        keys.revoke("twin")
    with pytest.raises(ApiKeyNotFoundError):
        keys.revoke("nobody")


def test_a_key_needs_a_name_and_a_valid_namespace(keys):
    with pytest.raises(InvalidParameterError):
        keys.create("  ")
    with pytest.raises(InvalidParameterError):
        keys.create("x", "bad namespace!")


def test_the_keys_cli_prints_a_key_once_lists_it_and_revokes_it(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "v.db")
    created = runner.invoke(cli, ["keys", "create", "--name", "web", "--db", db])
    assert created.exit_code == 0, created.output
    token = created.output.split()[0]
    assert token.startswith("vxp_")
    listed = runner.invoke(cli, ["keys", "list", "--db", db])
    assert "web" in listed.output and token not in listed.output
    revoked = runner.invoke(cli, ["keys", "revoke", "web", "--db", db])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    missing = runner.invoke(cli, ["keys", "revoke", "nope", "--db", db])
    assert missing.exit_code != 0
    assert "no active API key" in missing.output


def test_health_needs_no_key_and_readiness_reports_the_encoder(tmp_path):
    app, _ = make_app(tmp_path / "v.db")
    with client_for(app) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["encoder"] == "tone"


@pytest.mark.process_local
def test_metrics_count_requests_by_route_template(tmp_path):
    app, _ = make_app(tmp_path / "v.db")
    with client_for(app) as client:
        client.get("/healthz")
        text = client.get("/metrics").text
    assert 'voxprint_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "voxprint_inference_pending" in text


def test_a_missing_or_bad_key_gets_a_401_json_error(tmp_path):
    app, service = make_app(tmp_path / "v.db")
    with client_for(app) as client:
        for headers in ({}, auth("vxp_bad")):
            response = client.get("/v1/profiles", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"
        good = client.get("/v1/profiles", headers=auth(issue_key(service)))
        assert good.status_code == 200


def test_unknown_routes_answer_json_not_html(tmp_path):
    app, _ = make_app(tmp_path / "v.db")
    with client_for(app) as client:
        response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_every_response_carries_a_request_id(tmp_path):
    app, _ = make_app(tmp_path / "v.db")
    with client_for(app) as client:
        echoed = client.get("/healthz", headers={"X-Request-ID": "abc123"})
        fresh = client.get("/healthz")
    assert echoed.headers["x-request-id"] == "abc123"
    assert len(fresh.headers["x-request-id"]) == 32


def test_the_runner_refuses_work_beyond_its_queue_and_after_close():
    async def scenario() -> None:
        runner = InferenceRunner(workers=1, queue=1)
        gate = asyncio.Event()
        loop = asyncio.get_running_loop()

        def blocked() -> str:
            asyncio.run_coroutine_threadsafe(gate.wait(), loop).result()
            return "done"

        first = asyncio.create_task(runner.run("test", blocked))
        second = asyncio.create_task(runner.run("test", blocked))
        await asyncio.sleep(0.05)
        assert runner.pending == 2
        with pytest.raises(ServiceBusyError):
            await runner.run("test", lambda: "x")
        gate.set()
        assert await first == "done" and await second == "done"
        assert runner.pending == 0
        runner.close()
        with pytest.raises(ServiceUnavailableError):
            await runner.run("test", lambda: "x")

    asyncio.run(scenario())


def test_the_runner_passes_exceptions_through_and_reports_timings():
    seen: list[str] = []

    def fails() -> None:
        raise InvalidParameterError("bad")

    async def scenario() -> None:
        runner = InferenceRunner(workers=1, queue=0, observe=lambda op, _s: seen.append(op))
        with pytest.raises(InvalidParameterError):
            await runner.run("embed", fails)
        runner.close()

    asyncio.run(scenario())
    assert seen == ["embed"]
