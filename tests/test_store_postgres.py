"""What only the PostgreSQL store has: pooled connections and their failures, migrations in
a database, pgvector's HNSW index, real deletion. The behaviour both stores share is tested
on both in test_store_sqlite.py, test_store_cohort.py, test_gallery_index.py and
test_api_streams.py."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
from typer.testing import CliRunner

from voxprint.api import create_app
from voxprint.cli.app import app as cli
from voxprint.cli.exit_codes import ExitCode
from voxprint.enrollment import EnrollmentPolicy
from voxprint.errors import (
    DuplicateClipError,
    InvalidParameterError,
    SchemaVersionError,
    StoreError,
)
from voxprint.pipeline import EmbeddingPipeline, PipelineConfig
from voxprint.service import VoxprintService
from voxprint.store import open_store
from voxprint.store.checks import redact
from voxprint.store.records import (
    Activity,
    Band,
    Clip,
    EnrollmentState,
    EnrollmentStatus,
    Profile,
    ScoreScale,
)

from apihelp import auth, client_for, issue_key, settings
from fakes import EnergyVad, ToneEncoder, tone_calibration, tone_thresholds
from pghelp import database_url, drop_database

NOWHERE = "postgresql://voxprint:s3cret-pass@/voxprint?host=/nonexistent-socket-dir&pool_timeout=1"


def profile(pid: str, namespace: str = "default") -> Profile:
    now = datetime.now(UTC)
    return Profile(
        id=pid,
        namespace=namespace,
        name=pid,
        encoder_name="toy",
        encoder_version="1",
        created_at=now,
        updated_at=now,
    )


def clip(profile_id: str, vector: np.ndarray, content_hash: str | None = None) -> Clip:
    return Clip(
        id=uuid.uuid4().hex,
        profile_id=profile_id,
        embedding=vector,
        audio_seconds=25.0,
        net_speech_seconds=25.0,
        created_at=datetime.now(UTC),
        content_hash=content_hash,
    )


def enrolled(clips, before=EnrollmentStatus.ENROLLING):
    mean = np.mean([c.embedding for c in clips], axis=0) if clips else None
    if mean is None:
        return EnrollmentState(None, EnrollmentStatus.ENROLLING, 0.0, 0.0)
    return EnrollmentState(
        (mean / np.linalg.norm(mean)).astype(np.float32), EnrollmentStatus.ENROLLED, 25.0, 25.0
    )


@pytest.fixture()
def store(postgres_url):
    opened = open_store(postgres_url)
    yield opened
    opened.close()


def test_the_password_of_a_store_url_never_shows_in_what_is_printed():
    assert redact("postgresql://u:hunter2@db:5432/v?sslmode=require") == (
        "postgresql://u:***@db:5432/v?sslmode=require"
    )
    assert "hunter2" not in redact("postgresql://db/v?password=hunter2&user=u")
    assert redact("postgresql://u@db/v") == "postgresql://u@db/v"


def test_an_unreachable_database_is_one_store_error_without_the_password():
    with pytest.raises(StoreError) as caught:
        open_store(NOWHERE)
    message = caught.value.message
    assert "s3cret-pass" not in message and "\n" not in message
    assert "cannot open the PostgreSQL store" in message and "***" in message


def test_the_cli_answers_an_unreachable_database_with_one_line_and_the_store_exit_code():
    result = CliRunner().invoke(cli, ["keys", "list", "--db", NOWHERE])
    assert result.exit_code == ExitCode.DATA
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open the PostgreSQL store")
    assert "s3cret-pass" not in result.output


def test_an_unknown_pool_option_is_refused_by_name(postgres_url):
    with pytest.raises(StoreError, match="pool_sise"):
        open_store(postgres_url + "&pool_sise=3")


def test_a_database_from_a_newer_voxprint_raises_schema_version_error(store, postgres_url):
    with store._transaction(write=True) as conn:
        conn.execute("UPDATE voxprint_schema SET version = version + 1")
    with pytest.raises(SchemaVersionError, match="upgrade voxprint"):
        open_store(postgres_url)


def test_a_database_that_goes_away_makes_calls_fail_with_store_error_and_the_service_503(
    postgres_server, postgres_url
):
    store = open_store(postgres_url + "&pool_timeout=1")
    pipeline = EmbeddingPipeline(
        ToneEncoder(), config=PipelineConfig(min_speech_seconds=1.0), vad=EnergyVad()
    )
    service = VoxprintService(
        pipeline=pipeline,
        store=store,
        thresholds=tone_thresholds(store),
        enrollment=EnrollmentPolicy(min_net_speech_seconds=5.0),
    )
    key = issue_key(service, "default")
    with client_for(create_app(settings(), service=service)) as client:
        assert client.get("/v1/profiles", headers=auth(key)).status_code == 200
        drop_database(postgres_server, postgres_url)  # terminates the pool's connections
        answer = client.post("/v1/profiles", json={"name": "a"}, headers=auth(key))
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "store_error"
        assert client.get("/readyz").status_code == 503
        with pytest.raises(StoreError):
            store.count_profiles("default")
    store.close()


def test_a_restarted_connection_is_replaced_by_the_pool(store):
    store.create_profile(profile("p1"))
    with store._transaction(write=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    # The pool checks each connection before lending it: the next calls just work.
    assert [store.count_profiles("default") for _ in range(3)] == [1, 1, 1]


def undo_one_calibration_per_band(conn) -> None:
    """Take the calibrations table back to schema version 9: one per scale."""
    conn.execute("ALTER TABLE calibrations DROP COLUMN band_key")  # and its primary key
    conn.execute("ALTER TABLE calibrations ADD PRIMARY KEY (encoder_name, encoder_version, scale)")


def test_a_version_9_database_keeps_its_calibrations_with_their_bands(store, postgres_url):
    wide = replace(tone_calibration(), bands=frozenset({Band.WIDE}))
    store.save_calibration(wide)
    store.save_calibration(replace(tone_calibration(ScoreScale.ASNORM, 3.0), bands=None))
    with store._transaction(write=True) as conn:
        undo_one_calibration_per_band(conn)
        conn.execute("UPDATE voxprint_schema SET version = 9")
    migrated_store = open_store(postgres_url)
    try:
        cosine, asnorm = migrated_store.get_calibrations("tone", "1")
        assert (cosine.bands, cosine.threshold) == (wide.bands, wide.threshold)
        assert (asnorm.scale, asnorm.bands) == (ScoreScale.ASNORM, None)
        migrated_store.save_calibration(replace(wide, bands=frozenset({Band.NARROW})))
        both = migrated_store.get_calibrations("tone", "1", ScoreScale.COSINE)
        assert [c.bands for c in both] == [wide.bands, frozenset({Band.NARROW})]
    finally:
        migrated_store.close()


def test_a_database_from_before_profiles_kept_their_bands_gets_them_from_its_clips(
    store, postgres_url
):
    from test_store_sqlite import enrol_band_kinds

    enrolled = enrol_band_kinds(store)
    with store._transaction(write=True) as conn:
        conn.execute("ALTER TABLE profiles DROP COLUMN band, DROP COLUMN statistics_band")
        conn.execute("ALTER TABLE gallery_statistics DROP COLUMN centre")
        undo_one_calibration_per_band(conn)
        conn.execute("ALTER TABLE calibrations DROP COLUMN bands")
        conn.execute("ALTER TABLE gallery_statistics DROP COLUMN band_centres")
        conn.execute("UPDATE voxprint_schema SET version = 5")
    migrated_store = open_store(postgres_url)
    try:
        for profile in enrolled.values():
            migrated = migrated_store.get_profile("default", profile.id)
            assert (migrated.band, migrated.statistics_band) == (
                profile.band,
                profile.statistics_band,
            ), profile.name
    finally:
        migrated_store.close()


def test_a_clip_whose_audio_the_profile_has_writes_nothing_not_even_its_activity(store):
    store.create_profile(profile("p1"))
    vector = np.ones(8, np.float32)
    store.add_clip(
        "default", clip("p1", vector, "hash-1"), enrolled, activity=Activity("enroll", None, "p1")
    )
    with pytest.raises(DuplicateClipError):
        store.add_clip(
            "default",
            clip("p1", vector, "hash-1"),
            enrolled,
            activity=Activity("enroll", None, "p1"),
        )
    assert len(store.list_clips("default", "p1")) == 1
    assert [e.action for e in store.list_activity("default")] == ["enroll"]


def test_enrolled_voiceprints_get_an_hnsw_index_that_the_nearest_query_uses(store, rng):
    dim = 16
    vectors = rng.normal(size=(300, dim)).astype(np.float32)
    for i, vector in enumerate(vectors):
        store.create_profile(profile(f"p{i:03d}"))
        store.add_clip("default", clip(f"p{i:03d}", vector), enrolled)
    with store._transaction(write=True) as conn:
        indexes = {
            row["indexname"]
            for row in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'profiles'")
        }
        assert f"profiles_voiceprint_hnsw_{dim}" in indexes
        # A table this small is cheaper to sort; at scale the planner picks the index.
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SET LOCAL enable_sort = off")
        plan = "\n".join(
            row["QUERY PLAN"]
            for row in conn.execute(
                "EXPLAIN SELECT id FROM profiles WHERE dimension = 16 AND status = 'enrolled' "
                "AND namespace = 'default' ORDER BY voiceprint::vector(16) <=> %b LIMIT 5",
                (_as_vector(vectors[0]),),
            )
        )
    assert f"profiles_voiceprint_hnsw_{dim}" in plan
    found = store.nearest("default", vectors[42], encoder_name="toy", encoder_version="1", k=5)
    assert found.profile_ids[0] == "p042" and len(found) == 5
    other_namespace = store.nearest(
        "elsewhere", vectors[42], encoder_name="toy", encoder_version="1", k=5
    )
    assert len(other_namespace) == 0


def test_with_search_in_worker_a_large_gallery_is_searched_in_process_and_kept_in_step(
    postgres_url, rng, monkeypatch
):
    from voxprint.gallery_index import GalleryIndex

    dim = 16
    vectors = rng.normal(size=(60, dim)).astype(np.float32)
    worker = open_store(postgres_url + "&search_in=worker")
    other = open_store(postgres_url)  # another worker, writing
    assert not worker.search_in_database and other.search_in_database
    try:
        for i, vector in enumerate(vectors):
            other.create_profile(profile(f"p{i:03d}"))
            other.add_clip("default", clip(f"p{i:03d}", vector), enrolled)

        def no_database_search(*args, **kwargs):
            raise AssertionError("searched in the database")

        monkeypatch.setattr(type(worker), "nearest", no_database_search)
        # "approximate" from 50 voiceprints: the size from which the database would search.
        index = GalleryIndex(worker, "toy", "1", approximate_from=50)
        found = index.candidates("default", vectors[42], k=5)
        assert found.profile_ids[0] == "p042" and found.gallery_size == 60
        other.create_profile(profile("newcomer"))
        other.add_clip("default", clip("newcomer", vectors[7] * 3), enrolled)
        other.delete_profile("default", "p042")
        assert index.candidates("default", vectors[7], k=2).profile_ids[0] in {"p007", "newcomer"}
        assert "p042" not in index.candidates("default", vectors[42], k=60).profile_ids
    finally:
        worker.close()
        other.close()


def test_an_unknown_search_place_is_refused_by_name(postgres_url):
    with pytest.raises(StoreError, match="search_in"):
        open_store(postgres_url + "&search_in=somewhere")


def _as_vector(array):
    from pgvector import Vector

    return Vector(array)


def test_deleting_a_profile_leaves_no_row_of_its_voiceprint_or_clips(store):
    marker = np.array([1234.5678 + i * 0.0001234 for i in range(16)], dtype=np.float32)
    store.create_profile(profile("victim"))
    store.add_clip("default", clip("victim", marker), enrolled)
    store.create_profile(profile("bystander"))
    store.add_clip("default", clip("bystander", np.ones(16, np.float32)), enrolled)
    store.delete_profile("default", "victim")
    with store._transaction(write=False) as conn:
        left = conn.execute(
            "SELECT (SELECT COUNT(*) FROM profiles WHERE id = 'victim') + "
            "(SELECT COUNT(*) FROM clips WHERE profile_id = 'victim') AS n"
        ).fetchone()["n"]
        marker_rows = conn.execute(
            "SELECT COUNT(*) AS n FROM clips WHERE embedding = %s", (marker.tobytes(),)
        ).fetchone()["n"]
    assert left == 0 and marker_rows == 0
    found = store.nearest("default", marker, encoder_name="toy", encoder_version="1", k=5)
    assert found.profile_ids == ("bystander",)


def test_the_database_url_helper_names_the_database():
    assert database_url("postgresql://postgres:@/postgres?host=/tmp/x", "v1") == (
        "postgresql://postgres:@/v1?host=/tmp/x"
    )


def test_serve_refuses_an_unreachable_database_in_one_line_before_starting_workers():
    result = CliRunner().invoke(cli, ["serve", "--db", NOWHERE, "--port", "1"])
    assert result.exit_code == ExitCode.DATA
    assert result.output.count("\n") == 1 and "s3cret-pass" not in result.output


def test_activity_below_a_before_id_is_listed_newest_first_as_on_sqlite(store):
    for action in ("a", "b", "c", "d"):
        store.log_activity("default", action, profile_id="p1", result="ok")
    store.log_activity("elsewhere", "e", profile_id=None, result="ok")
    ids = {e.action: e.id for e in store.list_activity("default")}

    def page(**kwargs):
        return [e.action for e in store.list_activity("default", **kwargs)]

    assert page(before_id=ids["c"]) == ["b", "a"]
    assert page(before_id=ids["c"], limit=1, offset=1) == ["a"]
    assert page(before_id=ids["d"], profile_id="p1") == ["c", "b", "a"]
    assert page(before_id=ids["a"]) == []


def test_activity_pages_skip_the_newest_entries_as_on_sqlite(store):
    for action in ("a", "b", "c", "d"):
        store.log_activity("default", action, profile_id=None, result="ok")
    store.log_activity("elsewhere", "e", profile_id=None, result="ok")
    assert [e.action for e in store.list_activity("default", limit=2, offset=2)] == ["b", "a"]
    assert [e.action for e in store.list_activity("default", limit=2, offset=3)] == ["a"]
    assert store.list_activity("default", offset=4) == []
    with pytest.raises(InvalidParameterError, match="offset"):
        store.list_activity("default", offset=-1)
