"""The native REST routes with the real model (CAM++, Silero VAD) on LibriSpeech speech.

The app builds its own service in the lifespan from settings, exactly as
``voxprint serve`` does, so this covers the model-loading and inference path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voxprint.access import KeyService
from voxprint.api import create_app
from voxprint.settings import Settings
from voxprint.store import SQLiteStore

from apihelp import auth, client_for

pytestmark = [pytest.mark.data, pytest.mark.slow]

FLAC = {"Content-Type": "audio/flac"}


def speaker_files(data_root: Path) -> list[list[Path]]:
    folders = sorted(p for p in (data_root / "librispeech" / "test-other").iterdir() if p.is_dir())
    return [sorted(folder.glob("*.flac")) for folder in folders[:3]]


def test_the_real_model_enrols_verifies_and_identifies_over_http(data_root, tmp_path):
    db = tmp_path / "v.db"
    store = SQLiteStore(db)
    key = KeyService(store).create("it", "default").token
    store.close()
    (alice, alice_probe), (bob, bob_probe), (_, stranger_probe) = (
        (files[:-1], files[-1].read_bytes()) for files in speaker_files(data_root)
    )
    app = create_app(Settings(db=str(db), model="campplus", log_json=False))
    with client_for(app) as client:
        client.headers.update(auth(key))
        ids = {}
        for name, files in (("alice", alice), ("bob", bob)):
            ids[name] = client.post("/v1/profiles", json={"name": name}).json()["id"]
            for path in files:
                report = client.post(
                    f"/v1/profiles/{ids[name]}/enrollments", content=path.read_bytes(), headers=FLAC
                ).json()
                assert report["clip_net_speech_seconds"] > 0
                if report["status"] == "enrolled":
                    break
            assert report["status"] == "enrolled", report
            assert report["net_speech_seconds"] >= 20.0 and report["remaining_speech_seconds"] == 0
        same = client.post(f"/v1/profiles/{ids['alice']}/verify", content=alice_probe, headers=FLAC)
        assert same.status_code == 200 and same.json()["decision"] == "accept", same.json()
        other = client.post(f"/v1/profiles/{ids['alice']}/verify", content=bob_probe, headers=FLAC)
        assert other.json()["decision"] == "reject"
        found = client.post("/v1/identify", content=alice_probe, headers=FLAC).json()
        assert found["identified"]["profile_id"] == ids["alice"] and found["gallery_size"] == 2
        nobody = client.post("/v1/identify", content=stranger_probe, headers=FLAC)
        assert nobody.json()["unknown"] is True and nobody.json()["identified"] is None
        metrics = client.get("/metrics").text
    assert 'voxprint_inference_seconds_count{operation="verify"} 2.0' in metrics
