"""Faults of the store: a full disk, a read-only database, retried requests.

What a response acknowledges must be exactly what was stored: a 5xx never hides a stored
write, a retry never stores twice, and a store that cannot write still answers decisions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from voxprint.api import create_app
from voxprint.enrollment import EnrollmentPolicy
from voxprint.errors import StoreError
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig
from voxprint.service import VoxprintService
from voxprint.store import SQLiteStore

from apihelp import auth, client_for, issue_key, settings, voice_wav
from fakes import RATE, EnergyVad, ToneEncoder, tone_thresholds, voice


class FaultyStore(SQLiteStore):
    """A SQLite store whose connections can be made read-only or full on demand."""

    pragmas: tuple[str, ...] = ()

    def _connection(self) -> sqlite3.Connection:
        conn = super()._connection()
        for pragma in self.pragmas:
            conn.execute(pragma)
        return conn

    def fill_up(self) -> None:
        """No page can be added any more: the next write that grows the file fails."""
        pages = super()._connection().execute("PRAGMA page_count").fetchone()[0]
        self.pragmas = (f"PRAGMA max_page_count = {pages}",)

    def make_read_only(self) -> None:
        self.pragmas = ("PRAGMA query_only = ON",)


def make_service(db: Path) -> tuple[VoxprintService, FaultyStore]:
    store = FaultyStore(db)
    pipeline = EmbeddingPipeline(
        ToneEncoder(), config=PipelineConfig(min_speech_seconds=1.0), vad=EnergyVad()
    )
    service = VoxprintService(
        pipeline=pipeline,
        store=store,
        thresholds=tone_thresholds(store),
        enrollment=EnrollmentPolicy(min_net_speech_seconds=5.0),
    )
    return service, store


def test_a_full_disk_fails_an_enrolment_without_storing_its_clip_or_its_log(tmp_path):
    service, store = make_service(tmp_path / "full.db")
    profile = service.create_profile("alice")
    logged = len(service.activity())
    store.fill_up()
    with pytest.raises(StoreError):
        for seed in range(40):  # enough clips to need a new page
            service.enroll(profile.id, (voice(150, 6.0, seed=seed), RATE))
    stored = store.list_clips(service.namespace, profile.id)
    store.pragmas = ()
    # Every clip acknowledged is stored with its log entry; the refused one is in neither.
    assert len(service.activity()) - logged == len(stored)
    assert service.get_profile(profile.id).clip_count == len(stored)


def test_a_retried_enrolment_is_stored_once_and_reported_as_a_duplicate(tmp_path):
    service, _ = make_service(tmp_path / "retry.db")
    profile = service.create_profile("alice")
    clip = (voice(150, 6.0, seed=1), RATE)
    first = service.enroll(profile.id, clip)
    again = service.enroll(profile.id, clip)
    assert not first.duplicate and again.duplicate
    assert service.get_profile(profile.id).clip_count == 1
    assert again.net_speech_seconds == first.net_speech_seconds
    other = service.enroll(profile.id, (voice(150, 6.0, seed=2), RATE))
    assert not other.duplicate and service.get_profile(profile.id).clip_count == 2


def test_decisions_still_answer_on_a_read_only_store_and_report_the_log_gap(tmp_path):
    service, store = make_service(tmp_path / "ro.db")
    profile = service.create_profile("alice")
    service.enroll(profile.id, (voice(150, 6.0, seed=1), RATE))
    store.make_read_only()
    result = service.verify(profile.id, (voice(150, 3.0, seed=2), RATE))
    assert result.decision.value == "accept" and result.activity_logged is False
    who = service.identify((voice(150, 3.0, seed=3), RATE))
    assert who.identified is not None and who.activity_logged is False
    with pytest.raises(StoreError):
        service.enroll(profile.id, (voice(150, 6.0, seed=4), RATE))
    assert store.writable() is False


def test_the_service_reports_a_read_only_store_as_not_ready_without_its_path(tmp_path):
    service, store = make_service(tmp_path / "secret-place.db")
    key = issue_key(service, "default")
    app = create_app(settings(), service=service)
    with client_for(app) as client:
        profile = client.post("/v1/profiles", json={"name": "a"}, headers=auth(key)).json()
        assert client.get("/readyz").status_code == 200
        store.make_read_only()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "store_read_only"
        refused = client.post(
            f"/v1/profiles/{profile['id']}/enrollments",
            content=voice_wav(150, 6, seed=1),
            headers={**auth(key), "Content-Type": "audio/wav"},
        )
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "store_error"
        assert "secret-place" not in refused.text and str(tmp_path) not in refused.text


def test_a_retried_enrolment_request_answers_200_and_stores_nothing_new(tmp_path):
    service, _ = make_service(tmp_path / "api.db")
    key = issue_key(service, "default")
    app = create_app(settings(), service=service)
    with client_for(app) as client:
        profile = client.post("/v1/profiles", json={"name": "a"}, headers=auth(key)).json()
        url = f"/v1/profiles/{profile['id']}/enrollments"
        headers = {**auth(key), "Content-Type": "audio/wav"}
        body = voice_wav(150, 6, seed=1)
        first = client.post(url, content=body, headers=headers)
        retry = client.post(url, content=body, headers=headers)
        assert (first.status_code, retry.status_code) == (201, 200)
        assert first.json()["duplicate"] is False and retry.json()["duplicate"] is True
        assert retry.json()["profile"]["clip_count"] == 1
