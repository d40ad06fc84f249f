"""The command line: every command with good and bad input, exit codes, one-line errors.

The models are replaced by the tone fakes so these run in seconds; the real
models are exercised end to end in ``test_integration_shared_data.py``.
"""

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from voxprint import bootstrap, operating_points
from voxprint.cli import common, render
from voxprint.cli.app import app
from voxprint.cli.exit_codes import ExitCode
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig

from apihelp import api_on_cli_database
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


def test_enroll_stopped_by_a_bad_file_names_it_and_the_files_it_did_not_try(tmp_path, db):
    first, last = wav(tmp_path, "a.wav", 140, seed=1), wav(tmp_path, "c.wav", 140, seed=3)
    broken = tmp_path / "b.wav"
    broken.write_bytes(b"definitely not audio" * 10)
    result = run("enroll", "alice", first, broken, last, "--db", db)
    assert result.exit_code == ExitCode.BAD_AUDIO
    assert result.output.startswith("a.wav: ")  # the first file was stored
    assert "error: b.wav (1 later file not enrolled): " in result.output
    shown = json.loads(run("profiles", "show", "alice", "--db", db, "--json").output)
    assert shown["clip_count"] == 1


def test_enroll_refused_for_its_profile_does_not_blame_a_file(tmp_path, db):
    first = wav(tmp_path, "a.wav", 140, seed=1)
    assert run("enroll", "alice", first, "--external-id", "u1", "--db", db).exit_code == 0
    second, third = wav(tmp_path, "b.wav", 140, seed=2), wav(tmp_path, "c.wav", 140, seed=3)
    result = run("enroll", "alice", second, third, "--external-id", "u2", "--db", db)
    assert result.exit_code != 0
    assert result.output.startswith("error: profile 'alice'")  # not "error: b.wav ..."


def test_a_missing_file_is_refused_before_anything_is_enrolled_or_created(tmp_path):
    """Found in a walkthrough: a mistyped file name still created the database."""
    fresh = tmp_path / "fresh.db"
    good = wav(tmp_path, "a.wav", 140)
    result = run("enroll", "alice", good, tmp_path / "nope.wav", "--db", fresh)
    assert result.exit_code == ExitCode.BAD_AUDIO
    assert result.output.count("\n") == 1 and "nope.wav; nothing was enrolled" in result.output
    assert not fresh.exists()


def test_enroll_with_a_missing_or_broken_file_fails_with_one_line(tmp_path, db):
    missing = run("enroll", "alice", tmp_path / "nope.wav", "--db", db)
    assert missing.exit_code == ExitCode.BAD_AUDIO
    assert missing.output.count("\n") == 1 and missing.output.startswith("error: ")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"definitely not audio" * 10)
    broken = run("enroll", "alice", junk, "--db", db)
    assert broken.exit_code == ExitCode.BAD_AUDIO
    assert "Traceback" not in broken.output


def test_a_failed_first_enrolment_leaves_nothing_in_the_activity_log(tmp_path, db):
    """Found in a review: a broken first file logged the create and the delete of a
    profile the user never saw."""
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"definitely not audio" * 10)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(3 * RATE, dtype=np.float32), RATE)
    assert run("enroll", "alice", junk, "--db", db).exit_code == ExitCode.BAD_AUDIO
    assert run("enroll", "bob", silent, "--db", db).exit_code == ExitCode.NOT_ENOUGH_SPEECH
    assert json.loads(run("activity", "--db", db, "--json").stdout) == []
    assert "no profiles" in run("profiles", "list", "--db", db).output


def test_a_truncated_flac_is_refused_in_one_line(tmp_path, db, caplog):
    """Found in a review: a decoder warning (logged to stderr) came before the error."""
    whole = tmp_path / "whole.flac"
    sf.write(whole, voice(140, 8.0), RATE, format="FLAC")
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with caplog.at_level("WARNING"):  # what the CLI's stderr shows without -v
        result = run("enroll", "alice", cut, "--db", db)
    assert not caplog.records
    assert result.exit_code == ExitCode.BAD_AUDIO
    assert result.stderr.splitlines() == [
        "error: could not decode audio: it ends after 3.84 s of the 8.00 s its "
        "header declares (truncated file?)"
    ]


def test_a_first_clip_refused_by_the_quality_gate_leaves_nothing_in_the_activity_log(tmp_path, db):
    clipped = tmp_path / "loud.wav"
    sf.write(clipped, np.clip(voice(140, 8.0) * 20, -1, 1), RATE)
    result = run("enroll", "alice", clipped, "--db", db)
    assert result.exit_code == ExitCode.BAD_AUDIO and "clipped" in result.output
    assert json.loads(run("activity", "--db", db, "--json").stdout) == []
    assert "no profiles" in run("profiles", "list", "--db", db).output


def test_a_new_profile_whose_first_clip_fails_is_not_left_behind(tmp_path, db):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(3 * RATE, dtype=np.float32), RATE)
    assert run("enroll", "alice", silent, "--db", db).exit_code == ExitCode.NOT_ENOUGH_SPEECH
    assert "no profiles" in run("profiles", "list", "--db", db).output
    good = wav(tmp_path, "a.wav", 140)
    # A clip stored before the failure keeps its profile (and the failure is still one line).
    partly = run("enroll", "alice", good, silent, "--db", db)
    assert partly.exit_code == ExitCode.NOT_ENOUGH_SPEECH and partly.output.startswith("a.wav: ")
    # An existing profile is never removed by a failing clip.
    assert run("enroll", "alice", silent, "--db", db).exit_code == ExitCode.NOT_ENOUGH_SPEECH
    (alice,) = json.loads(run("profiles", "list", "--db", db, "--json").output)
    assert alice["name"] == "alice" and alice["clip_count"] == 1


def test_enroll_dir_makes_no_profile_for_a_folder_whose_files_all_fail(speakers, db):
    bad = speakers / "bad"
    bad.mkdir()
    (bad / "0.wav").write_bytes(b"not audio at all" * 20)
    result = run("enroll-dir", speakers, "--db", db)
    assert result.exit_code == ExitCode.BAD_AUDIO
    assert "bad: no profile made: none of its files could be enrolled" in result.output
    listed = json.loads(run("profiles", "list", "--db", db, "--json").output)
    assert sorted(p["name"] for p in listed) == ["high", "low", "mid"]
    again = json.loads(run("enroll-dir", speakers, "--db", db, "--json").stdout)
    (report,) = [r for r in again if r["profile_name"] == "bad"]
    assert report["profile_id"] is None and report["status"] is None
    assert [s["file"] for s in report["skipped"]] == [str(bad / "0.wav")]


def test_enroll_dir_makes_no_profile_when_the_quality_gate_refuses_every_clip(tmp_path, db):
    loud = tmp_path / "speakers" / "loud"
    loud.mkdir(parents=True)
    sf.write(loud / "0.wav", np.clip(voice(140, 8.0) * 20, -1, 1), RATE)  # clipped: refused
    result = run("enroll-dir", tmp_path / "speakers", "--db", db)
    assert result.exit_code == ExitCode.BAD_AUDIO and "clipped" in result.output
    assert "loud: no profile made" in result.output
    assert json.loads(run("profiles", "list", "--db", db, "--json").output) == []


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
    assert sorted(r["profile_name"] for r in reports) == ["high", "low", "mid"]
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
    assert accept.exit_code == 0 and accept.output.startswith("ACCEPT (match): mid")
    reject = run(
        "verify", "mid", wav(tmp_path, "h.wav", 260, seconds=3, seed=7), "--db", db, "--json"
    )
    assert reject.exit_code == ExitCode.REJECTED
    assert json.loads(reject.output)["decision"] == "reject"


def test_plain_verify_prints_the_reason_code_json_gives(speakers, tmp_path, db):
    run("enroll-dir", speakers, "--db", db)
    probe = wav(tmp_path, "h.wav", 260, seconds=3, seed=7)
    plain = run("verify", "mid", probe, "--db", db)
    reason = json.loads(run("verify", "mid", probe, "--db", db, "--json").output)["reason"]
    assert reason == "no_match"
    assert plain.exit_code == ExitCode.REJECTED
    assert plain.output.startswith("REJECT (no_match): mid")


def test_verify_says_when_another_enrolled_voice_is_as_close_as_the_claimed_one(tmp_path, db):
    run("enroll", "older", wav(tmp_path, "o.wav", 150, seconds=21, seed=1), "--db", db)
    run("enroll", "younger", wav(tmp_path, "y.wav", 155, seconds=21, seed=2), "--db", db)
    claim = run("verify", "older", wav(tmp_path, "p.wav", 155, seconds=4, seed=7), "--db", db)
    assert claim.exit_code == ExitCode.REJECTED
    assert claim.output.startswith("REJECT (look_alike): older")
    assert "closer to another enrolled profile, younger (cosine" in claim.output
    assert "voxprint profiles similar older" in claim.output
    assert "then merge them: voxprint profiles merge older younger" in claim.output
    shown = json.loads(
        run(
            "verify", "older", wav(tmp_path, "q.wav", 155, seconds=4, seed=7), "--db", db, "--json"
        ).output
    )
    assert shown["look_alike"]["profile_name"] == "younger" and shown["reason"] == "look_alike"


def test_verify_an_unknown_or_unfinished_profile_fails(tmp_path, db):
    probe = wav(tmp_path, "p.wav", 170, seconds=3)
    run("enroll", "half", wav(tmp_path, "h.wav", 170, seconds=3), "--db", db)
    assert run("verify", "nobody", probe, "--db", db).exit_code == ExitCode.PROFILE
    unfinished = run("verify", "half", probe, "--db", db)
    assert unfinished.exit_code == ExitCode.PROFILE and "still enrolling" in unfinished.output


def test_identify_names_the_speaker_or_says_unknown(speakers, tmp_path, db):
    run("enroll-dir", speakers, "--db", db)
    known = run("identify", wav(tmp_path, "k.wav", 260, seconds=3, seed=4), "--db", db, "--json")
    data = json.loads(known.output)
    assert (
        known.exit_code == 0
        and data["identified"]["profile_name"] == "high"
        and not data["unknown"]
    )
    stranger = run("identify", wav(tmp_path, "s.wav", 205, seconds=3, seed=4), "--db", db)
    assert stranger.exit_code == 0 and stranger.output.startswith("unknown speaker")
    among = run(
        "identify", wav(tmp_path, "k2.wav", 260, seconds=3), "--db", db, "--among", "low", "--json"
    )
    assert [c["profile_name"] for c in json.loads(among.output)["candidates"]] == ["low"]
    assert (
        run("identify", wav(tmp_path, "k3.wav", 260), "--db", db, "--top", "0").exit_code
        == ExitCode.USAGE
    )


def test_identify_between_two_profiles_of_one_voice_says_so_not_stranger(tmp_path, db):
    for name, seed in (("twin-a", 1), ("twin-b", 2)):
        files = [wav(tmp_path, f"{name}{i}.wav", 170, seed=seed * 10 + i) for i in range(3)]
        assert run("enroll", name, *files, "--db", db).exit_code == 0
    result = run("identify", wav(tmp_path, "probe.wav", 170, seconds=3, seed=99), "--db", db)
    assert result.exit_code == 0, result.output
    head = result.output.splitlines()[0]
    assert head.startswith("not decided: enrolled, but between")
    assert "'twin-a'" in head and "'twin-b'" in head


def test_profiles_list_show_reset_and_delete(speakers, db):
    run("enroll-dir", speakers, "--db", db)
    listing = run("profiles", "list", "--db", db)
    assert listing.exit_code == 0 and len(listing.output.strip().splitlines()) == 3
    shown = json.loads(run("profiles", "show", "mid", "--db", db, "--json").output)
    assert shown["name"] == "mid" and shown["clip_count"] == 3 and shown["status"] == "enrolled"
    reset = run("profiles", "reset", "mid", "--db", db, "--yes", "--json")
    assert json.loads(reset.output)["status"] == "enrolling"
    deleted = run("profiles", "delete", "mid", "--db", db, "--yes")
    assert deleted.exit_code == 0 and deleted.output.startswith("deleted mid")
    assert run("profiles", "show", "mid", "--db", db).exit_code == ExitCode.PROFILE
    assert run("profiles", "delete", "mid", "--db", db, "--yes").exit_code == ExitCode.PROFILE


def test_profiles_merge_makes_one_profile_of_a_voice_enrolled_twice(tmp_path, db):
    run("enroll", "alice", wav(tmp_path, "a.wav", 150, seconds=21, seed=1), "--db", db)
    run("enroll", "alice 2", wav(tmp_path, "b.wav", 150, seconds=21, seed=2), "--db", db)
    run("enroll", "bob", wav(tmp_path, "c.wav", 260, seconds=21, seed=3), "--db", db)
    probe = wav(tmp_path, "p.wav", 150, seconds=4, seed=7)
    refused = run("verify", "alice", probe, "--db", db)
    assert refused.exit_code == ExitCode.REJECTED, refused.output
    assert "voxprint profiles merge alice 'alice 2'" in refused.output

    merged = run("profiles", "merge", "alice", "alice 2", "--db", db, "--yes")

    assert merged.exit_code == 0, merged.output
    (line,) = merged.output.splitlines()
    assert line.startswith("merged alice 2 (") and " into alice (" in line
    assert re.search(
        r": 1 clip moved; now 4\d\.\d s of speech in 2 clips \[enrolled\]; alice 2 deleted$", line
    )
    assert run("profiles", "show", "alice 2", "--db", db).exit_code == ExitCode.PROFILE
    assert run("verify", "alice", probe, "--db", db).exit_code == 0


def test_profiles_merge_json_is_the_rest_apis_merge_answer(tmp_path, db):
    run("enroll", "alice", wav(tmp_path, "a.wav", 150, seconds=12, seed=1), "--db", db)
    run("enroll", "alice 2", wav(tmp_path, "b.wav", 150, seconds=12, seed=2), "--db", db)
    twin = json.loads(run("profiles", "show", "alice 2", "--db", db, "--json").output)
    result = run("profiles", "merge", "alice", "alice 2", "--db", db, "--yes", "--json")
    assert result.exit_code == 0, result.output
    merged = json.loads(result.output)
    assert (merged["removed_profile_id"], merged["removed_profile_name"]) == (twin["id"], "alice 2")
    assert (merged["clips_moved"], merged["duplicate_clips"]) == (1, 0)
    with api_on_cli_database(db) as client:
        stored = client.get(f"/v1/profiles/{merged['profile']['id']}").json()
    assert {k: stored[k] for k in merged["profile"]} == merged["profile"]


@pytest.mark.parametrize(
    ("names", "code", "message"),
    [
        (("alice", "nobody"), ExitCode.PROFILE, "error: no profile with id, external id or name"),
        (("nobody", "alice"), ExitCode.PROFILE, "error: no profile with id, external id or name"),
        (("alice", "alice"), ExitCode.DATA, "error: cannot merge profile "),
    ],
)
def test_profiles_merge_refused_is_one_line_and_its_exit_code(tmp_path, db, names, code, message):
    run("enroll", "alice", wav(tmp_path, "a.wav", 150, seconds=12, seed=1), "--db", db)
    result = run("profiles", "merge", *names, "--db", db, "--yes")
    assert result.exit_code == code
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(message)
    shown = json.loads(run("profiles", "show", "alice", "--db", db, "--json").output)
    assert shown["clip_count"] == 1


def test_profiles_merge_of_two_voices_needs_force(tmp_path, db):
    run("enroll", "alice", wav(tmp_path, "a.wav", 150, seconds=21, seed=1), "--db", db)
    run("enroll", "bob", wav(tmp_path, "c.wav", 260, seconds=21, seed=3), "--db", db)
    refused = run("profiles", "merge", "alice", "bob", "--db", db, "--yes")
    assert refused.exit_code == ExitCode.PROFILE
    (line,) = refused.stderr.strip().splitlines()
    assert "do not sound like one voice" in line and "--force" in line
    forced = run("profiles", "merge", "alice", "bob", "--db", db, "--yes", "--force")
    assert forced.exit_code == 0, forced.output


#: How the REST API's pydantic models write a time: full precision, ``Z`` for UTC.
API_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z")


def test_thresholds_show_json_is_the_rest_apis_thresholds_object(speakers, db):
    run("enroll-dir", speakers, "--db", db)  # three enrolled profiles: adapted thresholds
    shown = json.loads(run("thresholds", "show", "--db", db, "--json").output)
    with api_on_cli_database(db) as client:
        answered = client.get("/v1/thresholds").json()
    assert shown == answered
    assert shown["encoder_name"] == "tone" and "encoder" not in shown
    assert shown["source"]["kind"] == "adapted"
    assert API_TIME.fullmatch(shown["source"]["updated_at"])
    assert API_TIME.fullmatch(shown["statistics"]["updated_at"])
    assert shown["text_dependent"]["source"]["kind"] == "adapted"
    assert shown["text_dependent"]["text_dependent"] is None
    text = run("thresholds", "show", "--db", db).output
    assert "other enrolled profiles, which together weigh as much as a stranger" in text
    assert "passphrase claims (text-dependent profiles), the voice part:\n  source: adapted" in text


def test_profiles_show_and_list_json_are_the_rest_apis_profile_objects(speakers, tmp_path, db):
    run("enroll-dir", speakers, "--db", db)
    run("enroll", "short", wav(tmp_path, "s.wav", 200, seconds=4), "--db", db)
    shown = {
        name: json.loads(run("profiles", "show", name, "--db", db, "--json").output)
        for name in ("mid", "short")
    }
    listed = json.loads(run("profiles", "list", "--db", db, "--json").output)
    with api_on_cli_database(db) as client:
        answered = {name: client.get(f"/v1/profiles/{p['id']}").json() for name, p in shown.items()}
        page = client.get("/v1/profiles").json()["items"]
    assert shown == answered
    assert listed == page
    short = shown["short"]
    assert short["kind"] == "text-independent" and short["remaining_speech_seconds"] > 0
    assert short["locale"] is short["passphrase"] is short["remaining_clips"] is None
    assert API_TIME.fullmatch(short["created_at"]) and API_TIME.fullmatch(short["updated_at"])


def test_enroll_and_verify_json_have_every_field_of_the_rest_answers(tmp_path, db):
    enrolled = json.loads(
        run("enroll", "alice", wav(tmp_path, "a.wav", 140, seconds=24), "--db", db, "--json").output
    )[0]
    assert enrolled["status"] == "enrolled"
    probe = wav(tmp_path, "p.wav", 140, seconds=3, seed=5)
    verified = json.loads(run("verify", "alice", probe, "--db", db, "--json").output)
    with api_on_cli_database(db) as client:
        created = client.post("/v1/profiles", json={"name": "bob"}).json()
        answered = client.post(
            f"/v1/profiles/{created['id']}/enrollments",
            content=wav(tmp_path, "b.wav", 230, seconds=24, seed=2).read_bytes(),
            headers={"Content-Type": "audio/wav"},
        ).json()
        checked = client.post(
            f"/v1/profiles/{enrolled['profile_id']}/verify",
            content=probe.read_bytes(),
            headers={"Content-Type": "audio/wav"},
        ).json()
    assert list(enrolled) == list(answered)
    assert list(enrolled["profile"]) == list(answered["profile"])
    assert enrolled["phrase"] is enrolled["passphrase"] is enrolled["remaining_clips"] is None
    assert verified["decision"] == checked["decision"] == "accept"
    assert list(verified) == list(checked)
    assert verified["voice_decision"] is verified["phrase"] is verified["challenge_id"] is None


def test_json_times_are_written_as_the_rest_api_writes_them(db):
    precise = datetime(2025, 1, 2, 5, 20, 10, 147486, tzinfo=UTC)
    assert render.to_jsonable({"at": precise}) == {"at": "2025-01-02T05:20:10.147486Z"}
    assert render.to_jsonable(precise.replace(microsecond=0)) == "2025-01-02T05:20:10Z"
    created = json.loads(run("keys", "create", "--name", "app", "--db", db, "--json").output)
    assert API_TIME.fullmatch(created["created_at"]) and created["revoked_at"] is None


def test_profile_lines_say_clip_for_one_clip(tmp_path, db):
    run("enroll", "solo", wav(tmp_path, "a.wav", 140, seconds=4), "--db", db)
    (line,) = run("profiles", "list", "--db", db).output.strip().splitlines()
    assert "  1 clip " in line and "clips" not in line


@pytest.fixture()
def terminal(monkeypatch):
    """Commands see a terminal on stdin (CliRunner's input is a pipe otherwise)."""
    monkeypatch.setattr(common, "stdin_is_terminal", lambda: True)


@pytest.mark.parametrize("command", ["delete", "reset"])
def test_answering_no_changes_nothing_and_exits_with_the_cancelled_code(
    speakers, db, terminal, command
):
    run("enroll-dir", speakers, "--db", db)
    result = runner.invoke(app, ["profiles", command, "low", "--db", db], input="n\n")
    assert result.exit_code == ExitCode.CANCELLED == 8
    refused = {"delete": "not deleted", "reset": "not reset"}[command]
    assert result.stderr.strip().endswith(f"error: {refused}: cancelled")
    shown = json.loads(run("profiles", "show", "low", "--db", db, "--json").output)
    assert shown["clip_count"] == 3
    yes = runner.invoke(app, ["profiles", command, "low", "--db", db], input="y\n")
    assert yes.exit_code == 0, yes.output
    after = run("profiles", "show", "low", "--db", db, "--json")
    assert (
        (after.exit_code == ExitCode.PROFILE)
        if command == "delete"
        else (json.loads(after.output)["clip_count"] == 0)
    )


@pytest.mark.parametrize(
    "command",
    [
        ("profiles", "delete", "low"),
        ("profiles", "reset", "low"),
        ("profiles", "merge", "low", "mid", "--force"),
        ("cohort", "delete"),
    ],
)
def test_without_a_terminal_confirmations_need_yes_and_change_nothing(speakers, db, command):
    run("enroll-dir", speakers, "--db", db)
    result = runner.invoke(app, [*command, "--db", db])  # stdin is a pipe, at its end
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: not ") and line.endswith("add --yes")
    assert (
        json.loads(run("profiles", "show", "low", "--db", db, "--json").output)["clip_count"] == 3
    )


def test_activity_lists_what_happened(speakers, tmp_path, db):
    run("enroll-dir", speakers, "--db", db)
    run("identify", wav(tmp_path, "k.wav", 260, seconds=3), "--db", db)
    entries = json.loads(run("activity", "--db", db, "--json").output)
    assert entries[0]["action"] == "identify"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("identify", "PROBE", "--top", "0"), "--top"),
        (("activity", "--limit", "0"), "--limit"),
        (("activity", "--offset", "-1"), "--offset"),
        (("profiles", "list", "--limit", "-1"), "--limit"),
        (("profiles", "list", "--offset", "-5"), "--offset"),
        (("activity", "--limit", "1000000001"), "--limit"),
        (("activity", "--offset", str(10**20)), "--offset"),
        (("activity", "--before-id", "0"), "--before-id"),
        (("activity", "--before-id", str(2**63)), "--before-id"),
        (("profiles", "list", "--limit", "2000000000"), "--limit"),
        (("profiles", "list", "--offset", "1000000001"), "--offset"),
    ],
)
def test_a_count_option_out_of_range_is_a_usage_error_naming_the_option(tmp_path, db, args, option):
    """Found in a walkthrough: `identify --top 0` said "top_n must be at least 1" and
    `activity --limit 0` "limit must be 1 to ...", both with the data exit code 7; and in
    a review, `--limit`/`--offset` above 10^9 (what a store counts) still did."""
    probe = wav(tmp_path, "p.wav", 140)
    assert run("enroll", "alice", probe, "--db", db).exit_code == 0
    result = run(*[probe if a == "PROBE" else a for a in args], "--db", db)
    assert result.exit_code == ExitCode.USAGE
    assert f"Invalid value for '{option}'" in result.output


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
    run("keys", "create", "--name", "k", "--db", db)  # the database exists
    result = run("profiles", "list", "--db", db, "--model", "whisper")
    assert result.exit_code == ExitCode.MODEL
    assert "campplus" in result.output


def test_version_and_help_work_without_a_database():
    assert run("--version").output.startswith("voxprint ")
    assert run("--help").exit_code == 0
    assert run("verify").exit_code == ExitCode.USAGE


# --- enroll-dir: no silent re-adds, every clip in the summary ----------------------------


def clip_counts(db) -> dict[str, int]:
    listing = json.loads(run("profiles", "list", "--db", db, "--json").stdout)
    return {p["name"]: p["clip_count"] for p in listing}


def test_enroll_dir_again_skips_the_clips_a_profile_has_and_enrols_only_new_files(speakers, db):
    assert run("enroll-dir", speakers, "--db", db).exit_code == 0
    again = run("enroll-dir", speakers, "--db", db)
    assert again.exit_code == 0, again.output
    assert clip_counts(db) == {"low": 3, "mid": 3, "high": 3}
    warnings = again.stderr.strip().splitlines()
    assert len(warnings) == 9
    assert all("already has" in w and "--reenroll" in w for w in warnings)
    assert "low: 0 clips added" in again.stdout
    sf.write(speakers / "low" / "3.wav", voice(110, 8.0, seed=3), RATE)
    more = run("enroll-dir", speakers, "--db", db, "--json")
    assert clip_counts(db) == {"low": 4, "mid": 3, "high": 3}
    (low,) = [s for s in json.loads(more.stdout) if s["profile_name"] == "low"]
    assert [c["label"] for c in low["clips"]] == ["3.wav"]
    assert [s["code"] for s in low["skipped"]] == ["already_enrolled"] * 3


def test_reenroll_enrols_re_recorded_files_but_never_stores_the_same_audio_twice(speakers, db):
    run("enroll-dir", speakers, "--db", db)
    sf.write(speakers / "low" / "0.wav", voice(110, 8.0, seed=42), RATE)  # re-recorded
    again = run("enroll-dir", speakers, "--db", db, "--reenroll", "--no-quality-gate")
    assert again.exit_code == 0, again.output
    assert again.stderr.count("already has this audio") == 8
    assert clip_counts(db) == {"low": 4, "mid": 3, "high": 3}


def test_enroll_dir_recognises_files_in_nested_folders_by_their_path(speakers, db):
    nested = speakers / "low" / "day2"
    nested.mkdir()
    sf.write(nested / "0.wav", voice(110, 8.0, seed=9), RATE)  # same name, another file
    first = json.loads(run("enroll-dir", speakers, "--db", db, "--json").stdout)
    (low,) = [s for s in first if s["profile_name"] == "low"]
    assert [c["label"] for c in low["clips"]] == ["0.wav", "1.wav", "2.wav", "day2/0.wav"]


def test_the_enroll_dir_summary_lists_every_clip_of_every_speaker(speakers, db):
    (speakers / "mid" / "bad.wav").write_bytes(b"garbage")
    result = run("enroll-dir", speakers, "--db", db)
    lines = result.stdout.splitlines()
    head = lines.index(next(line for line in lines if line.startswith("mid: ")))
    assert lines[head].startswith("mid: 3 clips added (24.0 s speech); total 24.0 s of speech")
    assert lines[head].endswith("enrolled [enrolled]")
    assert [line.split(":")[0] for line in lines[head + 1 : head + 5]] == [
        "  0.wav",
        "  1.wav",
        "  2.wav",
        "  skipped bad.wav",
    ]
    reports = json.loads(run("enroll-dir", speakers, "--db", db, "--reenroll", "--json").stdout)
    assert all(not r["clips"] for r in reports)
    skipped = [s for r in reports for s in r["skipped"] if not s["file"].endswith("bad.wav")]
    assert len(skipped) == 9 and {s["code"] for s in skipped} == {"duplicate_clip"}


ENROLL_DIR_IN_A_TERMINAL = """
import sys
sys.path.insert(0, {tests!r})
from fakes import TONE_PRIOR, EnergyVad, ToneEncoder
from voxprint import bootstrap, operating_points
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig

bootstrap.build_pipeline = lambda options: EmbeddingPipeline(
    ToneEncoder(), config=PipelineConfig(min_speech_seconds=1.0), vad=EnergyVad()
)
operating_points.DEFAULT_PRIORS["tone"] = TONE_PRIOR
from voxprint.cli.app import main
sys.argv = ["voxprint", "enroll-dir", {folder!r}, "--db", {db!r}]
main()
"""


def test_in_a_terminal_the_summary_is_never_glued_to_the_progress_bar(speakers, db):
    """Both streams on one pseudo-terminal, as in a shell: every summary line starts a line."""
    import os
    import pty
    import re
    import subprocess
    import sys

    code = ENROLL_DIR_IN_A_TERMINAL.format(
        tests=str(Path(__file__).parent), folder=str(speakers), db=db
    )
    parent, child = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=child, stdout=child, stderr=child, env=env
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=60) == 0
    os.close(parent)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
    pieces = [p.strip() for p in re.split(r"[\r\n]+", screen) if p.strip()]
    for speaker in ("low", "mid", "high"):
        (summary,) = [p for p in pieces if f"{speaker}: 3 clips added" in p]
        assert summary.startswith(f"{speaker}: 3 clips added"), summary
    assert any(p.startswith("0.wav: 8.0 s speech") for p in pieces)


# --- activity, eval, errors as JSON, -v, help ------------------------------------------------


def test_activity_shows_profile_names_and_the_reason_of_each_entry(speakers, tmp_path, db):
    run("enroll-dir", speakers, "--db", db)
    loud = np.clip(voice(140, 8.0) * 20, -1, 1)
    sf.write(tmp_path / "loud.wav", loud, RATE)
    rejected = run("enroll", "low", tmp_path / "loud.wav", "--db", db)
    assert rejected.exit_code == ExitCode.BAD_AUDIO
    run("identify", wav(tmp_path, "k.wav", 260, seconds=3), "--db", db)
    run("profiles", "delete", "mid", "--db", db, "--yes")
    text = run("activity", "--db", db).stdout.splitlines()
    low_id = json.loads(run("profiles", "show", "low", "--db", db, "--json").stdout)["id"]
    (refused,) = [line for line in text if " rejected " in line]
    assert f"low ({low_id})" in refused and "clipped" in refused
    assert any(" identify " in line and "high (" in line for line in text)
    assert any(" delete " in line and "(deleted) " in line for line in text)
    entries = json.loads(run("activity", "--db", db, "--json").stdout)
    assert {e["profile_name"] for e in entries if e["action"] == "identify"} == {"high"}
    assert next(e["detail"] for e in entries if e["result"] == "rejected").startswith("clipped")


def test_activity_json_is_the_items_of_the_rest_apis_activity_page(speakers, tmp_path, db):
    run("enroll-dir", speakers, "--db", db)
    run("identify", wav(tmp_path, "k.wav", 260, seconds=3), "--db", db)
    run("profiles", "delete", "mid", "--db", db, "--yes")
    shown = json.loads(run("activity", "--db", db, "--json").stdout)
    with api_on_cli_database(db) as client:
        answered = client.get("/v1/activity").json()
        paged = client.get("/v1/activity", params={"limit": 2, "offset": 1}).json()
    assert shown == answered["items"]
    assert shown[0]["action"] == "delete" and shown[0]["profile_name"] is None
    assert all(API_TIME.fullmatch(e["time"]) for e in shown)
    window = json.loads(
        run("activity", "--limit", "2", "--offset", "1", "--db", db, "--json").stdout
    )
    assert window == paged["items"] == shown[1:3]


def test_activity_pages_below_a_before_id_as_the_rest_api_does(tmp_path, db):
    for name in ("a", "b", "c"):
        assert run("enroll", name, wav(tmp_path, f"{name}.wav", 140), "--db", db).exit_code == 0
    first = json.loads(run("activity", "--limit", "3", "--db", db, "--json").stdout)
    cursor = first[-1]["id"]
    rest = json.loads(run("activity", "--before-id", cursor, "--db", db, "--json").stdout)
    assert [e["id"] for e in rest] == list(range(cursor - 1, 0, -1))
    with api_on_cli_database(db) as client:
        page = client.get("/v1/activity", params={"before_id": cursor}).json()
    assert page["items"] == rest


def test_plain_activity_shows_each_entry_id_for_before_id(tmp_path, db):
    for name in ("a", "b", "c"):
        assert run("enroll", name, wav(tmp_path, f"{name}.wav", 140), "--db", db).exit_code == 0
    lines = run("activity", "--limit", "3", "--db", db).stdout.splitlines()
    ids = [int(line.split()[0].removeprefix("#")) for line in lines]
    entries = json.loads(run("activity", "--limit", "3", "--db", db, "--json").stdout)
    assert ids == [e["id"] for e in entries]
    older = run("activity", "--before-id", str(ids[-1]), "--db", db).stdout.splitlines()
    assert [line.split()[0] for line in older] == [f"#{i}" for i in range(ids[-1] - 1, 0, -1)]


def test_activity_can_show_one_profile_by_name_or_a_deleted_ones_id(speakers, db):
    run("enroll-dir", speakers, "--db", db)
    low = json.loads(run("activity", "--profile", "low", "--db", db, "--json").stdout)
    assert {e["profile_name"] for e in low} == {"low"} and len(low) == 4  # create + 3 clips
    mid_id = json.loads(run("profiles", "show", "mid", "--db", db, "--json").stdout)["id"]
    run("profiles", "delete", "mid", "--db", db, "--yes")
    gone = json.loads(run("activity", "--profile", mid_id.upper(), "--db", db, "--json").stdout)
    assert [e["action"] for e in gone] == ["delete", "enroll", "enroll", "enroll", "create"]
    missing = run("activity", "--profile", "nobody", "--db", db)
    assert missing.exit_code == ExitCode.PROFILE
    assert "nobody" in missing.stderr and "Traceback" not in missing.output


def test_eval_writes_a_det_plot_only_when_asked(speakers, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("eval", speakers, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["det_plot"] is None
    assert list(tmp_path.glob("*.png")) == []
    assert "DET curve" not in run("eval", speakers).stdout


@pytest.mark.parametrize("det", ["det.txt", "folder", "missing-parent-file/det.png"])
def test_eval_refuses_a_det_plot_it_could_not_write_before_evaluating(
    speakers, tmp_path, monkeypatch, det
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "missing-parent-file").write_text("a file, not a folder")

    def no_evaluation(*_args, **_kwargs):
        raise AssertionError("the evaluation ran before the output was checked")

    monkeypatch.setattr("voxprint.evaluation.runner.evaluate", no_evaluation)
    result = run("eval", speakers, "--det", det)
    assert result.exit_code == ExitCode.DATA, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_output_piped_to_a_reader_that_went_away_ends_quietly_with_its_own_code():
    """``voxprint phrases | head -1``: the reader may close first; no error line, no bug."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    process = subprocess.run(
        [sys.executable, "-c", "from voxprint.cli.app import main; main()", "phrases"],
        stdout=write_end,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    os.close(write_end)
    assert process.returncode == ExitCode.OUTPUT_CLOSED == 141
    assert process.stderr == b""


def test_a_broken_pipe_that_is_not_standard_output_is_reported_as_a_bug():
    import typer

    from voxprint.cli.common import handles_errors

    @handles_errors
    def command(json_output: bool = False) -> None:
        raise BrokenPipeError(32, "Broken pipe (a worker's pipe)")

    with pytest.raises(typer.Exit) as stopped:
        command()
    assert stopped.value.exit_code == ExitCode.INTERNAL


def test_with_json_an_error_is_one_json_object_on_stderr_with_the_same_exit_code(tmp_path, db):
    run("enroll", "alice", wav(tmp_path, "a.wav", 140), "--db", db)
    missing = run("verify", "nobody", wav(tmp_path, "p.wav", 140, seconds=3), "--db", db, "--json")
    assert missing.exit_code == ExitCode.PROFILE and missing.stdout == ""
    error = json.loads(missing.stderr)["error"]
    assert error["code"] == "profile_not_found" and "nobody" in error["message"]
    short = run("enroll", "alice", wav(tmp_path, "s.wav", 140, seconds=0.5), "--db", db, "--json")
    assert short.exit_code == ExitCode.NOT_ENOUGH_SPEECH
    details = json.loads(short.stderr)["error"]
    assert details["code"] == "speech_too_short" and details["required_seconds"] == 1.0
    usage = run("profiles", "list", "--db", db, "--json", "--no-such-option")
    assert usage.exit_code == ExitCode.USAGE and usage.stdout == ""
    assert json.loads(usage.stderr) == {
        "error": {"code": "usage", "message": "No such option: --no-such-option"}
    }
    plain = run("verify", "nobody", wav(tmp_path, "q.wav", 140, seconds=3), "--db", db)
    assert plain.stderr.startswith("error: no profile")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify", "alice"], "error: Missing argument 'FILE'. (see 'voxprint verify --help')"),
        (["verfy", "x"], "error: No such command 'verfy'. Did you mean 'verify'?"),
        (["identify", "--top", "0", "x.wav"], "error: Invalid value for '--top'"),
    ],
)
def test_a_usage_error_is_one_line_on_stderr_naming_the_help_to_read(args, message):
    result = run(*args)
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(message)
    assert "--help')" in result.stderr


def test_a_command_group_called_bare_shows_its_help_and_no_error_line():
    result = run("profiles")
    assert result.exit_code == ExitCode.USAGE
    assert "Usage: voxprint profiles" in result.stdout and "error" not in result.stderr


def test_enroll_dir_with_json_reports_skipped_files_and_the_first_error(speakers, db):
    (speakers / "low" / "bad.wav").write_bytes(b"garbage")
    result = run("enroll-dir", speakers, "--db", db, "--json")
    assert result.exit_code == ExitCode.BAD_AUDIO
    (low,) = [s for s in json.loads(result.stdout) if s["profile_name"] == "low"]
    assert low["skipped"][0]["file"].endswith("bad.wav")
    assert json.loads(result.stderr)["error"]["code"] == low["skipped"][0]["code"]


def test_verbose_works_before_and_after_the_command(db, monkeypatch):
    from voxprint.cli import app as app_module

    seen = []
    monkeypatch.setattr(app_module, "configure_logging", seen.append)
    run("keys", "create", "--name", "k", "--db", db)
    for args in (["-v", "keys", "list"], ["keys", "list", "-v"], ["keys", "list", "--verbose"]):
        result = run(*args, "--db", db)
        assert result.exit_code == 0, result.output
    quiet = run("keys", "list", "--db", db)
    assert quiet.exit_code == 0
    assert seen[-4:] == [True, True, True, False]
    # After "--" it is an argument like any other.
    assert run("profiles", "show", "--db", db, "--", "-v").exit_code == ExitCode.PROFILE


def all_help_pages() -> dict[str, str]:
    """The --help of the group and of every command, by command path."""
    import typer

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    pages = {}
    for path, _command in walk(typer.main.get_command(app), []):
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, path
        pages[" ".join(path)] = result.stdout
    return pages


def test_help_shows_no_type_for_flags():
    pages = all_help_pages()
    assert len(pages) > 20
    for path, text in pages.items():
        assert "<bool>" not in text, path
    assert "--verbose" in pages[""] and "--force" in pages["enroll"]


def test_every_command_quoted_in_a_help_text_parses(monkeypatch):
    import re

    import uvicorn

    def no_server(*_args, **_kwargs):
        raise AssertionError("a quoted command started a server instead of showing its help")

    monkeypatch.setattr(uvicorn, "run", no_server)

    quoted = set()
    for text in all_help_pages().values():
        flat = " ".join(text.replace("│", " ").split())
        quoted |= set(re.findall(r"`(voxprint [^`]+)`", flat))
    assert any("--model RUN/best.pt" in q for q in quoted)  # train's hint
    for command in sorted(quoted):
        args = command.split()[1:]
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, f"{command}: {result.output}"


def test_enroll_dir_skips_audio_a_profile_already_holds_under_another_file_name(speakers, db):
    """The same audio copied under another name is recognised by its content: a skip
    with a warning, not a failure, and it is stored once."""
    import shutil

    for speaker in ("low", "mid", "high"):
        shutil.copy(speakers / speaker / "0.wav", speakers / speaker / "copy.wav")
    result = run("enroll-dir", speakers, "--db", db)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("already has this audio") == 3
    assert clip_counts(db) == {"low": 3, "mid": 3, "high": 3}


def test_enrolling_a_voice_already_enrolled_under_another_name_prints_a_warning(tmp_path, db):
    first = [wav(tmp_path, f"a{i}.wav", 140, seed=i) for i in range(3)]
    assert run("enroll", "alice", *first, "--db", db).exit_code == 0
    again = [wav(tmp_path, f"b{i}.wav", 140, seed=10 + i) for i in range(4)]
    result = run("enroll", "alice again", *again, "--db", db)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    enrolled = [line for line in lines if line.endswith("[enrolled]")]
    assert [line.split(":")[0] for line in enrolled] == ["b2.wav", "b3.wav"]
    (warning,) = [line for line in lines if "warning:" in line]  # once, after the last clip
    assert lines[-1] == warning
    assert "voice very close to 'alice'" in warning
    assert warning.endswith("merge the two: voxprint profiles merge alice 'alice again')")
    as_json = run(
        "enroll", "alice again", wav(tmp_path, "c.wav", 140, seed=20), "--db", db, "--json"
    )
    (report,) = json.loads(as_json.output)
    assert [s["profile_name"] for s in report["similar_voices"]] == ["alice"]


def test_profiles_similar_lists_close_voices_and_refuses_a_profile_still_enrolling(tmp_path, db):
    for name, seeds in (("alice", (0, 1, 2)), ("alice again", (10, 11, 12))):
        files = [wav(tmp_path, f"{name}{i}.wav", 140, seed=i) for i in seeds]
        assert run("enroll", name, *files, "--db", db).exit_code == 0
    text = run("profiles", "similar", "alice", "--db", db)
    assert text.exit_code == 0, text.output
    assert "voice very close to 'alice again'" in text.output
    as_json = json.loads(run("profiles", "similar", "alice", "--db", db, "--json").output)
    assert [s["profile_name"] for s in as_json["similar_voices"]] == ["alice again"]
    assert run("enroll", "carol", wav(tmp_path, "c.wav", 260), "--db", db).exit_code == 0
    pending = run("profiles", "similar", "carol", "--db", db)
    assert pending.exit_code != 0 and pending.output.startswith("error: ")
    assert pending.output.count("\n") == 1


def test_thresholds_are_shown_with_enough_digits_to_tell_them_from_0_and_1():
    from voxprint.cli.render import probability_text

    assert probability_text(0.9) == "0.90"
    assert probability_text(0.00067) == "0.00067"  # a calibrated threshold, not "0.00"
    assert probability_text(0.99995) == "0.999950"
    assert probability_text(0.0) == "0.00" and probability_text(1.0) == "1.00"


def test_enrolment_progress_never_reads_as_done_while_the_profile_is_still_enrolling():
    """9.98 s of a 10 s requirement once read "total 10.0 s; 0.0 s more speech needed
    [enrolling]" (found in a walkthrough)."""
    from datetime import UTC, datetime

    from voxprint.cli.render import enrollment_line
    from voxprint.rounding import speech_so_far, speech_still_needed
    from voxprint.service import EnrollmentReport
    from voxprint.store.records import EnrollmentStatus, Profile

    assert speech_so_far(9.98) == "9.9" and speech_so_far(10.0) == "10.0"
    assert speech_still_needed(0.02) == "0.1" and speech_still_needed(0.3) == "0.3"
    now = datetime.now(UTC)
    profile = Profile(
        id="p",
        namespace="default",
        name="carol",
        encoder_name="e",
        encoder_version="1",
        created_at=now,
        updated_at=now,
        status=EnrollmentStatus.ENROLLING,
    )
    line = enrollment_line("a.wav", EnrollmentReport(profile, 11.2, 9.98, 9.98, 0.02))
    assert line == "a.wav: 9.9 s speech; total 9.9 s; 0.1 s more speech needed [enrolling]"


def test_a_profile_left_enrolling_is_told_how_to_finish_once_after_its_last_clip(tmp_path, db):
    files = [wav(tmp_path, f"{i}.wav", 140, seconds=4.0, seed=i) for i in range(2)]
    result = run("enroll", "carol", *files, "--db", db)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    hints = [i for i, line in enumerate(lines) if "still enrolling" in line]
    assert hints == [len(lines) - 1]  # once, last
    assert "'carol' is still enrolling" in lines[-1] and "--enroll-seconds" in lines[-1]
    assert "less speech than 20 s" in lines[-1]
    done = run("enroll", "carol", wav(tmp_path, "2.wav", 140, seconds=14.0, seed=2), "--db", db)
    assert "still enrolling" not in done.output  # enrolled now
    as_json = run("enroll", "dave", files[0], "--db", db, "--json")
    assert "still enrolling" not in as_json.output


def test_every_command_shows_a_profiles_speech_rounded_the_same_way(tmp_path, db):
    """Found in a walkthrough: `profiles list` showed 18.7 s where `profiles show` and the
    enrolment line showed 18.6 s for the same profile."""
    path = tmp_path / "a.wav"
    sf.write(path, voice(140, 9.97, seed=1), RATE)  # 311 detector frames: 9.952 s
    enrolled = run("enroll", "carol", path, "--db", db)
    assert "total 9.9 s" in enrolled.output
    assert " 9.9 s speech" in run("profiles", "list", "--db", db).output
    assert "9.9 s of" in run("profiles", "show", "carol", "--db", db).output


def test_too_little_speech_is_shown_rounded_down_so_it_never_reads_as_the_minimum():
    from voxprint.cli.render import speech_text

    assert speech_text(0.298) == "0.29" and speech_text(0.3) == "0.30"
    assert speech_text(12.629) == "12.62" and speech_text(0.29) == "0.29"


def test_compare_says_whether_two_recordings_are_one_speaker_with_the_exit_code(tmp_path, db):
    first, again = wav(tmp_path, "a.wav", 140, seed=1), wav(tmp_path, "b.wav", 140, seed=2)
    other = wav(tmp_path, "c.wav", 260, seed=3)
    missing = run("compare", first, again, "--db", db)  # a mistyped --db creates nothing
    assert missing.exit_code == ExitCode.DATA and "does not exist" in missing.output
    run("enroll", "someone", wav(tmp_path, "s.wav", 200, seed=4), "--db", db)
    same = run("compare", first, again, "--db", db)
    assert same.exit_code == 0, same.output
    assert same.output.startswith("SAME SPEAKER  score ")
    assert "thresholds: built-in prior" in same.output
    different = run("compare", first, other, "--db", db)
    assert different.exit_code == ExitCode.REJECTED
    assert different.output.startswith("DIFFERENT SPEAKERS  score ")
    shown = json.loads(run("compare", first, other, "--db", db, "--json").output)
    assert shown["decision"] == "reject" and shown["source"]["kind"] == "prior"


def test_compare_of_a_missing_file_is_one_line_and_a_non_zero_exit(tmp_path, db):
    run("enroll", "someone", wav(tmp_path, "s.wav", 200, seed=4), "--db", db)
    result = run("compare", wav(tmp_path, "a.wav", 140), tmp_path / "missing.wav", "--db", db)
    assert result.exit_code == ExitCode.BAD_AUDIO
    assert result.output.strip().splitlines() == [
        f"error: audio file not found: {tmp_path / 'missing.wav'}"
    ]
    (tmp_path / "broken.wav").write_bytes(b"not audio at all, just text" * 10)
    broken = run("compare", tmp_path / "broken.wav", tmp_path / "a.wav", "--db", db)
    assert broken.exit_code == ExitCode.BAD_AUDIO
    assert broken.output.strip().splitlines() == [
        "error: broken.wav: input is not a recognised audio or video format (Invalid data "
        "found when processing input)"
    ]


def verdict(score, cosine, bar, decision, look_alike=None):
    from voxprint.decision import Decision, DecisionReason, SourceKind, ThresholdSource
    from voxprint.service import VerificationResult

    return VerificationResult(
        profile_id="p1",
        profile_name="tom",
        cosine=cosine,
        score=score,
        decision=Decision(decision),
        threshold=0.9,
        net_speech_seconds=2.5,
        reason=DecisionReason.MATCH if decision == "accept" else DecisionReason.NO_MATCH,
        source=ThresholdSource(SourceKind.PRIOR, "built-in prior"),
        cosine_threshold=bar,
        look_alike=look_alike,
    )


def test_a_rejection_just_under_the_bar_never_reads_as_reaching_it():
    """Found in a walkthrough: "REJECT: tom  score 0.900 (needs 0.90)  cosine 0.828, cosine
    needed 0.828" for a score of 0.89967 and a cosine 0.00011 short."""
    rejected = render.verification_text(verdict(0.89967, 0.82830, 0.82841, "reject"))
    assert "score 0.899 (needs 0.90)" in rejected
    assert "cosine 0.828, cosine needed 0.829" in rejected
    accepted = render.verification_text(verdict(0.90004, 0.82845, 0.82841, "accept"))
    assert (
        "score 0.900 (needs 0.90)" in accepted and "cosine 0.828, cosine needed 0.828" in accepted
    )


def test_a_look_alike_nearly_as_close_is_not_called_closer():
    from voxprint.service import LookAlike

    nearly = render.verification_text(
        verdict(0.8996, 0.828, 0.8284, "reject", LookAlike("p2", "sam", 0.762))
    )
    assert "another enrolled profile, sam, is nearly as close (cosine 0.762)" in nearly
    assert "voxprint profiles similar tom" in nearly
    closer = render.verification_text(
        verdict(0.2, 0.70, 0.8284, "reject", LookAlike("p2", "sam", 0.81))
    )
    assert "the voice is closer to another enrolled profile, sam (cosine 0.810)" in closer


def test_a_clip_sent_again_under_a_lower_requirement_enrols_the_profile(tmp_path, db):
    """Found in walkthroughs: "already enrolled in this profile, not added again; total
    13.4 s; enrolled [enrolling]", then a profile left enrolling for good by the lower
    requirement the enrol command's own hint suggested."""
    clip = wav(tmp_path, "t.wav", 150, seconds=13)
    first = run("enroll", "tom", clip, "--db", db)
    assert "[enrolling]" in first.output
    probe = wav(tmp_path, "p.wav", 150, seconds=4, seed=5)
    waiting = run("verify", "tom", probe, "--db", db)
    assert waiting.exit_code == ExitCode.PROFILE
    assert "more net speech is needed (of the 20 s required)" in waiting.stderr
    lower = runner.invoke(
        app, ["verify", "tom", str(probe), "--db", str(db)], env={"VOXPRINT_ENROLL_SECONDS": "10"}
    )
    assert "its clips hold the 10 s required now" in lower.stderr
    again = run("enroll", "tom", clip, "--db", db, "--enroll-seconds", "10")
    assert "not added again" in again.output and again.output.rstrip().endswith(
        "enrolled [enrolled]"
    )
    assert run("verify", "tom", probe, "--db", db).exit_code in (0, 1)  # decided now
