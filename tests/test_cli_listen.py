"""``voxprint listen``: live identification from a recording, locally or through a server."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import uvicorn
from typer.testing import CliRunner

from voxprint import bootstrap, operating_points
from voxprint.bootstrap import ServiceOptions, build_service
from voxprint.cli import listen as listen_module
from voxprint.cli.app import app as cli
from voxprint.cli.exit_codes import ExitCode
from voxprint.cli.listen import file_blocks, websocket_url
from voxprint.errors import InvalidParameterError
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig

from apihelp import auth, client_for, issue_key, make_app, voice_wav
from fakes import RATE, TONE_PRIOR, EnergyVad, ToneEncoder, voice

TEST_OTHER = Path("librispeech") / "test-other"


def events(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeClock:
    """Stands in for ``time`` in :mod:`voxprint.cli.listen`: sleeping moves it forward, and
    so does every reading, by a microsecond (code takes time to run)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept = 0.0

    def perf_counter(self) -> float:
        self.now += 1e-6
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds
        self.slept += seconds


def test_unpaced_file_blocks_are_one_hop_each_and_paced_ones_keep_real_time(tmp_path, monkeypatch):
    path = tmp_path / "v.wav"
    sf.write(path, voice(150, 1.0), RATE)
    blocks = list(file_blocks(path, 0, 0.5))
    assert [len(b.samples) for b in blocks] == [8000, 8000]

    clock = FakeClock()
    monkeypatch.setattr(listen_module, "time", clock)
    start = clock.now
    paced = list(file_blocks(path, 4.0, 0.5))
    assert sum(len(b.samples) for b in paced) == RATE
    # 1 s of audio at 4x real time takes a quarter of a second, in 0.1 s blocks...
    assert clock.slept == pytest.approx(0.25, abs=0.001)
    assert [len(b.samples) for b in paced] == [1600] * 10
    # ...and no block comes before its last sample is due.
    sent = 0
    for block in paced:
        sent += len(block.samples)
        assert block.arrived - start >= sent / RATE / 4.0 - 1e-9


def test_file_blocks_play_only_the_first_seconds_when_asked(tmp_path, monkeypatch):
    path = tmp_path / "v.wav"
    sf.write(path, voice(150, 3.0), RATE)
    unpaced = list(file_blocks(path, 0, 0.5, seconds=1.2))
    assert [len(b.samples) for b in unpaced] == [8000, 8000, 3200]
    monkeypatch.setattr(listen_module, "time", FakeClock())
    assert sum(len(b.samples) for b in file_blocks(path, 4.0, 0.5, seconds=1.2)) == 19200
    assert sum(len(b.samples) for b in file_blocks(path, 0, 0.5, seconds=10)) == 3 * RATE


def test_listen_to_a_file_stops_after_seconds(tmp_path, monkeypatch):
    def build_pipeline(options):
        config = PipelineConfig(min_speech_seconds=options.min_speech_seconds)
        return EmbeddingPipeline(ToneEncoder(), config=config, vad=EnergyVad())

    monkeypatch.setattr(bootstrap, "build_pipeline", build_pipeline)
    monkeypatch.setitem(operating_points.DEFAULT_PRIORS, "tone", TONE_PRIOR)
    db = str(tmp_path / "cli.db")
    enrol = tmp_path / "alice.wav"
    sf.write(enrol, voice(150, 12.0, seed=1), RATE)
    assert CliRunner().invoke(cli, ["enroll", "alice", str(enrol), "--db", db]).exit_code == 0
    path = tmp_path / "long.wav"
    sf.write(path, voice(150, 4.0, seed=2), RATE)
    args = ["listen", "--file", str(path), "--speed", "0", "--json", "--db", db]
    result = CliRunner().invoke(cli, [*args, "--seconds", "1.5"])
    assert result.exit_code == 0, result.output
    hops = [e["audio_seconds"] for e in events(result.stdout) if not e.get("final")]
    assert hops == [0.5, 1.0, 1.5]


def test_server_urls_become_websocket_urls():
    assert websocket_url("http://h:8000/") == "ws://h:8000"
    assert websocket_url("https://h") == "wss://h"
    assert websocket_url("ws://h:1") == "ws://h:1"
    with pytest.raises(InvalidParameterError):
        websocket_url("h:8000")


def test_a_missing_portaudio_or_microphone_gives_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # as if PortAudio were absent
    result = CliRunner().invoke(cli, ["listen", "--seconds", "0.5"])
    assert result.exit_code == ExitCode.DATA
    assert result.output.count("\n") == 1
    assert "no microphone" in result.output
    assert "Traceback" not in result.output


def test_a_missing_file_and_an_unreachable_server_fail_with_one_line(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(cli, ["listen", "--file", str(tmp_path / "nope.wav")])
    assert missing.exit_code == ExitCode.BAD_AUDIO
    assert "no such file" in missing.output
    path = tmp_path / "v.wav"
    sf.write(path, voice(150, 1.0), RATE)
    args = ["listen", "--file", str(path), "--server", f"http://127.0.0.1:{free_port()}"]
    unreachable = runner.invoke(cli, [*args, "--api-key", "k"])
    assert unreachable.exit_code == ExitCode.DATA
    assert "cannot use the server" in unreachable.output
    assert "Traceback" not in unreachable.output
    no_key = runner.invoke(cli, args, env={"VOXPRINT_API_KEY": ""})
    assert no_key.exit_code == ExitCode.DATA
    assert "--api-key" in no_key.output


def test_a_window_too_short_for_the_speech_a_result_needs_is_refused_in_one_line(tmp_path):
    path = tmp_path / "v.wav"
    sf.write(path, voice(150, 1.0), RATE)
    args = ["listen", "--file", str(path), "--window", "0.5", "--min-speech", "0.8"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == ExitCode.DATA
    assert result.output.strip().splitlines() == [
        "error: a window of 0.5 s cannot hold the 0.8 s of speech a result needs: make it longer"
    ]


def test_among_is_refused_with_a_server_rather_than_ignored(tmp_path):
    path = tmp_path / "v.wav"
    sf.write(path, voice(150, 1.0), RATE)
    server = f"http://127.0.0.1:{free_port()}"
    args = ["listen", "--file", str(path), "--server", server, "--api-key", "k"]
    result = CliRunner().invoke(cli, [*args, "--among", "alice", "--local-fallback"])
    assert result.exit_code == ExitCode.DATA
    assert result.output.strip().splitlines() == [
        "error: --among works with the local store only: the server's live identification "
        "considers every profile of the key's namespace; leave out --server or --among"
    ]


def test_listen_through_a_server_names_the_speaker(tmp_path):
    app, service = make_app(tmp_path / "srv.db")
    key = issue_key(service)
    with client_for(app) as client:  # enrol through the API (the lifespan closes after)
        profile = client.post("/v1/profiles", json={"name": "alice"}, headers=auth(key)).json()
        client.post(
            f"/v1/profiles/{profile['id']}/enrollments",
            content=voice_wav(150, 12, seed=1),
            headers={**auth(key), "Content-Type": "audio/wav"},
        )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 20
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        path = tmp_path / "mixed.wav"
        sf.write(path, np.concatenate([np.zeros(RATE), voice(150, 3, seed=2)]), RATE)
        result = CliRunner().invoke(
            cli,
            [
                *("listen", "--file", str(path), "--speed", "0", "--json"),
                *("--server", f"http://127.0.0.1:{port}", "--api-key", key),
            ],
        )
        assert result.exit_code == 0, result.output
        found = events(result.output)
        assert found[-1]["final"] is True
        # unpaced, nothing is lost: a result for every 0.5 s hop, as the local path gives
        assert [e["audio_seconds"] for e in found[:-1]] == [0.5 * k for k in range(1, 9)]
        named = [e for e in found if e["profile_name"] == "alice"]
        assert named and named[0]["changed"]
        assert all(e["decision"] == "silence" for e in found if e["audio_seconds"] <= 1.0)
        assert all("latency_ms" in e for e in found)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def enrolled_db(tmp_path_factory, data_root):
    """A store with two LibriSpeech speakers enrolled with the real CAM++ model."""
    db = tmp_path_factory.mktemp("listen") / "voxprint.db"
    service = build_service(ServiceOptions(db=db, enrollment_speech_seconds=15.0))
    for speaker, numbers in (("1688", (0, 1)), ("2033", (0, 1, 2))):
        profile = service.create_profile(speaker)
        for n in numbers:
            name = f"{speaker}-{'142285' if speaker == '1688' else '164914'}-{n:04d}.flac"
            service.enroll(profile.id, data_root / TEST_OTHER / speaker / name)
        assert service.get_profile(profile.id).status.value == "enrolled"
    service.store.close()
    return db


def mixed_recording(data_root: Path, folder: Path) -> tuple[Path, float]:
    """1.5 s of silence, 3 s of a stranger, then 4 s of enrolled speaker 1688 (new sentences)."""

    def read(relative: str, seconds: float) -> np.ndarray:
        audio, rate = sf.read(data_root / TEST_OTHER / relative, dtype="float32")
        assert rate == RATE
        return audio[: int(seconds * RATE)]

    stranger = read("2414/2414-128291-0002.flac", 3.0)
    target = read("1688/1688-142285-0006.flac", 4.0)
    audio = np.concatenate([np.zeros(int(1.5 * RATE), np.float32), stranger, target])
    path = folder / "stranger-then-1688.wav"
    sf.write(path, audio, RATE)
    return path, 4.5


@pytest.mark.data
def test_listen_names_the_speaker_within_1_5_s_of_them_starting(enrolled_db, data_root, tmp_path):
    path, target_start = mixed_recording(data_root, tmp_path)
    result = CliRunner().invoke(
        cli, ["listen", "--file", str(path), "--speed", "0", "--json", "--db", str(enrolled_db)]
    )
    assert result.exit_code == 0, result.output
    found = events(result.output)
    before = [e for e in found if e["audio_seconds"] <= target_start and e["speaking"]]
    assert before and all(e["unknown"] for e in before)  # the stranger is not anybody
    first = next(e for e in found if e["profile_name"] == "1688")
    assert first["audio_seconds"] - target_start <= 1.5
    assert first["changed"] is True
    later = [e for e in found if e["audio_seconds"] >= first["audio_seconds"] and e["speaking"]]
    assert all(e["profile_name"] == "1688" for e in later)


@pytest.mark.data
def test_listen_at_real_time_pace_falls_back_to_the_local_store(enrolled_db, data_root, tmp_path):
    path, _ = mixed_recording(data_root, tmp_path)
    server = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        cli,
        [
            *("listen", "--file", str(path), "--speed", "2", "--db", str(enrolled_db)),
            *("--server", server, "--api-key", "k", "--local-fallback"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "unreachable" in result.output
    assert "1688" in result.output and "speaker change" in result.output
    assert "last sample → result" in result.output


def test_a_verification_line_says_which_enrolled_look_alike_turned_the_claim_down(capsys):
    from voxprint.cli.listen import Printer

    event = {
        "speaking": True,
        "unknown": False,
        "audio_seconds": 2.0,
        "final": False,
        "profile_name": "older",
        "score": 0.31,
        "changed": True,
        "look_alike": {"profile_id": "p2", "profile_name": "younger"},
    }
    Printer(json_output=False)(event, 0.05)
    Printer(json_output=False)({**event, "look_alike": None, "score": 0.99}, 0.05)
    first, second = capsys.readouterr().out.splitlines()
    assert first.endswith("older  score 0.31  (as close to younger)  <- speaker change")
    assert "as close to" not in second


def test_an_unknown_line_says_when_the_voice_does_not_stand_out_or_was_too_short(capsys):
    from voxprint.cli.listen import Printer

    event = {
        "speaking": True,
        "unknown": True,
        "audio_seconds": 2.0,
        "final": False,
        "profile_name": None,
        "score": None,
        "changed": False,
        "look_alike": None,
    }
    printer = Printer(json_output=False)
    for reason in ("look_alike", "insufficient_speech", "no_match"):
        printer({**event, "reason": reason}, 0.05)
    alike, short, nobody = capsys.readouterr().out.splitlines()
    assert alike.endswith("unknown  (does not stand out from other profiles)")
    assert short.endswith("unknown  (too little speech to tell)")
    assert nobody.endswith("unknown")
