"""voxprint.settings: the one place settings are read, for the command line and the service."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voxprint.cli.app import app
from voxprint.cli.exit_codes import ExitCode
from voxprint.encoders.registry import DEFAULT_ENCODER
from voxprint.enrollment import DEFAULT_ENROLLMENT_SPEECH_SECONDS
from voxprint.errors import InvalidParameterError
from voxprint.settings import (
    MAX_STREAM_IDLE_SECONDS,
    Settings,
    default_data_root,
    hand_to_workers,
    load_settings,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "voxprint"


@pytest.fixture(autouse=True)
def _private_environment(monkeypatch):
    """Each test sees (and may change) its own copy of the environment, without the
    VOXPRINT_* variables of whoever runs the tests."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VOXPRINT_")}
    clean.pop("RAY_ADDRESS", None)
    monkeypatch.setattr(os, "environ", clean)


def test_the_defaults_are_the_cores_own_constants():
    settings = load_settings()
    assert settings.model == DEFAULT_ENCODER
    assert settings.enroll_seconds == DEFAULT_ENROLLMENT_SPEECH_SECONDS
    assert settings.db is None and settings.api_key is None


def test_a_variable_sets_a_value_and_a_given_option_wins_over_it():
    os.environ["VOXPRINT_MODEL"] = "ge2e"
    os.environ["VOXPRINT_ENROLL_SECONDS"] = "12.5"
    assert load_settings().model == "ge2e"
    assert load_settings().enroll_seconds == 12.5
    assert load_settings(model="campplus").model == "campplus"
    assert load_settings(model=None).model == "ge2e"  # an option not given


def test_an_empty_variable_counts_as_unset():
    os.environ["VOXPRINT_CAMPPLUS_RUNTIME"] = ""
    os.environ["VOXPRINT_NUM_THREADS"] = ""
    options = load_settings().encoder_options()
    assert options.runtime is None and options.num_threads is None


def test_a_bad_variable_is_refused_with_its_name():
    os.environ["VOXPRINT_NUM_THREADS"] = "many"
    with pytest.raises(InvalidParameterError, match="VOXPRINT_NUM_THREADS"):
        load_settings()


@pytest.mark.parametrize("value", ["inf", "1e400", "nan", "-1"])
def test_enrolment_speech_that_no_one_could_reach_is_refused(value):
    os.environ["VOXPRINT_ENROLL_SECONDS"] = value
    with pytest.raises(InvalidParameterError, match="VOXPRINT_ENROLL_SECONDS"):
        load_settings()


def test_a_bad_option_is_refused_with_the_option_name():
    with pytest.raises(InvalidParameterError, match=r"\bport\b"):
        load_settings(port=70000)


def test_the_data_folder_comes_from_voxprint_data(tmp_path):
    os.environ["VOXPRINT_DATA"] = str(tmp_path)
    assert default_data_root() == tmp_path


def test_the_data_folder_defaults_to_the_shared_folder_beside_the_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ../shared/data from here
    assert default_data_root() == SRC.parents[1].parent / "shared" / "data"


def test_rays_own_variable_names_the_cluster():
    os.environ["RAY_ADDRESS"] = "ray://head:10001"
    assert load_settings().ray_address == "ray://head:10001"


def test_service_options_carry_the_upload_limits_and_command_options_do_not():
    settings = load_settings(max_upload_bytes=1234, max_audio_seconds=5.0)
    assert settings.service_options().limits.max_bytes == 1234
    assert settings.service_options().limits.max_seconds == 5.0
    assert settings.command_options().limits.max_bytes > 1234


def test_a_command_scans_large_galleries_exactly_and_the_service_builds_an_index():
    """A one-shot command would spend minutes building an approximate index it searches
    once; the long-running service builds it."""
    settings = load_settings()
    assert settings.command_options().approximate_search is False
    assert settings.service_options().approximate_search is True


def test_the_rival_weight_reaches_the_thresholds_and_a_negative_one_is_refused(
    tmp_path, monkeypatch
):
    from voxprint import operating_points
    from voxprint.bootstrap import build_service
    from voxprint.decision import DEFAULT_RIVAL_WEIGHT
    from voxprint.pipeline import EmbeddingPipeline

    from fakes import TONE_PRIOR, EnergyVad, ToneEncoder

    monkeypatch.setitem(operating_points.DEFAULT_PRIORS, "tone", TONE_PRIOR)
    assert load_settings().rival_weight == DEFAULT_RIVAL_WEIGHT
    os.environ["VOXPRINT_RIVAL_WEIGHT"] = "0"
    options = load_settings(db=str(tmp_path / "w.db")).command_options()
    service = build_service(options, EmbeddingPipeline(ToneEncoder(), vad=EnergyVad()))
    assert service.thresholds.rival_weight == 0.0
    assert service.scorer().point.rival_weight == 0.0
    os.environ["VOXPRINT_RIVAL_WEIGHT"] = "-1"
    with pytest.raises(InvalidParameterError, match="VOXPRINT_RIVAL_WEIGHT"):
        load_settings()


def test_the_worker_environment_rebuilds_the_same_settings():
    given = load_settings(
        db="voices.db", port=9001, require_api_key=False, api_key="vp_secret", num_threads=2
    )
    environment = given.worker_environment()
    assert environment["VOXPRINT_REQUIRE_API_KEY"] == "false"
    assert "VOXPRINT_QUANTIZE" not in environment  # unset stays unset
    os.environ.update(environment)
    assert Settings() == given


def test_a_secret_is_never_shown_in_the_settings_text():
    settings = load_settings(api_key="vp_supersecret")
    assert "vp_supersecret" not in repr(settings) and "vp_supersecret" not in str(settings)


def test_no_module_but_settings_reads_the_environment():
    """Settings are read in one place: no os.environ or getenv elsewhere in the package
    (offline.py only switches a third-party library's telemetry off), and no CLI option
    reads a variable behind the settings' back."""
    readers = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC).as_posix()
        text = path.read_text()
        if relative not in ("settings.py", "offline.py") and re.search(
            r"os\.environ|getenv\(", text
        ):
            readers.append(relative)
        if relative.startswith("cli/") and "envvar=" in text:
            readers.append(relative)
    assert readers == []


def test_serve_binds_and_hands_over_what_the_settings_say(tmp_path, monkeypatch):
    import logging.config

    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kwargs: seen.update(kwargs))
    # serve configures the process's logging for uvicorn: not this test process's
    monkeypatch.setattr(logging.config, "dictConfig", lambda config: None)
    os.environ["VOXPRINT_PORT"] = "8123"
    os.environ["VOXPRINT_WORKERS"] = "2"
    db = tmp_path / "voices.db"
    result = CliRunner().invoke(app, ["serve", "--no-auth", "--db", str(db), "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert (seen["host"], seen["port"], seen["workers"]) == ("0.0.0.0", 8123, 2)
    # what each worker process reads
    assert os.environ["VOXPRINT_DB"] == str(db)
    assert os.environ["VOXPRINT_REQUIRE_API_KEY"] == "false"
    assert os.environ["VOXPRINT_HOST"] == "0.0.0.0"


def test_serve_refuses_a_port_in_use_in_one_line_before_loading_anything(tmp_path, monkeypatch):
    import logging.config
    import socket

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn started"))
    monkeypatch.setattr(logging.config, "dictConfig", lambda config: None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        db = tmp_path / "voices.db"
        result = CliRunner().invoke(app, ["serve", "--db", str(db), "--port", str(port)])
    assert result.exit_code == ExitCode.DATA, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("variable", "value", "what"),
    [
        ("VOXPRINT_CAMPPLUS_RUNTIME", "bogus", "unknown CAM++ runtime 'bogus'; choose one of"),
        ("VOXPRINT_QUANTIZE", "int4", "unknown quantisation 'int4'; choose one of: int8, none"),
        ("VOXPRINT_PHRASE_RECOGNIZER", "bogus", "unknown phrase recogniser 'bogus'"),
        ("VOXPRINT_ENGINE", "spark", "unknown engine 'spark'; choose one of: local, ray"),
    ],
)
def test_a_misspelt_name_is_refused_when_the_settings_are_read(variable, value, what):
    """Found in a walkthrough: these were taken as given, and `voxprint info` showed
    "runtime: bogus"; the server started "ready" with a bogus phrase recogniser and then
    answered every profile route 400, and with a bogus runtime its workers failed to
    start with a traceback."""
    os.environ[variable] = value
    with pytest.raises(InvalidParameterError) as raised:
        load_settings()
    assert raised.value.message.startswith(f"invalid setting {variable}: ")
    assert what in raised.value.message and "Value error" not in raised.value.message


@pytest.mark.parametrize(
    ("variable", "value", "field", "name"),
    [
        ("VOXPRINT_CAMPPLUS_RUNTIME", " ONNX ", "campplus_runtime", "onnx"),
        ("VOXPRINT_QUANTIZE", "INT8", "quantize", "int8"),
        ("VOXPRINT_PHRASE_RECOGNIZER", "Whisper", "phrase_recognizer", "whisper"),
        ("VOXPRINT_ENGINE", "Ray", "engine", "ray"),
    ],
)
def test_a_known_name_is_taken_whatever_its_case_and_surrounding_spaces(
    variable, value, field, name
):
    os.environ[variable] = value
    assert getattr(load_settings(), field) == name


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VOXPRINT_STREAM_IDLE_SECONDS", "inf"),
        ("VOXPRINT_STREAM_IDLE_SECONDS", "1e300"),
        ("VOXPRINT_MAX_AUDIO_SECONDS", "inf"),
        ("VOXPRINT_AZURE_MIN_SECONDS", "inf"),
        ("VOXPRINT_AZURE_MAX_ENROLL_AUDIO_SECONDS", "Infinity"),
        ("VOXPRINT_RIVAL_WEIGHT", "nan"),
    ],
)
def test_no_setting_takes_infinity_or_a_time_no_date_can_hold(variable, value):
    """Found in a walkthrough: VOXPRINT_STREAM_IDLE_SECONDS=inf was taken, and then every
    POST /v1/streams was a 500 (an expiry date infinitely far off)."""
    os.environ[variable] = value
    with pytest.raises(InvalidParameterError, match=f"invalid setting {variable}: "):
        load_settings()


def test_a_stream_idle_time_the_settings_take_makes_streams_that_expire(tmp_path):
    from apihelp import auth, client_for, issue_key, make_app

    os.environ["VOXPRINT_STREAM_IDLE_SECONDS"] = str(MAX_STREAM_IDLE_SECONDS)
    app, service = make_app(
        tmp_path / "s.db", stream_idle_seconds=load_settings().stream_idle_seconds
    )
    with client_for(app) as client:
        created = client.post("/v1/streams", headers=auth(issue_key(service)))
    assert created.status_code == 201, created.text
    assert created.json()["expires_at"] > created.json()["created_at"]


def test_the_named_choices_that_exist_are_taken():
    for variable, value in (
        ("VOXPRINT_CAMPPLUS_RUNTIME", "openvino-bf16"),
        ("VOXPRINT_QUANTIZE", "int8"),
        ("VOXPRINT_PHRASE_RECOGNIZER", "pocketsphinx"),
        ("VOXPRINT_ENGINE", "ray"),
    ):
        os.environ[variable] = value
    chosen = load_settings()
    assert (chosen.campplus_runtime, chosen.quantize) == ("openvino-bf16", "int8")
    assert (chosen.phrase_recognizer, chosen.engine) == ("pocketsphinx", "ray")


@pytest.mark.parametrize(
    ("variable", "value", "shown"),
    [
        ("VOXPRINT_CAMPPLUS_RUNTIME", "bogus", "VOXPRINT_CAMPPLUS_RUNTIME: unknown CAM++ runtime"),
        ("VOXPRINT_PHRASE_RECOGNIZER", "bogus", "VOXPRINT_PHRASE_RECOGNIZER: unknown phrase"),
        ("VOXPRINT_MODEL", "nosuch", "unknown encoder 'nosuch'"),
        ("VOXPRINT_MODEL", "missing.pt", "checkpoint not found: missing.pt"),
    ],
)
def test_serve_refuses_a_bad_model_or_name_in_one_line_before_starting(
    tmp_path, monkeypatch, variable, value, shown
):
    import logging.config

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn started"))
    monkeypatch.setattr(logging.config, "dictConfig", lambda config: None)
    monkeypatch.chdir(tmp_path)
    os.environ[variable] = value
    result = CliRunner().invoke(app, ["serve", "--db", str(tmp_path / "v.db"), "--port", "0"])
    assert result.exit_code in (ExitCode.DATA, ExitCode.MODEL), result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: ") and shown in line
    assert not (tmp_path / "v.db").exists()  # refused before anything was created


def test_hand_to_workers_puts_the_settings_into_the_environment():
    hand_to_workers(load_settings(model="ge2e"))
    assert os.environ["VOXPRINT_MODEL"] == "ge2e"


def test_a_command_with_a_bad_variable_fails_in_one_line(tmp_path):
    os.environ["VOXPRINT_ENROLL_SECONDS"] = "soon"
    result = CliRunner().invoke(app, ["profiles", "list", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == ExitCode.DATA  # a bad parameter (README, exit codes)
    assert "VOXPRINT_ENROLL_SECONDS" in result.output
    assert "Traceback" not in result.output


def test_info_shows_the_model_and_data_folder_the_variables_name(tmp_path):
    os.environ["VOXPRINT_MODEL"] = "ge2e"
    os.environ["VOXPRINT_DATA"] = str(tmp_path)
    result = CliRunner().invoke(app, ["info", "--json", "--db", str(tmp_path / "v.db")])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["model"]["name"] == "ge2e"
    assert shown["data"] == {
        "path": str(tmp_path.resolve()),
        "source": "VOXPRINT_DATA",
        "exists": True,
    }
    assert shown["database"]["source"] == "--db"


def test_settings_are_built_once_and_again_when_the_environment_changes(monkeypatch):
    monkeypatch.setenv("VOXPRINT_MIN_SPEECH_SECONDS", "1.5")
    first = load_settings()
    assert load_settings() is first
    assert load_settings(db=None) is first  # an option not given is no option
    assert load_settings(model="ge2e").model == "ge2e"
    monkeypatch.setenv("VOXPRINT_MIN_SPEECH_SECONDS", "2.5")
    assert load_settings().min_speech_seconds == 2.5
    monkeypatch.setenv("VOXPRINT_MIN_SPEECH_SECONDS", "-1")
    for _ in range(2):  # a refusal is never remembered
        with pytest.raises(InvalidParameterError, match="VOXPRINT_MIN_SPEECH_SECONDS"):
            load_settings()
