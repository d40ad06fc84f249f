"""Property-based run of the OpenAPI document: no generated request may cause a 5xx.

schemathesis generates requests from ``/openapi.json`` (paths, queries, JSON and
multipart bodies, raw audio bytes) and sends them to the in-process app with a
valid key. A second pass points every ``profile_id`` at a real enrolled profile,
so the fuzzed bodies reach the audio and scoring code, not just the 404 path.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from apihelp import auth, issue_key, make_app, voice_wav

#: Examples per operation; raise it for a deeper run (VOXPRINT_FUZZ_EXAMPLES=200).
EXAMPLES = int(os.environ.get("VOXPRINT_FUZZ_EXAMPLES", "20"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


# schemathesis needs the schema when the tests are collected, and keeps the app's
# lifespan running once started; the fake-model app on a temporary database is cheap.
_FOLDER = Path(tempfile.mkdtemp(prefix="voxprint-fuzz-"))
atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)
APP, SERVICE = make_app(_FOLDER / "v.db")
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

# Raw audio bodies are bytes like application/octet-stream.
schemathesis.serializer.alias("audio/wav", "application/octet-stream")

#: The native routes (the Azure-compatible and stream routes have their own tests).
NATIVE = r"^/(v1/(profiles|identify|compare|batch)|healthz|readyz)"


@pytest.fixture(scope="module")
def running():
    """A valid key's headers and the id of an enrolled profile of its namespace."""
    profile = SERVICE.create_profile("seed")
    assert SERVICE.enroll(profile.id, voice_wav(150, 12)).status.value == "enrolled"
    return auth(issue_key(SERVICE)), profile.id


@schema.include(path_regex=NATIVE).parametrize()
@FUZZ
def test_generated_requests_never_get_a_server_error(case, running):
    headers, _ = running
    case.call_and_validate(headers=headers, checks=[not_a_server_error])


@(
    schema.include(path_regex=r"^/v1/profiles/\{profile_id\}")
    .exclude(method="DELETE")
    .exclude(path_regex="/reset$")
    .parametrize()
)
@FUZZ
def test_generated_requests_on_a_real_profile_never_get_a_server_error(case, running):
    headers, profile_id = running
    case.path_parameters = {**(case.path_parameters or {}), "profile_id": profile_id}
    case.call_and_validate(headers=headers, checks=[not_a_server_error])
