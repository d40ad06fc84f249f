"""The web page is served without a key; the embedding map is a keyed 2-D projection.

The page's key handling runs in Node (``tests/web/page_harness.mjs``: app.js against a
small fake DOM and a scripted server); the full page runs in Chromium in
``test_web_browser.py``.
"""

import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from voxprint.api.schemas import MAX_PAGE
from voxprint.cli.app import app as cli
from voxprint.cli.listen import UNKNOWN_BECAUSE
from voxprint.embedding_map import pca_2d
from voxprint.errors import InvalidParameterError

from apihelp import auth, client_for, issue_key, make_app, voice_wav


def test_the_page_and_its_files_are_served_without_a_key(tmp_path):
    app, _ = make_app(tmp_path / "w.db")
    with client_for(app) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert 'src="/web/app.js"' in page.text
        assert '<label for="api-key">' in page.text
        assert 'src="/web/spoken.js"' in page.text and 'id="challenge-new"' in page.text
        for name, media in (
            ("app.js", "text/javascript"),
            ("capture.js", "text/javascript"),
            ("key.js", "text/javascript"),
            ("profiles.js", "text/javascript"),
            ("reasons.js", "text/javascript"),
            ("spoken.js", "text/javascript"),
            ("style.css", "text/css"),
        ):
            response = client.get(f"/web/{name}")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith(media)
        assert client.get("/web/secret.py").status_code == 404
        assert client.get("/web/..%2Fapp.py").status_code == 404


def test_the_embedding_map_places_each_speakers_clips_near_their_voiceprint(tmp_path):
    app, service = make_app(tmp_path / "w.db")
    key, other = issue_key(service, "a"), issue_key(service, "b", name="b")
    with client_for(app) as client:
        assert client.get("/v1/embedding-map").status_code == 401
        assert client.get("/v1/embedding-map", headers=auth(key)).json()["points"] == []
        for name, fundamental in (("alice", 150), ("bob", 233), ("carol", 310)):
            profile = client.post("/v1/profiles", json={"name": name}, headers=auth(key)).json()
            for seed in (1, 2):
                client.post(
                    f"/v1/profiles/{profile['id']}/enrollments",
                    content=voice_wav(fundamental, 6, seed=seed),
                    headers={**auth(key), "Content-Type": "audio/wav"},
                )
        data = client.get("/v1/embedding-map", headers=auth(key)).json()
        assert data["method"] == "pca"
        assert len(data["points"]) == 9  # 3 voiceprints + 6 clips
        assert sum(data["explained_variance"]) <= 1.0 + 1e-6
        xy = {
            (p["name"], p["kind"]): np.array([p["x"], p["y"]])
            for p in data["points"]
            if p["kind"] == "voiceprint"
        }
        spread = min(
            np.linalg.norm(xy[(a, "voiceprint")] - xy[(b, "voiceprint")])
            for a, b in (("alice", "bob"), ("bob", "carol"), ("alice", "carol"))
        )
        for point in data["points"]:
            centre = xy[(point["name"], "voiceprint")]
            assert np.linalg.norm(np.array([point["x"], point["y"]]) - centre) < spread / 2
        assert client.get("/v1/embedding-map", headers=auth(other)).json()["points"] == []


def test_pca_finds_the_direction_of_most_variance():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(200, 5)) * np.array([10.0, 1.0, 0.1, 0.1, 0.1])
    coords, shares = pca_2d(data)
    assert coords.shape == (200, 2)
    assert shares[0] > 0.95 > shares[1]
    assert abs(np.corrcoef(coords[:, 0], data[:, 0])[0, 1]) > 0.99
    assert pca_2d(np.zeros((0, 4)))[0].shape == (0, 2)
    single, _ = pca_2d(np.ones((1, 4)))
    assert single.tolist() == [[0.0, 0.0]]
    with pytest.raises(InvalidParameterError):
        pca_2d(np.zeros(3))


WEB_DIR = Path(str(resources.files("voxprint.api").joinpath("web")))
HARNESS = Path(__file__).parent / "web" / "page_harness.mjs"
GOOD_KEY = "vxp_1111111111111111_goodgoodgoodgoodgoodgood"


@pytest.fixture(scope="module")
def page_run() -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (it runs the page's script against a fake DOM)")
    done = subprocess.run(
        [node, str(HARNESS), str(WEB_DIR), GOOD_KEY], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    run: dict[str, Any] = json.loads(done.stdout)
    return run


@pytest.fixture(scope="module")
def page_steps(page_run) -> dict[str, dict]:
    return {step["step"]: step for step in page_run["steps"]}


def test_the_page_keeps_the_key_for_its_tab_only_and_erases_one_an_older_page_kept(page_run):
    storage = page_run["storage"]
    # The last key the page was given, for this tab only; nothing lasting on disk.
    assert storage["kept_after_use"] == {"lasting": [], "tab": [GOOD_KEY]}
    older = "vxp_2222222222222222_olderolderolderolderolde"
    assert storage["older_key_read"] == older
    assert storage["after_older_key"] == {"lasting": [], "tab": [older]}


def test_the_pages_controls_stay_disabled_until_the_server_accepts_a_key(page_steps):
    for step in ("no key", "start clicked without a key", "wrong key"):
        assert all(page_steps[step]["disabled"].values()), step
    assert not any(page_steps["good key"]["disabled"].values())
    assert page_steps["good key"]["profiles"] == 2
    assert all(page_steps["key changed to a wrong one"]["disabled"].values())


def test_live_enrolment_and_verification_offer_no_passphrase_profile(page_steps):
    # The live WebSockets refuse a passphrase profile (it takes clips that say its
    # passphrase): the page lists it in its table, and in the passphrase section only.
    shown = page_steps["good key"]
    assert shown["live_choices"] == {"enroll-profile": ["p1"], "verify-profile": ["p1"]}


def test_a_profile_made_in_the_passphrase_section_reaches_the_table_and_live_lists(page_steps):
    created = page_steps["profile created in the passphrase section"]
    assert created["profiles"] == 3
    assert created["live_choices"]["enroll-profile"] == ["p3", "p1"]


def test_deleting_a_profile_in_the_table_tells_the_passphrase_section(page_steps):
    deleted = page_steps["profile deleted in the table"]
    assert deleted["status"] == "Deleted Carol."
    assert deleted["told"] == [{"type": "voxprint:profiles-changed", "from": "app"}]


def test_a_refused_key_gets_one_clear_message_that_says_how_to_make_one(page_steps):
    for step in ("wrong key", "key changed to a wrong one"):
        shown = page_steps[step]
        assert shown["status_is_error"]
        assert shown["status"].startswith("The server refused this API key")
        assert "voxprint keys create --name" in shown["status"]
        assert "Map" not in shown["status"]
    assert page_steps["good key"]["status"] == "Key accepted; kept for this tab only."


def test_the_profile_table_says_when_the_server_holds_more_profiles_than_it_lists(page_steps):
    assert page_steps["no key"]["profiles_note"] is None  # hidden as served
    assert page_steps["good key"]["profiles_note"] is None  # all listed: no note
    more = page_steps["more profiles than one page"]
    assert more["profiles"] == 3
    assert more["profiles_note"].startswith("Showing the first 3 of 1234 profiles")


def test_the_passphrase_section_says_when_the_server_holds_more_profiles_than_it_lists(
    page_steps,
):
    assert page_steps["no key"]["phrase_profiles_note"] is None  # hidden as served
    assert page_steps["good key"]["phrase_profiles"] == 2
    assert page_steps["good key"]["phrase_profiles_note"] is None  # all listed: no note
    more = page_steps["more profiles than one page"]
    assert more["phrase_profiles"] == 3
    # The table's own wording, under the passphrase section's profile list.
    assert more["phrase_profiles_note"] == more["profiles_note"]
    assert more["phrase_profiles_note"].startswith("Showing the first 3 of 1234 profiles")


def test_the_pages_profile_lists_ask_for_the_servers_largest_page():
    shared = (WEB_DIR / "profiles.js").read_text()
    (page,) = re.findall(r"export const PROFILE_PAGE = (\d+);", shared)
    assert int(page) == MAX_PAGE
    for script in ("app.js", "spoken.js"):
        source = (WEB_DIR / script).read_text()
        assert "/v1/profiles?limit=${PROFILE_PAGE}" in source, script
        assert "?limit=500" not in source, script


@pytest.mark.parametrize("step", ["enrol as with a revoked key", "diarize with a revoked key"])
def test_diarizing_and_enrolling_a_diarized_speaker_show_the_key_refused_message(page_steps, step):
    assert page_steps["diarized"]["timeline_rows"] == 2  # a speaker row and the time axis
    refused = page_steps[step]
    assert refused["status_is_error"]
    assert refused["status"].startswith("The server refused this API key")
    assert all(refused["disabled"].values())  # Diarize too: not re-enabled afterwards


def test_the_command_the_page_suggests_creates_a_key(tmp_path, page_steps):
    hint = page_steps["no key"]["status"]
    (command,) = re.findall(r"voxprint (keys create [^(]+)", hint)
    db = tmp_path / "served.db"
    args = command.replace("NAME", "browser").replace("DATABASE", str(db)).split()
    created = CliRunner().invoke(cli, args)
    assert created.exit_code == 0, created.output
    assert created.output.startswith("vxp_") and db.is_file()


def test_every_control_that_needs_a_key_is_disabled_in_the_page_as_served():
    html = (WEB_DIR / "index.html").read_text()
    needs_key = re.findall(r"<[^>]*\bdata-needs-key\b[^>]*>", html)
    assert len(needs_key) >= 8
    assert all(re.search(r"\bdisabled\b", tag) for tag in needs_key)


def test_the_key_field_has_no_name_so_a_form_sent_before_the_script_runs_leaks_no_key():
    # A form's named fields go into the URL of a GET submission: pressing "Save key"
    # before app.js has loaded (or with scripts off) would put the key in the address
    # bar, the history, the Referer of later requests and proxies' logs.
    html = (WEB_DIR / "index.html").read_text()
    (key_input,) = re.findall(r'<input[^>]*\bid="api-key"[^>]*>', html)
    assert 'type="password"' in key_input
    assert not re.search(r"\bname=", key_input)


def test_the_live_panel_says_why_a_voice_is_unknown_in_the_words_listen_uses():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (it runs the page's script)")
    module = (WEB_DIR / "reasons.js").as_uri()
    reasons = ["look_alike", "insufficient_speech", "no_match", None]
    code = (
        f"import {{ unknownLabel }} from {json.dumps(module)};"
        f"console.log(JSON.stringify({json.dumps(reasons)}.map(unknownLabel)));"
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    labels = dict(
        zip(
            ["look_alike", "insufficient_speech", "no_match", "none"],
            json.loads(done.stdout),
            strict=True,
        )
    )
    assert labels["look_alike"] == f"unknown: {UNKNOWN_BECAUSE['look_alike']}"
    assert labels["insufficient_speech"] == f"unknown: {UNKNOWN_BECAUSE['insufficient_speech']}"
    assert labels["no_match"] == labels["none"] == "unknown"
    assert "unknownLabel(message.reason)" in (WEB_DIR / "app.js").read_text()
