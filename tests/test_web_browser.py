"""The web page in a real browser: enrol from the microphone, then identify live.

Chromium (Debian's ``chromium`` package) runs headless with a fake microphone that
plays a WAV made from the shared LibriSpeech speech; the page talks to a real
``voxprint serve`` (uvicorn, real CAM++ model) started here on a free port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxprint.audio import resample
from voxprint.bootstrap import build_key_service

CHROMIUM = Path("/usr/bin/chromium")
TEST_OTHER = Path("librispeech") / "test-other"
SPEAKER = "1688"
NAME = "Speaker 1688"
ENROLL_SECONDS = 10.0
FAKE_RATE = 48000

pytestmark = [pytest.mark.data, pytest.mark.slow]


@pytest.fixture(scope="module")
def playwright_api():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed")
    with sync_playwright() as playwright:
        yield playwright


def fake_microphone_wav(data_root: Path, folder: Path, name: str, files: list[str]) -> Path:
    """The files concatenated with short pauses, as 48 kHz 16-bit PCM (what Chromium plays)."""
    parts = []
    for relative in files:
        audio, rate = sf.read(data_root / TEST_OTHER / relative, dtype="float32")
        parts += [audio, np.zeros(rate // 2, np.float32)]
    path = folder / f"{name}.wav"
    sf.write(path, resample(np.concatenate(parts), rate, FAKE_RATE), FAKE_RATE, subtype="PCM_16")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_root) -> Iterator[tuple[str, str]]:
    """(base URL, API key) of a real ``voxprint serve`` on a free port."""
    folder = tmp_path_factory.mktemp("web")
    db = folder / "voxprint.db"
    key = build_key_service(db).create("browser").token
    port = free_port()
    env = {
        **os.environ,
        "VOXPRINT_ENROLL_SECONDS": str(ENROLL_SECONDS),
        "OMP_NUM_THREADS": "2",
    }
    process = subprocess.Popen(
        [
            *(sys.executable, "-c", "from voxprint.cli.app import main; main()", "serve"),
            *("--port", str(port), "--db", str(db), "--log-level", "warning"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"voxprint serve exited: {process.stderr.read().decode()[-2000:]}")
                time.sleep(0.3)
        yield url, key
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def microphones(tmp_path_factory, data_root) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mic")
    ids = "1688/1688-142285-"
    return {
        "enrol": fake_microphone_wav(
            data_root, folder, "enrol", [f"{ids}0000.flac", f"{ids}0001.flac"]
        ),
        "same": fake_microphone_wav(
            data_root, folder, "same", [f"{ids}0006.flac", f"{ids}0007.flac"]
        ),
        "stranger": fake_microphone_wav(
            data_root,
            folder,
            "stranger",
            ["2414/2414-128291-0002.flac", "2414/2414-128291-0003.flac"],
        ),
    }


def open_page(playwright_api, url: str, key: str, microphone: Path):
    """A fresh headless Chromium whose microphone plays ``microphone``, with the key saved."""
    browser = playwright_api.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone}",
            "--autoplay-policy=no-user-gesture-required",
        ],
    )
    context = browser.new_context(
        permissions=["microphone"], viewport={"width": 1200, "height": 900}
    )
    page = context.new_page()
    page.goto(url)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Save key").click()
    return browser, page


def test_a_speaker_enrolled_in_the_page_is_named_when_they_speak_again(
    playwright_api, server, microphones
):
    url, key = server
    browser, page = open_page(playwright_api, url, key, microphones["enrol"])
    try:
        page.get_by_label("New profile name").fill(NAME)
        page.locator("#create").click()
        page.locator("#enroll-profile option", has_text=NAME).wait_for(state="attached")
        page.locator("#enroll-start").click()
        # Progress grows as speech arrives; the page enrols by itself when it is enough.
        page.wait_for_function(
            "document.getElementById('enroll-progress').value > 0.2", timeout=30_000
        )
        page.locator("#enroll-text", has_text="enrolled").wait_for(timeout=60_000)
        page.locator("#profiles", has_text="enrolled").wait_for(timeout=10_000)
    finally:
        browser.close()

    browser, page = open_page(playwright_api, url, key, microphones["same"])
    try:
        page.get_by_role("button", name="Start listening").click()
        name = page.locator("#speaker-name")
        page.wait_for_function(
            f"document.getElementById('speaker-name').textContent === {NAME!r}", timeout=30_000
        )
        assert name.text_content() == NAME
        assert float(page.locator("#speaker-score").text_content()) > 0.5
        page.locator("#map circle").first.wait_for(state="attached", timeout=10_000)
        shot = os.environ.get("VOXPRINT_SCREENSHOT")
        if shot:
            page.wait_for_timeout(1500)
            page.screenshot(path=shot, full_page=True)
        page.locator("#identify-stop").click()
        # Verification of the claimed profile, live, on the same voice.
        page.get_by_label("Claimed profile").select_option(label=f"{NAME} (enrolled)")
        page.get_by_role("button", name="Start", exact=True).click()
        page.locator("#verify-result.accept").wait_for(timeout=30_000)
        assert page.locator("#verify-result").text_content().startswith(f"{NAME}: accept")
    finally:
        browser.close()


def test_a_stranger_is_shown_as_unknown(playwright_api, server, microphones, data_root):
    url, key = server
    ensure_enrolled(url, key, microphones["enrol"])
    browser, page = open_page(playwright_api, url, key, microphones["stranger"])
    try:
        page.get_by_role("button", name="Start listening").click()
        page.wait_for_function(
            "document.getElementById('speaker-name').textContent === 'unknown'",
            timeout=30_000,
        )
        page.wait_for_timeout(3000)  # a few more results: it stays unknown
        assert page.locator("#speaker-name").text_content() == "unknown"
    finally:
        browser.close()


def test_a_wrong_key_gets_one_clear_message_and_the_controls_stay_disabled(
    playwright_api, server, microphones
):
    url, _key = server
    wrong = "vxp_0000000000000000_" + "x" * 43
    browser, page = open_page(playwright_api, url, wrong, microphones["enrol"])
    try:
        status = page.locator("#status")
        status.filter(has_text="refused this API key").wait_for(timeout=10_000)
        assert "voxprint keys create --name" in status.text_content()
        controls = page.locator("[data-needs-key]")
        assert controls.count() >= 15
        for index in range(controls.count()):  # every control that needs the server
            control = controls.nth(index)
            assert control.is_disabled(), control.get_attribute("id")
        page.wait_for_timeout(500)  # nothing else (the map, the profiles) adds its own error
        assert status.text_content().startswith("The server refused this API key")
    finally:
        browser.close()


def ensure_enrolled(url: str, key: str, wav: Path) -> None:
    """Enrol the speaker through the REST API when the first test did not run."""
    import json

    headers = {"X-API-Key": key}
    request = urllib.request.Request(f"{url}/v1/profiles", headers=headers)
    with urllib.request.urlopen(request) as response:
        items = json.loads(response.read())["items"]
    if any(p["name"] == NAME and p["status"] == "enrolled" for p in items):
        return
    body = json.dumps({"name": NAME}).encode()
    create = urllib.request.Request(
        f"{url}/v1/profiles",
        data=body,
        headers={**headers, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(create) as response:
        profile_id = json.loads(response.read())["id"]
    enrol = urllib.request.Request(
        f"{url}/v1/profiles/{profile_id}/enrollments",
        data=wav.read_bytes(),
        headers={**headers, "Content-Type": "audio/wav"},
        method="POST",
    )
    with urllib.request.urlopen(enrol) as response:
        assert json.loads(response.read())["status"] == "enrolled"
