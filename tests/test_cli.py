"""The command line: every command with good and bad input, exit codes, one-line errors.

The models are replaced by the tone fakes so these run in seconds; the real
models are exercised end to end in ``test_integration_shared_data.py``.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from voxprint import bootstrap, operating_points
from voxprint.cli.app import app
from voxprint.cli.exit_codes import ExitCode
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig

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


@pytest.fixture()
def db(tmp_path):
    return str(tmp_path / "cli.db")


@pytest.fixture()
def speakers(tmp_path) -> Path:
    """A dataset folder: three speakers with three 8 s files each."""
    root = tmp_path / "speakers"
    for name, f0 in [("low", 110), ("mid", 170), ("high", 260)]:
        (root / name).mkdir(parents=True)
        for i in range(3):
            sf.write(root / name / f"{i}.wav", voice(f0, 8.0, seed=i), RATE)
    return root


def wav(tmp_path, name, f0, seconds=8.0, seed=0):
    path = tmp_path / name
    sf.write(path, voice(f0, seconds, seed=seed), RATE)
    return path


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_enroll_creates_the_profile_and_reports_progress_per_file(tmp_path, db):
    files = [wav(tmp_path, f"{i}.wav", 140, seed=i) for i in range(3)]
    result = run("enroll", "alice", *files, "--db", db)
    assert result.exit_code == 0, result.output
    every = result.output.strip().splitlines()
    quality = [line for line in every if line.startswith("  quality: ")]
    assert len(quality) == 3 and all("clipped 0.00 %" in line for line in quality)
    lines = [line for line in every if line not in quality]
    assert lines[0] == "0.wav: 8.0 s speech; total 8.0 s; 12.0 s more speech needed [enrolling]"
    assert lines[1].endswith("4.0 s more speech needed [enrolling]")
    assert lines[2] == "2.wav: 8.0 s speech; total 24.0 s; enrolled [enrolled]"


def test_the_enrolment_minimum_can_be_lowered(tmp_path, db):
    result = run(
        "enroll", "alice", wav(tmp_path, "a.wav", 140), "--db", db, "--enroll-seconds", "5"
    )
    assert result.exit_code == 0 and result.output.splitlines()[0].endswith("[enrolled]")


def test_enroll_json_gives_the_numbers(tmp_path, db):
    result = run("enroll", "alice", wav(tmp_path, "a.wav", 140), "--db", db, "--json")
    assert result.exit_code == 0
    (report,) = json.loads(result.output)
    assert report["status"] == "enrolling"
    assert report["remaining_speech_seconds"] == pytest.approx(12.0, abs=0.1)


def test_enroll_with_a_missing_or_broken_file_fails_with_one_line(tmp_path, db):
    missing = run("enroll", "alice", tmp_path / "nope.wav", "--db", db)
    assert missing.exit_code == ExitCode.BAD_AUDIO
    assert missing.output.count("\n") == 1 and missing.output.startswith("error: ")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"definitely not audio" * 10)
    broken = run("enroll", "alice", junk, "--db", db)
    assert broken.exit_code == ExitCode.BAD_AUDIO
    assert "Traceback" not in broken.output


def test_enroll_refuses_silence_and_short_speech_unless_forced(tmp_path, db):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(RATE * 2, dtype=np.float32), RATE)
    assert run("enroll", "alice", silent, "--db", db).exit_code == ExitCode.NOT_ENOUGH_SPEECH
    short = wav(tmp_path, "short.wav", 140, seconds=0.5)
    assert run("enroll", "alice", short, "--db", db).exit_code == ExitCode.NOT_ENOUGH_SPEECH
    assert run("enroll", "alice", short, "--db", db, "--force").exit_code == 0


def test_enroll_dir_enrols_one_profile_per_folder(speakers, db):
    result = run("enroll-dir", speakers, "--db", db, "--json")
    assert result.exit_code == 0, result.output
    reports = json.loads(result.output)
    assert sorted(r["name"] for r in reports) == ["high", "low", "mid"]
    assert all(r["status"] == "enrolled" for r in reports)


def test_enroll_dir_skips_bad_files_and_exits_with_their_code(speakers, db):
    (speakers / "low" / "bad.wav").write_bytes(b"garbage")
    result = run("enroll-dir", speakers, "--db", db)
    assert result.exit_code == ExitCode.BAD_AUDIO
    assert "skipped" in result.output and "bad.wav" in result.output
    listing = json.loads(run("profiles", "list", "--db", db, "--json").output)
    assert len(listing) == 3


def test_enroll_dir_without_the_quality_gate_embeds_in_batches_with_the_same_result(
    speakers, tmp_path, db
):
    (speakers / "mid" / "1-bad.wav").write_bytes(b"garbage")
    batched = run("enroll-dir", speakers, "--db", db, "--no-quality-gate", "--json")
    assert batched.exit_code == ExitCode.BAD_AUDIO
    assert "skipped" in batched.output and "1-bad.wav" in batched.output
    one_by_one_db = str(tmp_path / "one.db")
    run("enroll-dir", speakers, "--db", one_by_one_db)  # gated: service.enroll file by file
    for name in ("low", "mid", "high"):
        shown = [
            json.loads(run("profiles", "show", name, "--db", path, "--json").output)
            for path in (db, one_by_one_db)
        ]
        assert shown[0]["status"] == "enrolled"
        assert shown[0]["net_speech_seconds"] == pytest.approx(shown[1]["net_speech_seconds"])


def test_enroll_dir_on_a_folder_without_speakers_fails_clearly(tmp_path, db):
    (tmp_path / "empty").mkdir()
    result = run("enroll-dir", tmp_path / "empty", "--db", db)
    assert result.exit_code == ExitCode.DATA
    assert "no speaker sub-folders" in result.output


def test_verify_exits_zero_on_accept_and_one_on_reject(speakers, tmp_path, db):
    run("enroll-dir", speakers, "--db", db)
    accept = run("verify", "mid", wav(tmp_path, "m.wav", 170, seconds=3, seed=7), "--db", db)
    assert accept.exit_code == 0 and accept.output.startswith("ACCEPT: mid")
    reject = run(
        "verify", "mid", wav(tmp_path, "h.wav", 260, seconds=3, seed=7), "--db", db, "--json"
    )
    assert reject.exit_code == ExitCode.REJECTED
    assert json.loads(reject.output)["decision"] == "reject"


def test_verify_an_unknown_or_unfinished_profile_fails(tmp_path, db):
    probe = wav(tmp_path, "p.wav", 170, seconds=3)
    assert run("verify", "nobody", probe, "--db", db).exit_code == ExitCode.PROFILE
    run("enroll", "half", wav(tmp_path, "h.wav", 170, seconds=3), "--db", db)
    unfinished = run("verify", "half", probe, "--db", db)
    assert unfinished.exit_code == ExitCode.PROFILE and "still enrolling" in unfinished.output


def test_identify_names_the_speaker_or_says_unknown(speakers, tmp_path, db):
    run("enroll-dir", speakers, "--db", db)
    known = run("identify", wav(tmp_path, "k.wav", 260, seconds=3, seed=4), "--db", db, "--json")
    data = json.loads(known.output)
    assert known.exit_code == 0 and data["identified"]["name"] == "high" and not data["unknown"]
    stranger = run("identify", wav(tmp_path, "s.wav", 205, seconds=3, seed=4), "--db", db)
    assert stranger.exit_code == 0 and stranger.output.startswith("unknown speaker")
    among = run(
        "identify", wav(tmp_path, "k2.wav", 260, seconds=3), "--db", db, "--among", "low", "--json"
    )
    assert [c["name"] for c in json.loads(among.output)["candidates"]] == ["low"]
    assert (
        run("identify", wav(tmp_path, "k3.wav", 260), "--db", db, "--top", "0").exit_code
        == ExitCode.DATA
    )


def test_profiles_list_show_reset_and_delete(speakers, db):
    run("enroll-dir", speakers, "--db", db)
    listing = run("profiles", "list", "--db", db)
    assert listing.exit_code == 0 and len(listing.output.strip().splitlines()) == 3
    shown = json.loads(run("profiles", "show", "mid", "--db", db, "--json").output)
    assert shown["name"] == "mid" and shown["clip_count"] == 3 and shown["has_voiceprint"]
    reset = run("profiles", "reset", "mid", "--db", db, "--json")
    assert json.loads(reset.output)["status"] == "enrolling"
    deleted = run("profiles", "delete", "mid", "--db", db, "--yes")
    assert deleted.exit_code == 0 and deleted.output.startswith("deleted mid")
    assert run("profiles", "show", "mid", "--db", db).exit_code == ExitCode.PROFILE
    assert run("profiles", "delete", "mid", "--db", db, "--yes").exit_code == ExitCode.PROFILE


def test_profiles_delete_asks_first_and_keeps_the_profile_on_no(speakers, db):
    run("enroll-dir", speakers, "--db", db)
    result = runner.invoke(app, ["profiles", "delete", "low", "--db", db], input="n\n")
    assert result.exit_code == ExitCode.USAGE
    assert run("profiles", "show", "low", "--db", db).exit_code == 0


def test_activity_lists_what_happened(speakers, tmp_path, db):
    run("enroll-dir", speakers, "--db", db)
    run("identify", wav(tmp_path, "k.wav", 260, seconds=3), "--db", db)
    entries = json.loads(run("activity", "--db", db, "--json").output)
    assert entries[0]["action"] == "identify"


def test_eval_on_a_speaker_folder_reports_metrics_and_writes_a_det_plot(speakers, tmp_path):
    det = tmp_path / "det.png"
    result = run("eval", speakers, "--det", det, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["trials"] == 36 and report["target_trials"] == 9
    assert report["eer"] == 0.0 and report["top1_accuracy"] == 1.0
    assert report["real_time_factor"] > 0
    assert det.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_reads_a_trial_list(speakers, tmp_path):
    trials = tmp_path / "trials.txt"
    trials.write_text("1 low/0.wav low/1.wav\n0 low/0.wav high/1.wav\n0 mid/2.wav high/0.wav\n")
    result = run("eval", speakers, "--trials", trials, "--det", tmp_path / "d.png", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["trials"] == 3


def test_eval_rejects_bad_arguments(speakers, tmp_path):
    assert run("eval").exit_code == ExitCode.DATA
    assert run("eval", speakers, "--protocol", "test-other").exit_code == ExitCode.DATA
    assert run("eval", "--protocol", "no-such").exit_code == ExitCode.DATA
    bad = tmp_path / "bad.txt"
    bad.write_text("yes low/0.wav\n")
    assert run("eval", speakers, "--trials", bad).exit_code == ExitCode.DATA


def test_an_unknown_model_name_fails_with_the_model_exit_code(tmp_path, db, monkeypatch):
    monkeypatch.undo()  # real bootstrap: an unknown encoder name never loads weights
    result = run("profiles", "list", "--db", db, "--model", "whisper")
    assert result.exit_code == ExitCode.MODEL
    assert "campplus" in result.output


def test_version_and_help_work_without_a_database():
    assert run("--version").output.startswith("voxprint ")
    assert run("--help").exit_code == 0
    assert run("verify").exit_code == ExitCode.USAGE
