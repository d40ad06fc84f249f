"""``voxprint diarize`` end to end with the tone fakes: turns, talk time, files written,
JSON, enrolment from the result, and errors as exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from diarization_fakes import EnergySegmenter
from voxprint import bootstrap, operating_points
from voxprint.cli import diarize as diarize_command
from voxprint.cli.app import app
from voxprint.cli.exit_codes import ExitCode
from voxprint.diarization import SpeakerDiarizer
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig
from voxprint.store import SQLiteStore
from voxprint.store.records import PhraseProfile, ProfileKind

from fakes import RATE, TONE_PRIOR, EnergyVad, ToneEncoder, voice

runner = CliRunner()


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
    monkeypatch.setattr(
        diarize_command, "build_diarizer", lambda: SpeakerDiarizer(EnergySegmenter())
    )


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture()
def meeting(tmp_path):
    silence = np.zeros(RATE, dtype=np.float32)
    parts = []
    for i, f0 in enumerate([110, 260, 110, 260]):
        parts += [voice(f0, 5.0, seed=i), silence]
    path = tmp_path / "meeting.wav"
    sf.write(path, np.concatenate(parts), RATE)
    return path


def test_diarize_prints_turns_and_talk_time_and_writes_rttm_and_subtitles(tmp_path, meeting):
    db = tmp_path / "v.db"
    out = tmp_path / "out.rttm"
    result = run(
        "diarize",
        meeting,
        "--db",
        db,
        "--rttm",
        out,
        "--srt",
        tmp_path / "o.srt",
        "--vtt",
        tmp_path / "o.vtt",
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("2 speakers in 24.0 s")
    start, end, *label = lines[1].split()
    assert (float(start), float(end), label) == (
        0.0,
        pytest.approx(5.0, abs=0.05),
        ["unknown", "1"],
    )
    talk = next(line for line in lines if line.startswith("unknown 1 ") and "%" in line)
    assert float(talk.split()[2]) == pytest.approx(10.0, abs=0.2)
    rttm = out.read_text().splitlines()
    assert len(rttm) == 4 and rttm[0].split()[1] == "meeting"
    assert (tmp_path / "o.vtt").read_text().startswith("WEBVTT")
    assert (tmp_path / "o.srt").read_text().startswith("1\n00:00:00,000 --> ")


def test_label_a_meeting_once_then_get_names(tmp_path, meeting):
    db = tmp_path / "v.db"
    first = run(
        "diarize",
        meeting,
        "--db",
        db,
        "--enroll",
        "unknown 1=Alice",
        "--enroll",
        "unknown 2=Bob",
        "--enroll-seconds",
        "10",
    )
    assert first.exit_code == 0, first.output
    assert "unknown 1 -> Alice: 10.0 s speech" in first.output  # rounded down
    assert first.output.rstrip().endswith("enrolled [enrolled]")
    again = run("diarize", meeting, "--db", db, "--json", "--enroll-seconds", "10")
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert [s["speaker"] for s in data["speakers"]] == ["Alice", "Bob"]
    assert data["segments"][0]["profile_name"] == "Alice" and data["segments"][0]["score"] >= 0.7


def test_enrolling_a_speaker_into_a_passphrase_profile_fails_in_one_line_storing_nothing(
    tmp_path, meeting
):
    db = tmp_path / "v.db"
    made = run("diarize", meeting, "--db", db, "--enroll", "unknown 1=Alice")
    assert made.exit_code == 0, made.output
    store = SQLiteStore(db)
    alice = store.list_profiles("default")[0]
    store.set_phrase_profile(
        "default",
        PhraseProfile(alice.id, ProfileKind.TEXT_DEPENDENT, "en-us", "open the door now"),
    )
    refused = run("diarize", meeting, "--db", db, "--enroll", "unknown 2=Alice")
    assert refused.exit_code == ExitCode.PROFILE
    assert refused.stderr.strip().splitlines() == [
        "error: profile 'Alice' is text-dependent: it enrols only clips that say its "
        "passphrase, one by one; other speech cannot be added to it"
    ]
    assert store.get_profile("default", alice.id).clip_count == 1


def test_among_limits_the_names_and_no_names_numbers_speakers(tmp_path, meeting):
    db = tmp_path / "v.db"
    assert (
        run(
            "diarize",
            meeting,
            "--db",
            db,
            "--enroll",
            "unknown 1=Alice",
            "--enroll",
            "unknown 2=Bob",
            "--enroll-seconds",
            "10",
        ).exit_code
        == 0
    )
    limited = json.loads(run("diarize", meeting, "--db", db, "--json", "--among", "Bob").stdout)
    assert [s["speaker"] for s in limited["speakers"]] == ["unknown 1", "Bob"]
    plain = json.loads(run("diarize", meeting, "--db", db, "--json", "--no-names").stdout)
    assert [s["speaker"] for s in plain["speakers"]] == ["speaker 1", "speaker 2"]


def test_a_fixed_speaker_count_is_obeyed(tmp_path, meeting):
    result = run("diarize", meeting, "--db", tmp_path / "v.db", "--json", "--num-speakers", "1")
    assert json.loads(result.stdout)["speaker_count"] == 1


def test_fewer_speakers_than_asked_for_are_said_in_one_line_and_carried_in_the_json(
    tmp_path, meeting
):
    """Found in a walkthrough: --num-speakers 50 on an AMI clip found 24, saying nothing."""
    db = tmp_path / "v.db"
    data = json.loads(run("diarize", meeting, "--db", db, "--json", "--num-speakers", "20").stdout)
    found = data["speaker_count"]
    assert 1 <= found < 20 and data["speakers_missing"] == 20 - found
    assert data["requested_speakers"]["num_speakers"] == 20
    result = run("diarize", meeting, "--db", db, "--num-speakers", "20")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        f"fewer speakers than asked: {found} found, --num-speakers asked for 20; no more "
        "voices could be told apart in this recording"
    )
    met = run("diarize", meeting, "--db", db, "--num-speakers", "2")
    assert "fewer speakers" not in met.stdout


def test_an_unknown_speaker_is_never_shown_at_a_posterior_that_names_someone(tmp_path):
    """Found in a walkthrough: "unknown 14 ... closest: MEE012 at 1.00" where MEE012 named
    another speaker and the fixed count kept the two apart."""
    silence = np.zeros(RATE, dtype=np.float32)
    one_voice = tmp_path / "one.wav"
    sf.write(
        one_voice,
        np.concatenate([part for i in range(3) for part in (voice(110, 4.0, seed=i), silence)]),
        RATE,
    )
    db = tmp_path / "v.db"
    enough = ("--enroll-seconds", "10")
    made = run("diarize", one_voice, "--db", db, "--enroll", "unknown 1=Alice", *enough)
    assert made.exit_code == 0, made.output
    result = run("diarize", one_voice, "--db", db, "--num-speakers", "2", *enough)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("unknown 1 "))
    assert "also sounds like Alice, who is named for another speaker here" in line
    assert " at " not in line and "1.00" not in line
    data = json.loads(
        run("diarize", one_voice, "--db", db, "--num-speakers", "2", "--json", *enough).stdout
    )
    unknown = next(s for s in data["speakers"] if s["unknown"])
    assert unknown["score"] is None and unknown["unknown_probability"] is None
    assert unknown["unknown_reason"] == "profile_named_elsewhere"
    assert unknown["best_candidate"]["profile_name"] == "Alice"


def test_a_bad_enroll_option_and_a_missing_file_fail_with_their_exit_codes(tmp_path, meeting):
    bad = run("diarize", meeting, "--db", tmp_path / "v.db", "--enroll", "Alice")
    assert bad.exit_code == ExitCode.DATA and "SPEAKER=PROFILE" in bad.output
    missing = run("diarize", tmp_path / "nope.wav", "--db", tmp_path / "v.db")
    assert missing.exit_code == ExitCode.BAD_AUDIO


def test_output_files_that_cannot_be_written_fail_before_any_diarization(
    tmp_path, meeting, monkeypatch
):
    calls = []
    monkeypatch.setattr(
        diarize_command, "build_diarizer", lambda: calls.append(1) or SpeakerDiarizer()
    )
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for option, path in (("--vtt", tmp_path), ("--rttm", blocker / "out.rttm")):
        result = run("diarize", meeting, "--db", tmp_path / "v.db", option, path)
        assert result.exit_code == ExitCode.DATA, result.output
        assert result.output.count("\n") == 1 and str(path) in result.output
    assert calls == []  # refused before the models were even built


def test_output_folders_that_do_not_exist_yet_are_made(tmp_path, meeting):
    out = tmp_path / "new" / "deeper" / "out.rttm"
    result = run("diarize", meeting, "--db", tmp_path / "v.db", "--rttm", out)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("SPEAKER meeting 1 ")


def test_a_failed_run_leaves_no_output_folders_behind(tmp_path):
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(5 * RATE, dtype=np.float32), RATE)
    out = tmp_path / "new" / "out.rttm"
    result = run("diarize", path, "--db", tmp_path / "v.db", "--rttm", out)
    assert result.exit_code == ExitCode.NOT_ENOUGH_SPEECH
    assert not (tmp_path / "new").exists()


def test_silence_is_an_answer_not_a_crash(tmp_path):
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(5 * RATE, dtype=np.float32), RATE)
    result = run("diarize", path, "--db", tmp_path / "v.db")
    assert result.exit_code == ExitCode.NOT_ENOUGH_SPEECH
    assert "no speaker" in result.output


def test_without_a_database_speakers_are_diarized_unnamed_and_no_database_is_made(
    tmp_path, meeting
):
    db = tmp_path / "absent.db"
    result = run("diarize", meeting, "--db", db, "--json")
    assert result.exit_code == 0, result.output
    assert "no database at" in result.stderr and "not named" in result.stderr
    speakers = json.loads(result.stdout)["speakers"]
    assert len(speakers) == 2 and not db.exists()
