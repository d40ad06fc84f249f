"""Replays an Azure Speaker Recognition v2.0 client against a real ``uvicorn`` process.

The calls are those of a published Python tutorial for Azure's REST API (text-independent
verification and identification), with only the endpoint changed: same URLs (including
``main_url + '/identifySingleSpeaker'`` on a ``main_url`` ending in ``profiles/``), headers
and ``data=`` bodies. The server runs the real CAM++ model on a temporary database, with a
key made by ``voxprint keys create``; the audio is LibriSpeech test-other, as WAV bytes.
"""

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import soundfile as sf

pytestmark = pytest.mark.data

UNKNOWN = "00000000-0000-0000-0000-000000000000"
STARTUP_SECONDS = 180
VOXPRINT = str(Path(sys.executable).with_name("voxprint"))
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


def wav_bytes(path: Path) -> bytes:
    """The file as 16 kHz 16-bit mono WAV bytes, as the tutorial's recordings were."""
    audio, rate = sf.read(path, dtype="float32")
    assert rate == 16000
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def duration(path: Path) -> float:
    return sf.info(path).duration


@pytest.fixture(scope="module")
def clips(data_root):
    """Per speaker: enrolment clips (longest first) and one held-out 7-14 s test clip."""
    root = data_root / "librispeech" / "test-other"
    speakers = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir())[:4]:
        files = sorted(folder.glob("*.flac"), key=duration, reverse=True)
        test = next(f for f in reversed(files) if 7.0 <= duration(f) <= 14.0)
        enrol = [f for f in files if f != test][:4]
        speakers[folder.name] = {
            "enrol": [wav_bytes(f) for f in enrol],
            "test": wav_bytes(test),
        }
    return speakers


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(endpoint, key) of a ``uvicorn`` process serving voxprint with the real model."""
    folder = tmp_path_factory.mktemp("azure-replay")
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


class TextIndependentVerification:
    """The tutorial's verification calls; its globals are attributes here."""

    def __init__(self, endpoint: str) -> None:
        self.main_url = endpoint + "/speaker/verification/v2.0/text-independent/profiles/"
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
        data = file_path  # the tutorial's open(file_path, 'rb'): a binary file object
        r = requests.post(enroll_url, headers=header, data=data)
        return r.json()

    def verify(self, sub_key, file_path):
        verify_url = self.profile_url + "/verify"
        header = {
            "Content-Type": "audio/wav; codecs=audio/pcm; samplerate=16000",
            "Ocp-Apim-Subscription-Key": sub_key,
        }
        data = file_path
        r = requests.post(verify_url, headers=header, data=data)
        return r.json()

    def delete_profile(self, sub_key):
        header = {"Ocp-Apim-Subscription-Key": sub_key}
        r = requests.delete(self.profile_url, headers=header)
        return r.status_code


class Identification:
    """The tutorial's identification calls; its globals are attributes here."""

    def __init__(self, endpoint: str) -> None:
        self.main_url = endpoint + "/speaker/identification/v2.0/text-independent/profiles/"
        self.profile_url = ""
        self.profile_ids: list[str] = []

    def create_profile(self, sub_key):
        header = {"Content-Type": "application/json", "Ocp-Apim-Subscription-Key": sub_key}
        locale = json.dumps({"locale": "en-us"})
        r = requests.post(self.main_url, headers=header, data=locale)
        profile_id = r.json()["profileId"]
        self.profile_url = self.main_url + profile_id
        self.profile_ids.append(profile_id)
        return r.json()

    def enroll(self, sub_key, file_path):
        enroll_url = self.profile_url + "/enrollments"
        header = {
            "Content-Type": "audio/wav; codecs=audio/pcm; samplerate=16000",
            "Ocp-Apim-Subscription-Key": sub_key,
        }
        data = file_path
        r = requests.post(enroll_url, headers=header, data=data)
        return r.json()

    def identify(self, sub_key, file_path):
        id_urls = ",".join(self.profile_ids)
        identify_url = self.main_url + "/identifySingleSpeaker?profileIds=" + id_urls
        header = {
            "Content-Type": "audio/wav; codecs=audio/pcm; samplerate=16000",
            "Ocp-Apim-Subscription-Key": sub_key,
        }
        data = file_path
        r = requests.post(identify_url, headers=header, data=data)
        return r.json()

    def delete_profile(self, sub_key):
        header = {"Ocp-Apim-Subscription-Key": sub_key}
        r = requests.delete(self.profile_url, headers=header)
        return r.status_code


def enroll_until_enrolled(client, sub_key, enrol_clips):
    """Enrol clips one by one, as a client would, until Azure's 20 s are reached."""
    responses = []
    for clip in enrol_clips:
        responses.append(client.enroll(sub_key, io.BytesIO(clip)))
        if responses[-1].get("enrollmentStatus") == "Enrolled":
            break
    return responses


def test_the_azure_tutorials_verification_calls_work_unchanged(server, clips):
    endpoint, sub_key = server
    target, other = list(clips)[:2]
    app = TextIndependentVerification(endpoint)

    created = app.create_profile(sub_key)
    assert created["enrollmentStatus"] == "Enrolling"
    assert created["locale"] == "en-us"
    assert created["remainingEnrollmentsSpeechLength"] == 20

    responses = enroll_until_enrolled(app, sub_key, clips[target]["enrol"])
    assert responses[-1]["enrollmentStatus"] == "Enrolled", responses
    assert responses[-1]["enrollmentsSpeechLength"] >= 20
    assert len(responses) <= 3
    if len(responses) > 1:
        assert responses[0]["enrollmentStatus"] == "Enrolling"
        assert responses[0]["remainingEnrollmentsSpeechLength"] > 0

    same = app.verify(sub_key, io.BytesIO(clips[target]["test"]))
    different = app.verify(sub_key, io.BytesIO(clips[other]["test"]))
    assert same.get("recognitionResult") == "Accept", same
    assert different.get("recognitionResult") == "Reject", different
    assert 0 <= different["score"] < same["score"] <= 1

    assert app.delete_profile(sub_key) == 204
    gone = requests.get(app.profile_url, headers={"Ocp-Apim-Subscription-Key": sub_key})
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "NotFound"
    assert app.delete_profile(sub_key) == 404


def test_the_azure_tutorials_identification_calls_work_unchanged(server, clips):
    endpoint, sub_key = server
    speakers = list(clips)[1:4]
    app = Identification(endpoint)
    for speaker in speakers:
        app.create_profile(sub_key)
        responses = enroll_until_enrolled(app, sub_key, clips[speaker]["enrol"])
        assert responses[-1]["enrollmentStatus"] == "Enrolled", responses
    assert len(app.profile_ids) == 3

    for index, speaker in enumerate(speakers):
        result = app.identify(sub_key, io.BytesIO(clips[speaker]["test"]))
        assert result["identifiedProfile"]["profileId"] == app.profile_ids[index], result
        ranking = result["profilesRanking"]
        assert ranking[0]["profileId"] == app.profile_ids[index]
        assert {p["profileId"] for p in ranking} == set(app.profile_ids)

    stranger = next(iter(clips))  # enrolled in neither profile of this test
    unknown = app.identify(sub_key, io.BytesIO(clips[stranger]["test"]))
    assert unknown["identifiedProfile"] == {"profileId": UNKNOWN, "score": 0}, unknown

    assert app.delete_profile(sub_key) == 204
    gone = requests.get(app.profile_url, headers={"Ocp-Apim-Subscription-Key": sub_key})
    assert gone.status_code == 404
