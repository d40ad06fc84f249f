"""The service's core: health, API keys, authentication, error bodies, limits, the runner."""

import asyncio
import logging

import pytest
from typer.testing import CliRunner

from voxprint.api.inference import InferenceRunner
from voxprint.cli.app import app as cli
from voxprint.errors import (
    InvalidParameterError,
    ServiceBusyError,
    ServiceUnavailableError,
)

from apihelp import auth, client_for, issue_key, make_app


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


def test_keys_revoke_takes_the_full_key_and_never_prints_a_secret(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "v.db")
    token = runner.invoke(cli, ["keys", "create", "--name", "web", "--db", db]).output.split()[0]
    key_id, secret = token.split("_")[1], token.split("_", 2)[2]
    wrong = f"vxp_{key_id}_{secret[::-1]}"
    for args in (["keys", "revoke", wrong], ["-v", "keys", "revoke", wrong, "--json"]):
        refused = runner.invoke(cli, [*args, "--db", db])
        assert refused.exit_code != 0
        assert f"vxp_{key_id}_***" in refused.output
        assert secret[::-1] not in refused.output and secret not in refused.output
    revoked = runner.invoke(cli, ["keys", "revoke", token, "--db", db])
    assert revoked.exit_code == 0, revoked.output
    assert revoked.output.strip() == f"revoked {key_id} (web)"
    assert secret not in revoked.output


def test_health_needs_no_key_and_readiness_reports_the_encoder(tmp_path):
    app, _ = make_app(tmp_path / "v.db")
    with client_for(app) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["encoder"] == "tone"


@pytest.mark.process_local
def test_startup_logs_the_database_and_warns_when_it_holds_no_api_key(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="voxprint.api.app")
    app, service = make_app(tmp_path / "v.db")
    service.pipeline.encoder.version = "tone-encoder-with-a-long-version-4f2a9c"
    with client_for(app):
        pass
    ready = [r.getMessage() for r in caplog.records if "ready" in r.getMessage()]
    assert ready and ready[0].endswith(f"database {tmp_path / 'v.db'}")
    # The encoder version in full: it is what a profile's voiceprint must match.
    assert f"encoder {service.encoder_name} ({service.encoder_version})," in ready[0]
    assert any("holds no active API key" in r.getMessage() for r in caplog.records)
    caplog.clear()
    issue_key(service)
    app, _ = make_app(tmp_path / "v.db")
    with client_for(app):
        pass
    assert not any("holds no active API key" in r.getMessage() for r in caplog.records)


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


def test_two_different_keys_in_one_request_are_a_401_naming_neither(tmp_path):
    app, service = make_app(tmp_path / "v.db")
    mine, theirs = issue_key(service, "tenant-a"), issue_key(service, "tenant-b", name="b")
    with client_for(app) as client:
        for headers in (
            {"X-API-Key": mine, "Authorization": f"Bearer {theirs}"},
            {"Authorization": f"Bearer {mine}", "Ocp-Apim-Subscription-Key": theirs},
            {"X-API-Key": mine, "Ocp-Apim-Subscription-Key": theirs},
        ):
            response = client.get("/v1/profiles", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "conflicting_api_keys"
            for key in (mine, theirs):
                assert key.split("_", 2)[2] not in response.text
        same = client.get("/v1/profiles", headers={"X-API-Key": mine, **auth(mine)})
        assert same.status_code == 200


def test_two_different_keys_are_no_conflict_when_keys_are_off(tmp_path):
    app, _ = make_app(tmp_path / "v.db", require_api_key=False)
    with client_for(app) as client:
        response = client.get("/v1/profiles", headers={"X-API-Key": "a", **auth("b")})
    assert response.status_code == 200


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
