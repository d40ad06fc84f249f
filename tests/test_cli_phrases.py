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
    assert "2 more passphrase clips needed" in lines[0]
    assert lines[-1].endswith("enrolled [enrolled]")


def test_a_clip_with_another_phrase_fails_with_one_line_and_exit_3(tmp_path, db, words):
    enrolled(tmp_path, db)
    wrong = wav(tmp_path, "wrong.wav", 150, 2.5)
    result = run("enroll", "alice", wrong, "--db", db)
    assert result.exit_code == ExitCode.BAD_AUDIO
    assert result.output.startswith("error: Invalid passphrase")
    assert len(result.output.strip().splitlines()) == 1


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
