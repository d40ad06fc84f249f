"""The command line for passphrases and spoken challenges (tone fakes, scripted words)."""

import json
from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

from voxprint import bootstrap, operating_points
from voxprint.cli.app import app
from voxprint.cli.exit_codes import ExitCode
from voxprint.passphrase import RECOGNIZERS
from voxprint.passphrase.phrases import DIGITS, EN_US_PHRASES
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig

from apihelp import api_on_cli_database
from fakes import RATE, TONE_PRIOR, EnergyVad, ToneEncoder, voice
from phrasefakes import ScriptedRecognizer

runner = CliRunner()
PASSPORT = "my voice is my passport verify me"
NAME = "my name is unknown to you"


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


@pytest.fixture()
def words(monkeypatch):
    recognizer = ScriptedRecognizer()
    recognizer.say(2.0, PASSPORT)
    recognizer.say(2.5, NAME)
    monkeypatch.setitem(RECOGNIZERS, "scripted", lambda: recognizer)
    monkeypatch.setenv("VOXPRINT_PHRASE_RECOGNIZER", "scripted")
    return recognizer


@pytest.fixture()
def db(tmp_path):
    return str(tmp_path / "cli.db")


def wav(tmp_path: Path, name: str, f0: float, seconds: float, seed: int = 0) -> Path:
    path = tmp_path / name
    sf.write(path, voice(f0, seconds, seed=seed), RATE)
    return path


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def enrolled(tmp_path, db) -> None:
    files = [wav(tmp_path, f"p{i}.wav", 150, 2.0, seed=i) for i in range(3)]
    result = run("enroll", "alice", *files, "--phrase", PASSPORT, "--db", db)
    assert result.exit_code == 0, result.output


def test_phrases_lists_the_en_us_passphrases_and_refuses_other_locales():
    listed = run("phrases")
    assert listed.exit_code == 0 and listed.output.splitlines() == list(EN_US_PHRASES)
    assert json.loads(run("phrases", "--json").output) == list(EN_US_PHRASES)
    other = run("phrases", "--locale", "fr-fr")
    assert other.exit_code == ExitCode.DATA and "en-us" in other.output


def test_enroll_with_a_phrase_makes_a_text_dependent_profile_enrolled_at_three_clips(
    tmp_path, db, words
):
    files = [wav(tmp_path, f"p{i}.wav", 150, 2.0, seed=i) for i in range(3)]
    result = run("enroll", "alice", *files, "--phrase", PASSPORT, "--db", db)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].endswith("; 1 clip; 2 more passphrase clips needed [enrolling]")
    assert lines[1].endswith("; 2 clips; 1 more passphrase clip needed [enrolling]")
    assert lines[-1].endswith("; 3 clips; enrolled [enrolled]")


def test_profiles_show_json_of_a_text_dependent_profile_is_the_rest_apis_profile(
    tmp_path, db, words
):
    run("enroll", "alice", wav(tmp_path, "p0.wav", 150, 2.0), "--phrase", PASSPORT, "--db", db)
    shown = json.loads(run("profiles", "show", "alice", "--db", db, "--json").output)
    listed = json.loads(run("profiles", "list", "--db", db, "--json").output)
    with api_on_cli_database(db) as client:
        answered = client.get(f"/v1/profiles/{shown['id']}").json()
        page = client.get("/v1/profiles").json()["items"]
    assert shown == answered and listed == page
    assert shown["kind"] == "text-dependent" and shown["locale"] == "en-us"
    assert shown["passphrase"] == PASSPORT and shown["remaining_clips"] == 2
    assert shown["remaining_speech_seconds"] == 0.0  # enrolled by clips, not by seconds


def test_profiles_reset_json_of_a_text_dependent_profile_clears_its_passphrase_as_rest_does(
    tmp_path, db, words
):
    enrolled(tmp_path, db)
    reset = json.loads(run("profiles", "reset", "alice", "--yes", "--db", db, "--json").output)
    assert reset["status"] == "enrolling" and reset["clip_count"] == 0
    assert reset["passphrase"] is None and reset["remaining_clips"] == 3
    with api_on_cli_database(db) as client:
        assert client.get(f"/v1/profiles/{reset['id']}").json() == reset
    again = run("enroll", "alice", wav(tmp_path, "n.wav", 150, 2.5), "--phrase", NAME, "--db", db)
    assert again.exit_code == 0, again.output
    assert f'"{NAME}" said' in again.output


def test_profiles_show_prints_the_kind_and_a_text_dependent_profiles_passphrase(
    tmp_path, db, words
):
    enrolled(tmp_path, db)
    assert run("enroll", "tina", wav(tmp_path, "ti.wav", 150, 11.0), "--db", db).exit_code == 0
    alice = run("profiles", "show", "alice", "--db", db)
    assert alice.exit_code == 0
    assert "kind:          text-dependent" in alice.output.splitlines()
    assert f'passphrase:    "{PASSPORT}"' in alice.output.splitlines()
    assert "clips:         3" in alice.output.splitlines()
    tina = run("profiles", "show", "tina", "--db", db).output.splitlines()
    assert "kind:          text-independent" in tina
    assert not any(line.startswith("passphrase:") for line in tina)
    missing = run("profiles", "show", "nobody", "--db", db)
    assert missing.exit_code == ExitCode.PROFILE


def test_verifying_a_passphrase_profile_still_enrolling_says_how_many_clips_are_needed(
    tmp_path, db, words
):
    first = wav(tmp_path, "p0.wav", 150, 2.0)
    assert run("enroll", "half", first, "--phrase", PASSPORT, "--db", db).exit_code == 0
    result = run("verify", "half", wav(tmp_path, "probe.wav", 150, 2.0, seed=5), "--db", db)
    assert result.exit_code == ExitCode.PROFILE
    assert result.stderr.strip().splitlines() == [
        "error: profile 'half' is still enrolling: 2 more passphrase clips are needed"
    ]


def test_a_clip_with_another_phrase_fails_with_one_line_and_exit_3(tmp_path, db, words):
    enrolled(tmp_path, db)
    wrong = wav(tmp_path, "wrong.wav", 150, 2.5)
    result = run("enroll", "alice", wrong, "--db", db)
    assert result.exit_code == ExitCode.BAD_AUDIO
    assert result.output.startswith("error: Invalid passphrase")
    assert len(result.output.strip().splitlines()) == 1


def test_a_one_word_passphrase_fails_with_one_line_stating_the_minimum(tmp_path, db, words):
    clip = wav(tmp_path, "p.wav", 150, 2.0)
    result = run("enroll", "alice", clip, "--phrase", "hi", "--db", db)
    assert result.exit_code == ExitCode.DATA
    assert result.stderr.strip().splitlines() == [
        "error: a passphrase needs at least 3 words, 'hi' has 1; choose a listed phrase "
        "(voxprint phrases) or more words"
    ]
    assert "no profiles" in run("profiles", "list", "--db", db).output


def test_a_new_passphrase_profile_whose_first_clip_is_refused_keeps_no_phrase(tmp_path, db, words):
    says_name = wav(tmp_path, "name.wav", 150, 2.5)  # says NAME, not PASSPORT
    refused = run("enroll", "tdx", says_name, "--phrase", PASSPORT, "--db", db)
    assert refused.exit_code == ExitCode.BAD_AUDIO and "Nothing was stored" in refused.output
    assert "no profiles" in run("profiles", "list", "--db", db).output
    # So the user may start again with the phrase the clip does say.
    again = run("enroll", "tdx", says_name, "--phrase", NAME, "--db", db)
    assert again.exit_code == 0, again.output
    assert f'"{NAME}" said' in again.output


def test_verify_uses_the_profiles_kind_and_reports_the_phrase(tmp_path, db, words):
    enrolled(tmp_path, db)
    right = run("verify", "alice", wav(tmp_path, "v.wav", 150, 2.0, seed=8), "--db", db)
    assert right.exit_code == 0 and right.output.startswith("ACCEPT (match)")
    wrong = run("verify", "alice", wav(tmp_path, "w.wav", 150, 2.5, seed=8), "--db", db)
    assert wrong.exit_code == ExitCode.REJECTED and "wrong_phrase" in wrong.output
    data = json.loads(
        run("verify", "alice", wav(tmp_path, "x.wav", 230, 2.0), "--db", db, "--json").output
    )
    assert data["reason"] == "no_match" and data["phrase"]["accepted"] is True


def test_a_challenge_is_answered_once_from_the_command_line(tmp_path, db, words):
    speech = wav(tmp_path, "ti.wav", 150, 11.0)
    assert run("enroll", "tina", speech, "--db", db, "--enroll-seconds", 10).exit_code == 0
    made = json.loads(run("challenge", "--db", db, "--json").output)
    assert set(made["phrase"].split()) <= set(DIGITS)
    words.say(3.0, made["phrase"])
    answer = wav(tmp_path, "answer.wav", 150, 3.0, seed=3)
    first = run("verify", "tina", answer, "--challenge", made["id"], "--db", db)
    assert first.exit_code == 0, first.output
    again = run("verify", "tina", answer, "--challenge", made["id"], "--db", db)
    assert again.exit_code == ExitCode.DATA and "already used" in again.output


def test_a_phrase_for_an_existing_text_independent_profile_is_refused(tmp_path, db, words):
    assert run("enroll", "tina", wav(tmp_path, "ti.wav", 150, 11.0), "--db", db).exit_code == 0
    result = run(
        "enroll", "tina", wav(tmp_path, "p.wav", 150, 2.0), "--phrase", PASSPORT, "--db", db
    )
    assert result.exit_code == ExitCode.PROFILE and "text-independent" in result.output


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [("--length", "7", "4 to 6 words, not 7"), ("--ttl", "601", "at most 600 seconds")],
)
def test_a_challenge_out_of_the_policy_is_refused_with_the_same_words_as_the_api(
    db, option, value, says
):
    assert run("keys", "create", "--name", "k", "--db", db).exit_code == 0  # the database
    result = run("challenge", option, value, "--db", db)
    assert result.exit_code != 0 and says in result.output and "Traceback" not in result.output
