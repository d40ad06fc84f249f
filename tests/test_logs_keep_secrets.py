"""No API key secret reaches any log line, at any level; voxprint's request log does appear.

Three levels: the redaction itself; the app in process with every logger at DEBUG; and a
real ``voxprint serve`` at ``--log-level trace -v`` whose whole output is scanned after
requests with keys in headers and in query strings, accepted and refused, HTTP and
WebSocket.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect

from voxprint.access import KeyService
from voxprint.encoders.weights import GE2E_WEIGHTS, find_weights
from voxprint.errors import WeightsNotFoundError
from voxprint.redaction import RedactSecrets, install_redaction, redact, redact_record
from voxprint.store import SQLiteStore

from apihelp import client_for, issue_key, make_app

REPO = Path(__file__).resolve().parents[1]


def made_up_key() -> str:
    """A well-formed key no store knows: a mistyped or stolen one is a secret too."""
    return f"vxp_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}"


def secret_of(token: str) -> str:
    return token.split("_", 2)[2]


# --- the redaction ------------------------------------------------------------------------


def test_a_key_keeps_its_id_and_loses_its_secret_wherever_it_appears():
    key = made_up_key()
    key_id = key.split("_")[1]
    for text in (
        f"token {key} used",
        f"GET /v1/ws/identify?window=2&api_key={key} HTTP/1.1",
        f"{{'headers': [(b'authorization', b'Bearer {key}')]}}",
        f"X-API-Key: {key}",
    ):
        cleaned = redact(text)
        assert secret_of(key) not in cleaned, text
        assert key_id in cleaned, text


def test_query_and_header_values_go_even_when_they_are_not_keys():
    assert redact("/v1/profiles?api_key=hunter2&limit=5") == "/v1/profiles?api_key=***&limit=5"
    assert "s3cret" not in redact("/speaker/x?subscription-key=s3cret")
    assert "s3cret" not in redact("< Authorization: Bearer s3cret")
    assert "s3cret" not in redact("< ocp-apim-subscription-key: s3cret")
    assert redact("GET /v1/profiles?limit=5 200") == "GET /v1/profiles?limit=5 200"


def test_a_record_is_cleaned_in_its_message_arguments_and_traceback():
    key = made_up_key()
    try:
        raise ValueError(f"bad request /v1/identify?api_key={key}")
    except ValueError:
        record = logging.getLogger("any").makeRecord(
            "any",
            logging.ERROR,
            __file__,
            1,
            "%s - %s: %s",
            ("client", "x-api-key", key),
            sys.exc_info(),
        )
    redact_record(record)
    text = logging.Formatter().format(record)
    assert secret_of(key) not in text
    assert "client" in text and "ValueError" in text
    # A secret split over two arguments ("header: value") shows only in the whole line.
    split = logging.LogRecord(
        "w", logging.DEBUG, __file__, 1, "< %s: %s", ("X-API-Key", "abc"), None
    )
    redact_record(split)
    assert "abc" not in split.getMessage()


def test_a_websocket_frame_is_logged_without_its_payload_even_shortened_past_the_key_prefix():
    from websockets.frames import Frame, Opcode

    key = made_up_key()
    # The library shows a long payload's start and end: here the key's prefix falls in
    # the elided middle and only the end of its secret would show.
    login = Frame(Opcode.TEXT, f'{{"client": "{"x" * 60}", "api_key": "{key}"}}'.encode())
    assert secret_of(key)[-12:] in str(login)
    for frame in (login, Frame(Opcode.BINARY, key.encode())):
        record = logging.LogRecord(
            "websockets.server", logging.DEBUG, __file__, 1, "< %s", (frame,), None
        )
        redact_record(record)
        message = record.getMessage()
        assert secret_of(key)[-8:] not in message and "payload not logged" in message
    ping = logging.LogRecord(
        "w", logging.DEBUG, __file__, 1, "> %s", (Frame(Opcode.PING, b""),), None
    )
    redact_record(ping)
    assert ping.getMessage().startswith("> PING")


def test_an_object_whose_attributes_cannot_be_read_is_still_logged():
    class Awkward:
        @property
        def opcode(self):
            raise RuntimeError("no opcode here")

        def __str__(self):
            return "awkward"

    class Unhashable:
        opcode = type("Op", (), {"name": ["TEXT"]})()
        data = b"x"

        def __str__(self):
            return "unhashable"

    for value, text in ((Awkward(), "awkward"), (Unhashable(), "unhashable")):
        record = logging.LogRecord("w", logging.DEBUG, __file__, 1, "< %s", (value,), None)
        redact_record(record)
        assert record.getMessage() == f"< {text}"


def test_uvicorns_access_records_keep_the_shape_its_formatter_unpacks():
    key = made_up_key()
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"/v1/profiles?api_key={key}", "1.1", 401),
        None,
    )
    RedactSecrets().filter(record)
    assert isinstance(record.args, tuple) and len(record.args) == 5
    assert secret_of(key) not in record.getMessage()


def test_redaction_is_installed_once_per_logger():
    install_redaction(["voxprint.test.once"])
    install_redaction(["voxprint.test.once"])
    filters = logging.getLogger("voxprint.test.once").filters
    assert sum(isinstance(f, RedactSecrets) for f in filters) == 1


# --- the app in process, every logger at DEBUG ------------------------------------------------


class Everything(logging.Handler):
    """Formats every record any logger emits (with tracebacks)."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture()
def all_logs():
    handler = Everything()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "voxprint", "uvicorn")}
    root.addHandler(handler)
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_the_app_logs_no_secret_at_debug_for_accepted_and_refused_keys(tmp_path, all_logs):
    app, service = make_app(tmp_path / "v.db", log_json=False)
    good, wrong = issue_key(service), made_up_key()
    with client_for(app) as client:
        for key in (good, wrong):
            client.get("/v1/profiles", headers={"Authorization": f"Bearer {key}"})
            client.get("/v1/profiles", headers={"X-API-Key": key})
            client.get(f"/v1/profiles?api_key={key}")
            client.get(f"/v1/no-such-route?api_key={key}")
            client.post("/v1/profiles", headers={"X-API-Key": key}, content=b"{broken")
            with client.websocket_connect(f"/v1/ws/identify?api_key={key}") as ws:
                ws.receive_json()
            with client.websocket_connect("/v1/ws/identify", headers={"X-API-Key": key}) as ws:
                ws.receive_json()
    # The test's own HTTP client (httpx) logs the URLs it fetches; it is not the service.
    lines = [line for line in all_logs.lines if not line.startswith(("httpx", "httpcore"))]
    assert any(line.startswith("voxprint.api.requests") for line in lines)
    for key in (good, wrong):
        assert not [line for line in lines if secret_of(key) in line]


# --- a real `voxprint serve` at trace level ------------------------------------------------


def wait_until_ready(url: str, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"voxprint serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail("voxprint serve did not get ready")


def get(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def websocket(url: str, headers: dict[str, str] | None = None) -> str:
    with connect(url, additional_headers=headers, open_timeout=10) as ws:
        return str(ws.recv(timeout=10))


def websocket_first_message(url: str, key: str) -> str:
    """The key sent as the first message (what the web page does); the server's answer."""
    with connect(url, open_timeout=10) as ws:
        ws.send(json.dumps({"api_key": key}))
        return str(ws.recv(timeout=10))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_voxprint_serve_at_trace_level_logs_requests_with_key_ids_and_no_secret(tmp_path):
    try:
        find_weights(GE2E_WEIGHTS)
    except WeightsNotFoundError as error:
        pytest.skip(f"GE2E weights not installed: {error}")
    db = tmp_path / "served.db"
    good = KeyService(SQLiteStore(db)).create("log-test").token
    wrong = made_up_key()
    port = free_port()
    out = tmp_path / "serve.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    with out.open("wb") as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-c", "from voxprint.cli.app import main; main()"),
                *("serve", "--db", str(db), "--model", "ge2e", "--port", str(port)),
                *("--log-level", "trace", "-v"),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(url, process)
            statuses = []
            for key in (good, wrong):
                statuses += [
                    get(f"{url}/v1/profiles", {"Authorization": f"Bearer {key}"}),
                    get(f"{url}/v1/profiles", {"X-API-Key": key}),
                    get(f"{url}/v1/profiles?api_key={key}"),
                    get(f"{url}/v1/no-such-route?api_key={key}"),
                    get(
                        f"{url}/speaker/identification/v2.0/text-independent/profiles",
                        {"Ocp-Apim-Subscription-Key": key},
                    ),
                ]
                ws = url.replace("http://", "ws://") + "/v1/ws/identify"
                assert '"type"' in websocket(f"{ws}?api_key={key}")
                assert '"type"' in websocket(ws, {"X-API-Key": key})
                assert websocket_first_message(ws, key)
            assert statuses[:2] == [200, 200] and 401 in statuses[5:]
        finally:
            process.terminate()
            process.wait(timeout=30)
    text = out.read_text(errors="replace")
    assert "TRACE" in text and "DEBUG" in text  # it really logged at every level
    assert "payload not logged" in text  # the WebSocket frames were logged, without payload
    for key in (good, wrong):  # not the secret, nor a shortened piece of it
        assert secret_of(key)[-10:] not in text and secret_of(key)[:10] not in text
    key_id = good.split("_")[1]
    requests = [line for line in text.splitlines() if "voxprint.api.requests" in line]
    assert any(f'"key_id":"{key_id}"' in line for line in requests)
    assert f"database {db}" in text
    assert not [line for line in text.splitlines() if "api_key=" in line and "***" not in line]


def test_the_request_log_line_names_the_key_and_not_the_query(tmp_path, all_logs):
    app, service = make_app(tmp_path / "v.db", log_json=True)
    key = issue_key(service)
    with client_for(app) as client:
        client.get("/v1/profiles?limit=5", headers={"X-API-Key": key})
    (line,) = [line for line in all_logs.lines if line.startswith("voxprint.api.requests")]
    assert f'"key_id":"{key.split("_")[1]}"' in line
    assert '"path":"/v1/profiles"' in line and "limit=5" not in line


def test_a_handler_added_by_an_embedding_program_sees_clean_uvicorn_lines(monkeypatch):
    install_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    access = logging.getLogger("uvicorn.error")
    # Other tests run uvicorn in process, which sets this logger's level.
    monkeypatch.setattr(access, "disabled", False)
    monkeypatch.setattr(access, "level", logging.INFO)
    access.addHandler(handler)
    key = made_up_key()
    try:
        access.warning('%s - "WebSocket %s" 403', "1.2.3.4:5", f"/v1/ws/identify?api_key={key}")
    finally:
        access.removeHandler(handler)
    assert secret_of(key) not in stream.getvalue()
    assert f"api_key=vxp_{key.split('_')[1]}_***" in stream.getvalue()


def test_the_command_lines_own_log_masks_keys_too(monkeypatch, capsys):
    """``voxprint -v listen --server ... --api-key K``: the websockets client logs its
    request headers at DEBUG; the CLI's log handler masks the key."""
    from voxprint.cli.common import configure_logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    configure_logging(verbose=True)
    key = made_up_key()
    logging.getLogger("websockets.client").debug("> %s: %s", "X-API-Key", key)
    (handler,) = root.handlers
    root.removeHandler(handler)
    logged = capsys.readouterr().err
    assert "websockets.client" in logged and secret_of(key) not in logged
