"""The Azure tutorial's text-dependent section, run unchanged against a real ``uvicorn``.

The calls are those of the published Python tutorial (``../shared/seeds/000_*.txt``): the
same URLs (``main_url`` ending in ``profiles/``, ``profile_url = main_url + profile_id``),
headers and ``data=`` bodies; only the endpoint and the key differ. The server runs the
real CAM++ model and the real PocketSphinx phrase check on a temporary database, with a
key made by ``voxprint keys create``.

The recordings are synthetic (espeak-ng): the data has no real speaker saying Azure's
passphrases. One espeak voice plays the owner (three enrolments at different speeds and
pitches, a fourth for verification), a female variant plays another speaker. This checks
the flow end to end, not accuracy (docs/benchmarks.md has the measured figures).
"""

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import requests
import soundfile as sf

pytestmark = pytest.mark.data

PASSPHRASE = "my voice is my passport verify me"
STARTUP_SECONDS = 180
VOXPRINT = os.path.join(os.path.dirname(sys.executable), "voxprint")
UVICORN = [
    sys.executable,
    "-m",
    "uvicorn",
    "--factory",
    "voxprint.api.app:create_app_from_environment",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def say(text: str, voice: str, speed: int, pitch: int) -> bytes:
    """espeak-ng speech as 16 kHz 16-bit mono WAV bytes, as the tutorial's files were."""
    raw = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    audio, rate = sf.read(io.BytesIO(raw), dtype="float32")
    import soxr

    buffer = io.BytesIO()
    sf.write(buffer, soxr.resample(audio, rate, 16000), 16000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Files named as in the tutorial: Enroll1-3.wav, Verification.wav, and two impostors."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    folder = tmp_path_factory.mktemp("tutorial-audio")
    files = {
        "Enroll1.wav": say(PASSPHRASE, "en-us", 150, 45),
        "Enroll2.wav": say(PASSPHRASE, "en-us", 160, 50),
        "Enroll3.wav": say(PASSPHRASE, "en-us", 175, 55),
        "Verification.wav": say(PASSPHRASE, "en-us", 165, 50),
        "WrongPhrase.wav": say("my name is unknown to you", "en-us", 165, 50),
        "OtherSpeaker.wav": say(PASSPHRASE, "en-us+f3", 165, 50),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_root):
    """(endpoint, key) of a ``uvicorn`` process serving voxprint with the real models."""
    folder = tmp_path_factory.mktemp("azure-td-replay")
    db = folder / "voxprint.db"
    created = subprocess.run(
        [VOXPRINT, "keys", "create", "--name", "azure-app", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    key = json.loads(created.stdout)["key"]
    port = free_port()
    env = {
        **os.environ,
        "VOXPRINT_DB": str(db),
        "VOXPRINT_MODEL": "campplus",
        "VOXPRINT_LOG_JSON": "false",
        "VOXPRINT_INFERENCE_WORKERS": "1",
        "OMP_NUM_THREADS": "2",
    }
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [*UVICORN, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited: {(folder / 'server.log').read_text()[-3000:]}")
            try:
                if requests.get(endpoint + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server was not ready in {STARTUP_SECONDS} s")
            time.sleep(0.3)
        yield endpoint, key
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


class TextDependentVerification:
    """The tutorial's text-dependent calls, verbatim; its globals are attributes here."""

    def __init__(self, endpoint: str) -> None:
        self.main_url = endpoint + "/speaker/verification/v2.0/text-dependent/profiles/"
        self.profile_url = ""

    def create_profile(self, sub_key):
        header = {"Content-Type": "application/json", "Ocp-Apim-Subscription-Key": sub_key}
        locale = json.dumps({"locale": "en-us"})
        r = requests.post(self.main_url, headers=header, data=locale)
        profile_id = r.json()["profileId"]
        self.profile_url = self.main_url + profile_id
        return r.json()

    def enroll(self, sub_key, file_path):
        enroll_url = self.profile_url + "/enrollments"
        header = {
            "Content-Type": "audio/wav; codecs=audio/pcm; samplerate=16000",
            "Ocp-Apim-Subscription-Key": sub_key,
        }
        data = open(file_path, "rb")  # noqa: SIM115 - as the tutorial writes it
        r = requests.post(enroll_url, headers=header, data=data)
        return r.json()

    def verify(self, sub_key, file_path):
        verify_url = self.profile_url + "/verify"
        header = {
            "Content-Type": "audio/wav; codecs=audio/pcm; samplerate=16000",
            "Ocp-Apim-Subscription-Key": sub_key,
        }
        data = open(file_path, "rb")  # noqa: SIM115 - as the tutorial writes it
        r = requests.post(verify_url, headers=header, data=data)
        return r.json()

    def delete_profile(self, sub_key):
        header = {"Ocp-Apim-Subscription-Key": sub_key}
        r = requests.delete(self.profile_url, headers=header)
        return r.status_code


def test_the_tutorials_text_dependent_section_runs_unchanged(server, recordings):
    endpoint, sub_key = server
    tutorial = TextDependentVerification(endpoint)
    created = tutorial.create_profile(sub_key)
    assert created["enrollmentStatus"] == "Enrolling"
    assert created["remainingEnrollmentsCount"] == 3
    first = tutorial.enroll(sub_key, recordings / "Enroll1.wav")
    assert first["passPhrase"] == PASSPHRASE, first
    assert first["remainingEnrollmentsCount"] == 2
    tutorial.enroll(sub_key, recordings / "Enroll2.wav")
    third = tutorial.enroll(sub_key, recordings / "Enroll3.wav")
    assert third["enrollmentStatus"] == "Enrolled", third
    assert third["enrollmentsCount"] == 3 and third["remainingEnrollmentsCount"] == 0

    accepted = tutorial.verify(sub_key, recordings / "Verification.wav")
    assert accepted["recognitionResult"] == "Accept", accepted
    assert 0.0 <= accepted["score"] <= 1.0
    assert tutorial.verify(sub_key, recordings / "WrongPhrase.wav")["recognitionResult"] == (
        "Reject"
    )
    assert tutorial.verify(sub_key, recordings / "OtherSpeaker.wav")["recognitionResult"] == (
        "Reject"
    )
    assert tutorial.delete_profile(sub_key) == 204


def test_a_wrong_passphrase_at_enrolment_is_refused_as_azure_does(server, recordings):
    endpoint, sub_key = server
    tutorial = TextDependentVerification(endpoint)
    tutorial.create_profile(sub_key)
    tutorial.enroll(sub_key, recordings / "Enroll1.wav")
    refused = tutorial.enroll(sub_key, recordings / "WrongPhrase.wav")
    assert refused == {"error": {"code": "InvalidRequest", "message": "Invalid passphrase."}}
    assert tutorial.delete_profile(sub_key) == 204
