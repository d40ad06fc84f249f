"""Behaviour of the profile store on every backend (SQLite, and PostgreSQL + pgvector started
by the test suite): persistence, isolation, transactions, concurrency. Tests about the SQLite
file itself use ``sqlite_store``."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voxprint.errors import (
    DuplicateExternalIdError,
    EncoderMismatchError,
    InvalidParameterError,
    InvalidProfileError,
    ProfileNotFoundError,
    SchemaVersionError,
    StoreError,
)
from voxprint.store import (
    DEFAULT_NAMESPACE,
    STORES,
    Clip,
    EnrollmentState,
    EnrollmentStatus,
    Profile,
    ProfileChanges,
    ProfileStore,
    SQLiteStore,
    Store,
    open_store,
)
from voxprint.store.records import (
    Activity,
    Band,
    BandCentre,
    GalleryStatistics,
    PhraseProfile,
    ProfileKind,
    RemovedProfile,
)
from voxprint.store.sqlite import MIGRATIONS, SCHEMA_VERSION
from voxprint.store.sqlite import connection as connection_module

ENCODER = ("toy-encoder", "1.0")
DIM = 8
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


# --- helpers ----------------------------------------------------------------------------


def mean_rebuild(
    clips: Sequence[Clip], before: EnrollmentStatus = EnrollmentStatus.ENROLLING
) -> EnrollmentState:
    """Mean of the embeddings, L2-normalised; enrolled once net speech reaches 20 s."""
    if not clips:
        return EnrollmentState(None, EnrollmentStatus.ENROLLING, 0.0, 0.0)
    mean = np.mean([clip.embedding for clip in clips], axis=0)
    voiceprint = (mean / np.linalg.norm(mean)).astype(np.float32)
    net = sum(clip.net_speech_seconds for clip in clips)
    status = EnrollmentStatus.ENROLLED if net >= 20.0 else EnrollmentStatus.ENROLLING
    return EnrollmentState(voiceprint, status, sum(c.audio_seconds for c in clips), net)


def failing_rebuild(clips: Sequence[Clip], before: EnrollmentStatus) -> EnrollmentState:
    raise RuntimeError("rebuild exploded")


def make_profile(
    profile_id: str | None = None,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    name: str = "Ada",
    external_id: str | None = None,
    created_at: datetime = T0,
    encoder: tuple[str, str] = ENCODER,
) -> Profile:
    return Profile(
        id=profile_id or uuid.uuid4().hex,
        namespace=namespace,
        name=name,
        encoder_name=encoder[0],
        encoder_version=encoder[1],
        created_at=created_at,
        updated_at=created_at,
        external_id=external_id,
    )


def make_clip(
    profile_id: str,
    embedding: np.ndarray | None = None,
    *,
    net_speech_seconds: float = 10.0,
    seed: int = 0,
) -> Clip:
    if embedding is None:
        embedding = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return Clip(
        id=uuid.uuid4().hex,
        profile_id=profile_id,
        embedding=embedding,
        audio_seconds=net_speech_seconds + 2.0,
        net_speech_seconds=net_speech_seconds,
        created_at=datetime.now(UTC),
        label="clip",
    )


def enrol(store: SQLiteStore, profile: Profile, clips: int = 2) -> Profile:
    store.create_profile(profile)
    result = profile
    for seed in range(clips):
        result = store.add_clip(
            profile.namespace,
            make_clip(profile.id, seed=seed + sum(profile.id.encode())),
            mean_rebuild,
        )
    return result


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "voices.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, db_path: Path) -> str:
    """Where the store under test lives: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(db_path)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture()
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture()
def sqlite_store(db_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(db_path, timeout_seconds=10) as opened:
        yield opened


def table_columns(store: Store, table: str) -> set[str]:
    """The column names of one of the store's tables, on either backend."""
    if isinstance(store, SQLiteStore):
        return {row[1] for row in store._connection().execute(f"PRAGMA table_info({table})")}
    with store._transaction(write=False) as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
            (table,),
        ).fetchall()
    return {row["column_name"] for row in rows}


# --- opening, schema, file format -------------------------------------------------------


def test_opening_creates_the_parent_folder_and_the_database(db_path: Path) -> None:
    assert not db_path.parent.exists()
    with SQLiteStore(db_path):
        assert db_path.is_file()


def test_the_database_runs_in_wal_mode_with_foreign_keys_and_secure_delete(
    sqlite_store: SQLiteStore, db_path: Path
) -> None:
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn = sqlite_store._connection()
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1


def test_the_schema_version_is_recorded_in_user_version(
    sqlite_store: SQLiteStore, db_path: Path
) -> None:
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 1
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    finally:
        raw.close()
    assert {"profiles", "clips", "activity"} <= tables


def test_reopening_an_up_to_date_database_keeps_its_data(store_url: str) -> None:
    first = open_store(store_url)
    first.create_profile(make_profile("p1"))
    first.close()
    second = open_store(store_url)
    try:
        assert second.get_profile(DEFAULT_NAMESPACE, "p1").name == "Ada"
    finally:
        second.close()


def test_a_database_from_a_newer_voxprint_raises_schema_version_error(db_path: Path) -> None:
    SQLiteStore(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(SchemaVersionError, match=str(SCHEMA_VERSION + 1)):
        SQLiteStore(db_path)


def test_gallery_statistics_keep_the_shrinkage_they_were_scaled_with(store: Store) -> None:
    statistics = GalleryStatistics(
        band=Band.NARROW,
        profiles=3,
        clips=5,
        pairs=3,
        pair_mean=0.3127,
        trial_std=0.1104,
        updated_at=T0,
        shrink_seconds=0.8726,
        speech_offset=0.1452,
        narrow_share=0.25,
        other_pairs=7,
        other_pair_mean=0.0712,
        other_trial_std=0.0951,
    )
    store.save_statistics("ns", *ENCODER, statistics)
    read = store.get_statistics("ns", *ENCODER)
    assert read == statistics
    assert read is not None and read.scaled_with(0.8726, 0.1452)
    assert read.current(0.8726, 0.1452)
    assert not read.scaled_with(0.7, 0.0)
    assert store.get_statistics("other", *ENCODER) is None
    store.save_statistics("ns", *ENCODER, None)
    assert store.get_statistics("ns", *ENCODER) is None


def test_gallery_statistics_keep_the_centre_they_were_measured_around(store: Store) -> None:
    centre = tuple(float(v) for v in np.linspace(-0.5, 0.5, 192, dtype=np.float32))
    statistics = GalleryStatistics(
        band=Band.WIDE,
        profiles=4,
        clips=8,
        pairs=6,
        pair_mean=0.0123,
        trial_std=0.1104,
        updated_at=T0,
        shrink_seconds=1.0743,
        speech_offset=0.0117,
        narrow_share=0.0,
        other_pairs=0,
        centre=centre,
    )
    store.save_statistics("ns", *ENCODER, statistics)
    read = store.get_statistics("ns", *ENCODER)
    assert read == statistics
    assert read is not None and read.current(1.0743, 0.0117, centred=True)
    assert not read.current(1.0743, 0.0117)  # a prior that does not centre recomputes them
    uncentred = replace(statistics, centre=None)
    store.save_statistics("ns", *ENCODER, uncentred)
    read = store.get_statistics("ns", *ENCODER)
    assert read is not None and read.centre is None
    assert not read.current(1.0743, 0.0117, centred=True)
    with pytest.raises(InvalidProfileError):
        store.save_statistics("ns", *ENCODER, replace(statistics, centre=(float("nan"),) * 192))


def test_gallery_statistics_keep_each_bands_own_centre(store: Store) -> None:
    wide = tuple(float(v) for v in np.linspace(-0.5, 0.5, 192, dtype=np.float32))
    narrow = tuple(float(v) for v in np.linspace(0.3, -0.2, 192, dtype=np.float32))
    statistics = GalleryStatistics(
        band=Band.NARROW,
        profiles=7,
        clips=21,
        pairs=6,
        pair_mean=0.0123,
        trial_std=0.1104,
        updated_at=T0,
        shrink_seconds=1.0743,
        speech_offset=0.0117,
        narrow_share=0.5,
        other_pairs=3,
        centre=wide,
        band_centres=(BandCentre(Band.WIDE, 3, wide), BandCentre(Band.NARROW, 4, narrow)),
    )
    store.save_statistics("ns", *ENCODER, statistics)
    read = store.get_statistics("ns", *ENCODER)
    assert read == statistics
    assert read is not None and read.band_centre(Band.NARROW) == BandCentre(Band.NARROW, 4, narrow)
    assert read.current(1.0743, 0.0117, centred=True)
    # both bands have pairs: without their own centres the row is stale
    store.save_statistics("ns", *ENCODER, replace(statistics, band_centres=None))
    read = store.get_statistics("ns", *ENCODER)
    assert read is not None and read.band_centres is None
    assert not read.current(1.0743, 0.0117, centred=True)
    broken = (BandCentre(Band.WIDE, 3, (float("inf"),) * 192),)
    with pytest.raises(InvalidProfileError):
        store.save_statistics("ns", *ENCODER, replace(statistics, band_centres=broken))


def test_statistics_stored_before_the_shrinkage_was_recorded_read_as_scaled_with_none(
    db_path: Path,
) -> None:
    """A version 8 database (no shrinkage columns) is migrated; its rows keep their numbers
    and say they were scaled with no known shrinkage, so they count as stale."""
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path)
    for step in range(8):
        MIGRATIONS[step](raw)
    raw.execute("PRAGMA user_version = 8")
    raw.execute(
        "INSERT INTO gallery_statistics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ("ns", *ENCODER, "wideband", 2, 2, 1, 0.21, 0.09, T0.isoformat()),
    )
    raw.commit()
    raw.close()
    with SQLiteStore(db_path) as store:
        read = store.get_statistics("ns", *ENCODER)
    assert read is not None and (read.pair_mean, read.trial_std) == (0.21, 0.09)
    assert (read.shrink_seconds, read.speech_offset) == (None, None)
    assert not read.scaled_with(0.8726, 0.1452)
    assert read.other_pairs is None  # both bands' pairs were blended then
    assert not read.current(0.8726, 0.1452)


def test_a_file_that_is_not_sqlite_raises_store_error_and_is_left_alone(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.db"
    content = b"these are my notes, not a database. " * 20
    bogus.write_bytes(content)
    with pytest.raises(StoreError, match="not a SQLite database") as caught:
        SQLiteStore(bogus)
    assert not isinstance(caught.value, SchemaVersionError)
    assert bogus.read_bytes() == content


def test_a_folder_path_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="folder"):
        SQLiteStore(tmp_path)


@pytest.mark.parametrize("unwritable", ["file", "folder"])
def test_a_database_this_user_cannot_write_opens_read_only_and_refuses_writes(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, unwritable: str
) -> None:
    with SQLiteStore(db_path) as writer:
        writer.create_profile(make_profile("p1"))
    before = db_path.read_bytes()
    denied = db_path if unwritable == "file" else db_path.parent
    real_access = connection_module.os.access

    def access(path, mode):  # the tests may run as root, whom permissions do not stop
        if Path(path) == denied and mode & os.W_OK:
            return False
        return real_access(path, mode)

    monkeypatch.setattr(connection_module.os, "access", access)
    with SQLiteStore(db_path) as reader:
        assert reader.read_only and reader.writable() is False
        assert reader.get_profile(DEFAULT_NAMESPACE, "p1").name == "Ada"
        assert reader.count_profiles(DEFAULT_NAMESPACE) == 1
        with pytest.raises(StoreError, match="read-only"):
            reader.create_profile(make_profile("p2"))
        with pytest.raises(StoreError, match="read-only"):
            reader.delete_profile(DEFAULT_NAMESPACE, "p1")
    assert db_path.read_bytes() == before


def test_a_database_this_user_can_write_is_not_read_only(sqlite_store: SQLiteStore) -> None:
    assert sqlite_store.read_only is False and sqlite_store.writable() is True


def test_a_closed_store_refuses_further_calls(store_url: str) -> None:
    opened = open_store(store_url)
    opened.close()
    with pytest.raises(StoreError, match="closed"):
        opened.count_profiles(DEFAULT_NAMESPACE)
    opened.close()  # idempotent


def test_every_backend_satisfies_the_profile_store_protocol(store: SQLiteStore) -> None:
    as_protocol: ProfileStore = store
    assert as_protocol.count_profiles(DEFAULT_NAMESPACE) == 0


# --- open_store -------------------------------------------------------------------------


def test_open_store_accepts_a_plain_path(db_path: Path) -> None:
    opened = open_store(str(db_path))
    try:
        assert isinstance(opened, SQLiteStore)
        assert db_path.is_file()
    finally:
        opened.close()


def test_open_store_accepts_a_sqlite_url_with_an_absolute_path(db_path: Path) -> None:
    opened = open_store(f"sqlite:///{db_path}")  # absolute path: sqlite:////tmp/...
    try:
        assert isinstance(opened, SQLiteStore)
        assert opened.path == db_path
    finally:
        opened.close()


def test_open_store_reads_a_three_slash_sqlite_url_as_a_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    opened = open_store("sqlite:///sub/voices.db")
    try:
        assert (tmp_path / "sub" / "voices.db").is_file()
    finally:
        opened.close()


def test_open_store_rejects_an_unknown_scheme_naming_the_supported_ones() -> None:
    assert "sqlite" in STORES
    with pytest.raises(StoreError, match="sqlite://"):
        open_store("mongodb://localhost/voices")


def test_open_store_rejects_a_sqlite_url_with_a_host() -> None:
    with pytest.raises(StoreError, match="host"):
        open_store("sqlite://somehost/voices.db")


# --- profiles ---------------------------------------------------------------------------


def test_every_profile_field_round_trips_including_a_bit_exact_voiceprint(
    store: SQLiteStore,
) -> None:
    voiceprint = np.array(
        [np.pi, -0.0, 1e-40, -3.4e38, 1 / 3, 0.1, -7.25, 2.0**-20], dtype=np.float32
    )
    profile = Profile(
        id="p-roundtrip",
        namespace="tenant-a",
        name="Grace Hopper",
        encoder_name="ecapa",
        encoder_version="2.1",
        created_at=datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        updated_at=datetime(2024, 1, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2))),
        external_id="emp-42",
        metadata={"team": "navy", "tags": ["cobol", "compilers"], "level": 3, "x": None},
        status=EnrollmentStatus.ENROLLED,
        clip_count=3,
        audio_seconds=31.5,
        net_speech_seconds=24.25,
        voiceprint=voiceprint,
    )
    created = store.create_profile(profile)
    loaded = store.get_profile("tenant-a", "p-roundtrip")
    for got in (created, loaded):
        assert got == profile  # every field but the voiceprint
        assert got.created_at.tzinfo is not None
        assert got.updated_at.utcoffset() == timedelta(0)
        assert got.voiceprint is not None
        assert got.voiceprint.dtype == np.float32
        assert got.voiceprint.tobytes() == voiceprint.tobytes()
    assert store.find_by_external_id("tenant-a", "emp-42") == profile


def test_a_profile_without_voiceprint_reads_back_none(store: SQLiteStore) -> None:
    store.create_profile(make_profile("p1"))
    loaded = store.get_profile(DEFAULT_NAMESPACE, "p1")
    assert loaded.voiceprint is None
    assert loaded.status is EnrollmentStatus.ENROLLING
    assert loaded.metadata == {}


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_a_blank_name_is_rejected(store: SQLiteStore, name: str) -> None:
    with pytest.raises(InvalidProfileError, match="name"):
        store.create_profile(make_profile(name=name))
    assert store.count_profiles(DEFAULT_NAMESPACE) == 0


def test_a_name_or_external_id_over_200_characters_is_rejected(store: SQLiteStore) -> None:
    with pytest.raises(InvalidProfileError, match="at most 200"):
        store.create_profile(make_profile(name="n" * 201))
    with pytest.raises(InvalidProfileError, match="at most 200"):
        store.create_profile(make_profile(external_id="e" * 201))
    store.create_profile(make_profile(name="n" * 200))
    assert store.count_profiles(DEFAULT_NAMESPACE) == 1


@pytest.mark.parametrize(
    "metadata", [{"when": datetime.now(UTC)}, {"x": {1, 2}}, {"n": float("nan")}]
)
def test_metadata_that_is_not_json_is_rejected(store: SQLiteStore, metadata: dict) -> None:
    profile = Profile(
        id="p1",
        namespace=DEFAULT_NAMESPACE,
        name="Ada",
        encoder_name=ENCODER[0],
        encoder_version=ENCODER[1],
        created_at=T0,
        updated_at=T0,
        metadata=metadata,
    )
    with pytest.raises(InvalidProfileError, match="JSON"):
        store.create_profile(profile)


def test_a_naive_timestamp_is_rejected(store: SQLiteStore) -> None:
    with pytest.raises(InvalidProfileError, match="timezone"):
        store.create_profile(make_profile(created_at=datetime(2024, 1, 1)))


def test_a_duplicate_external_id_is_rejected_in_its_namespace_but_allowed_in_another(
    store: SQLiteStore,
) -> None:
    store.create_profile(make_profile("p1", namespace="a", external_id="emp-1"))
    with pytest.raises(DuplicateExternalIdError, match="emp-1"):
        store.create_profile(make_profile("p2", namespace="a", external_id="emp-1"))
    store.create_profile(make_profile("p3", namespace="b", external_id="emp-1"))
    assert store.find_by_external_id("a", "emp-1").id == "p1"
    assert store.find_by_external_id("b", "emp-1").id == "p3"
    assert store.count_profiles("a") == 1


def test_profiles_without_external_id_do_not_collide(store: SQLiteStore) -> None:
    store.create_profile(make_profile("p1"))
    store.create_profile(make_profile("p2"))
    assert store.count_profiles(DEFAULT_NAMESPACE) == 2


def test_a_duplicate_profile_id_raises_store_error(store: SQLiteStore) -> None:
    store.create_profile(make_profile("p1", namespace="a"))
    with pytest.raises(StoreError, match="p1") as caught:
        store.create_profile(make_profile("p1", namespace="b"))
    assert not isinstance(caught.value, DuplicateExternalIdError)


def test_unknown_ids_raise_profile_not_found_naming_the_id(store: SQLiteStore) -> None:
    with pytest.raises(ProfileNotFoundError, match="ghost"):
        store.get_profile(DEFAULT_NAMESPACE, "ghost")
    with pytest.raises(ProfileNotFoundError, match="ext-ghost"):
        store.find_by_external_id(DEFAULT_NAMESPACE, "ext-ghost")
    with pytest.raises(ProfileNotFoundError, match="ghost"):
        store.delete_profile(DEFAULT_NAMESPACE, "ghost")
    with pytest.raises(ProfileNotFoundError, match="ghost"):
        store.add_clip(DEFAULT_NAMESPACE, make_clip("ghost"), mean_rebuild)
    with pytest.raises(ProfileNotFoundError, match="ghost"):
        store.update_profile(DEFAULT_NAMESPACE, "ghost", ProfileChanges(name="x"))


def test_a_ready_made_voiceprint_does_not_keep_a_profile_enrolled_on_its_first_clip(
    store: Store,
) -> None:
    """Found in review: enrolled without clips (an imported voiceprint), then one 0.8 s
    clip kept it enrolled on that clip alone."""
    from dataclasses import replace

    from voxprint.enrollment import EnrollmentPolicy

    imported = replace(
        make_profile(),
        status=EnrollmentStatus.ENROLLED,
        voiceprint=np.ones(DIM, np.float32) / np.sqrt(DIM),
        net_speech_seconds=30.0,
    )
    store.create_profile(imported)
    clip = make_clip(imported.id, net_speech_seconds=0.8)
    after = store.add_clip(DEFAULT_NAMESPACE, clip, EnrollmentPolicy(20.0).summarize)
    assert after.status is EnrollmentStatus.ENROLLING


def test_the_rebuild_is_given_the_profiles_status_before_the_change(store: Store) -> None:
    seen: list[EnrollmentStatus] = []

    def recording(clips: Sequence[Clip], before: EnrollmentStatus) -> EnrollmentState:
        seen.append(before)
        return mean_rebuild(clips, before)

    profile = make_profile()
    store.create_profile(profile)
    for seed in range(3):
        store.add_clip(DEFAULT_NAMESPACE, make_clip(profile.id, seed=seed), recording)
    store.reset_profile(DEFAULT_NAMESPACE, profile.id, recording)
    enrolling, enrolled = EnrollmentStatus.ENROLLING, EnrollmentStatus.ENROLLED
    assert seen == [enrolling, enrolling, enrolled, enrolled]  # 10 s, 20 s, 30 s, reset


#: Profiles whose clips have these measured bandwidths (``None``: never measured).
BAND_KINDS = {
    "app": [7600.0, 5200.0],
    "phone": [3400.0, 4500.0],
    "mixed": [3400.0, 7600.0],
    "unmeasured": [None, None],
    "phone and unmeasured": [3400.0, None],
    "zero": [0.0, 0.0],
}


def enrol_band_kinds(store: Store) -> dict[str, Profile]:
    """One profile of each of :data:`BAND_KINDS`, enrolled (two 10 s clips) by the real
    enrolment policy, which works out each profile's bands."""
    from dataclasses import replace

    from voxprint.enrollment import EnrollmentPolicy

    policy = EnrollmentPolicy(min_net_speech_seconds=20.0)
    enrolled = {}
    for i, (name, bandwidths) in enumerate(BAND_KINDS.items()):
        profile = make_profile(name=name)
        store.create_profile(profile)
        for seed, bandwidth in enumerate(bandwidths):
            clip = replace(make_clip(profile.id, seed=10 * i + seed), bandwidth_hz=bandwidth)
            enrolled[name] = store.add_clip(DEFAULT_NAMESPACE, clip, policy.summarize)
    return enrolled


def test_each_profile_keeps_the_bands_its_clips_were_recorded_in_with_its_gallery_row(
    store: Store,
) -> None:
    from voxprint.adaptation import ProfileClips

    enrolled = enrol_band_kinds(store)
    gallery = store.gallery(DEFAULT_NAMESPACE, encoder_name=ENCODER[0], encoder_version=ENCODER[1])
    assert gallery.bands is not None
    in_gallery = dict(zip(gallery.profile_ids, gallery.bands, strict=True))
    for name, bandwidths in BAND_KINDS.items():
        n = len(bandwidths)
        clips = ProfileClips(np.ones(DIM), np.ones((n, DIM)), np.ones(n), tuple(bandwidths))
        stored = store.get_profile(DEFAULT_NAMESPACE, enrolled[name].id)
        assert (stored.band, stored.statistics_band) == (clips.band(), clips.statistics_band())
        assert in_gallery[stored.id] is stored.band
    assert enrolled["app"].band is Band.WIDE and enrolled["phone"].band is Band.NARROW
    assert enrolled["mixed"].band is Band.NARROW and enrolled["mixed"].statistics_band is None
    assert enrolled["unmeasured"].band is None  # may be a telephone recording
    query = np.ones(DIM, np.float32)
    wide = store.nearest(
        DEFAULT_NAMESPACE,
        query,
        encoder_name=ENCODER[0],
        encoder_version=ENCODER[1],
        k=10,
        band=Band.WIDE,
    )
    assert wide.profile_ids == (enrolled["app"].id,)  # "zero" was never measured
    assert wide.bands == (Band.WIDE,)
    reset = store.reset_profile(DEFAULT_NAMESPACE, enrolled["phone"].id, mean_rebuild)
    assert (reset.band, reset.statistics_band) == (None, None)


def test_a_profile_is_invisible_from_another_namespace(store: SQLiteStore) -> None:
    enrol(store, make_profile("p1", namespace="a", external_id="e1"))
    with pytest.raises(ProfileNotFoundError):
        store.get_profile("b", "p1")
    with pytest.raises(ProfileNotFoundError):
        store.find_by_external_id("b", "e1")
    with pytest.raises(ProfileNotFoundError):
        store.list_clips("b", "p1")
    with pytest.raises(ProfileNotFoundError):
        store.add_clip("b", make_clip("p1"), mean_rebuild)
    with pytest.raises(ProfileNotFoundError):
        store.update_profile("b", "p1", ProfileChanges(name="stolen"))
    with pytest.raises(ProfileNotFoundError):
        store.reset_profile("b", "p1", mean_rebuild)
    with pytest.raises(ProfileNotFoundError):
        store.delete_profile("b", "p1")
    with pytest.raises(ProfileNotFoundError, match="p1"):
        store.gallery("b", encoder_name=ENCODER[0], encoder_version=ENCODER[1], profile_ids=["p1"])
    assert store.find_by_name("b", "Ada") == []
    assert store.list_profiles("b") == []
    assert store.count_profiles("b") == 0
    assert len(store.gallery("b", encoder_name=ENCODER[0], encoder_version=ENCODER[1])) == 0
    # ... and all of that left it untouched in its own namespace.
    kept = store.get_profile("a", "p1")
    assert kept.name == "Ada"
    assert kept.clip_count == 2
    assert len(store.list_clips("a", "p1")) == 2


def test_find_by_name_returns_every_exact_match(store: SQLiteStore) -> None:
    store.create_profile(make_profile("p1", name="Sam"))
    store.create_profile(make_profile("p2", name="Sam", created_at=T0 + timedelta(seconds=1)))
    store.create_profile(make_profile("p3", name="Samantha"))
    store.create_profile(make_profile("p4", name="sam"))
    assert [p.id for p in store.find_by_name(DEFAULT_NAMESPACE, "Sam")] == ["p1", "p2"]
    assert store.find_by_name(DEFAULT_NAMESPACE, "Nobody") == []


def test_list_profiles_pages_in_creation_order_then_id(store: SQLiteStore) -> None:
    ids = []
    for index in range(5):
        ids.append(f"p{index}")
        store.create_profile(make_profile(f"p{index}", created_at=T0 + timedelta(minutes=index)))
    store.create_profile(make_profile("p0b", created_at=T0))  # same time as p0: id breaks the tie
    expected = ["p0", "p0b", "p1", "p2", "p3", "p4"]
    pages = [
        [p.id for p in store.list_profiles(DEFAULT_NAMESPACE, limit=2, offset=offset)]
        for offset in (0, 2, 4, 6)
    ]
    assert pages == [expected[0:2], expected[2:4], expected[4:6], []]
    assert [p.id for p in store.list_profiles(DEFAULT_NAMESPACE)] == expected
    assert store.count_profiles(DEFAULT_NAMESPACE) == 6
    with pytest.raises(InvalidParameterError):
        store.list_profiles(DEFAULT_NAMESPACE, limit=-1)


def test_update_changes_the_given_fields_and_bumps_updated_at(store: SQLiteStore) -> None:
    store.create_profile(make_profile("p1", external_id="old", created_at=T0))
    updated = store.update_profile(
        DEFAULT_NAMESPACE,
        "p1",
        ProfileChanges(name="Ada L.", external_id="new", metadata={"role": "analyst"}),
    )
    assert (updated.name, updated.external_id, updated.metadata) == (
        "Ada L.",
        "new",
        {"role": "analyst"},
    )
    assert updated.updated_at > T0
    assert updated.created_at == T0
    assert store.get_profile(DEFAULT_NAMESPACE, "p1") == updated
    assert store.find_by_external_id(DEFAULT_NAMESPACE, "new").id == "p1"

    unchanged_name = store.update_profile(DEFAULT_NAMESPACE, "p1", ProfileChanges(metadata={}))
    assert unchanged_name.name == "Ada L."
    assert unchanged_name.external_id == "new"

    cleared = store.update_profile(DEFAULT_NAMESPACE, "p1", ProfileChanges(clear_external_id=True))
    assert cleared.external_id is None
    with pytest.raises(ProfileNotFoundError):
        store.find_by_external_id(DEFAULT_NAMESPACE, "new")


def test_update_rejects_a_taken_external_id_a_blank_name_and_bad_metadata(
    store: SQLiteStore,
) -> None:
    store.create_profile(make_profile("p1", external_id="e1"))
    store.create_profile(make_profile("p2", external_id="e2"))
    with pytest.raises(DuplicateExternalIdError, match="e1"):
        store.update_profile(DEFAULT_NAMESPACE, "p2", ProfileChanges(external_id="e1"))
    # Setting a profile's own external id again is not a conflict.
    store.update_profile(DEFAULT_NAMESPACE, "p1", ProfileChanges(external_id="e1"))
    with pytest.raises(InvalidProfileError):
        store.update_profile(DEFAULT_NAMESPACE, "p2", ProfileChanges(name=" "))
    with pytest.raises(InvalidProfileError):
        store.update_profile(DEFAULT_NAMESPACE, "p2", ProfileChanges(metadata={"b": b"x"}))
    with pytest.raises(InvalidProfileError):
        store.update_profile(
            DEFAULT_NAMESPACE, "p2", ProfileChanges(external_id="e3", clear_external_id=True)
        )
    assert store.get_profile(DEFAULT_NAMESPACE, "p2").external_id == "e2"


# --- clips and enrolment ----------------------------------------------------------------


def test_add_clip_recomputes_the_voiceprint_and_status_from_all_clips(store: SQLiteStore) -> None:
    store.create_profile(make_profile("p1"))
    first = np.arange(1, DIM + 1, dtype=np.float32)
    second = np.ones(DIM, dtype=np.float32)

    after_one = store.add_clip(DEFAULT_NAMESPACE, make_clip("p1", first), mean_rebuild)
    assert after_one.clip_count == 1
    assert after_one.status is EnrollmentStatus.ENROLLING
    assert after_one.net_speech_seconds == pytest.approx(10.0)
    assert after_one.audio_seconds == pytest.approx(12.0)

    after_two = store.add_clip(DEFAULT_NAMESPACE, make_clip("p1", second), mean_rebuild)
    expected = (first + second) / 2
    expected /= np.linalg.norm(expected)
    assert after_two.clip_count == 2
    assert after_two.status is EnrollmentStatus.ENROLLED
    assert after_two.net_speech_seconds == pytest.approx(20.0)
    assert after_two.voiceprint is not None
    np.testing.assert_allclose(after_two.voiceprint, expected, rtol=1e-6)
    assert after_two.updated_at > after_one.created_at

    assert store.get_profile(DEFAULT_NAMESPACE, "p1").clip_count == 2
    clips = store.list_clips(DEFAULT_NAMESPACE, "p1")
    assert [c.embedding.tobytes() for c in clips] == [first.tobytes(), second.tobytes()]
    assert all(c.embedding.dtype == np.float32 and c.label == "clip" for c in clips)


def test_a_rebuild_that_raises_rolls_the_whole_clip_back(store: SQLiteStore) -> None:
    before = enrol(store, make_profile("p1"), clips=1)
    clip = make_clip("p1", seed=99)
    with pytest.raises(RuntimeError, match="rebuild exploded"):
        store.add_clip(DEFAULT_NAMESPACE, clip, failing_rebuild)
    after = store.get_profile(DEFAULT_NAMESPACE, "p1")
    assert after == before
    assert after.voiceprint is not None and before.voiceprint is not None
    assert after.voiceprint.tobytes() == before.voiceprint.tobytes()
    remaining = store.list_clips(DEFAULT_NAMESPACE, "p1")
    assert len(remaining) == 1
    assert clip.id not in {c.id for c in remaining}
    # The same clip can then be added with a working rebuild: nothing half-written blocks it.
    assert store.add_clip(DEFAULT_NAMESPACE, clip, mean_rebuild).clip_count == 2


@pytest.mark.parametrize(
    "embedding",
    [np.zeros((2, 4), np.float32), np.zeros(0, np.float32), np.array([1.0, np.nan], np.float32)],
)
def test_an_invalid_embedding_is_rejected_before_anything_is_written(
    store: SQLiteStore, embedding: np.ndarray
) -> None:
    store.create_profile(make_profile("p1"))
    with pytest.raises(InvalidProfileError, match="embedding"):
        store.add_clip(DEFAULT_NAMESPACE, make_clip("p1", embedding), mean_rebuild)
    assert store.list_clips(DEFAULT_NAMESPACE, "p1") == []


def test_rebuilding_a_profile_under_a_lower_requirement_enrols_it_from_the_clips_it_holds(
    store: SQLiteStore,
) -> None:
    store.create_profile(make_profile("p1"))
    held = store.add_clip(DEFAULT_NAMESPACE, make_clip("p1", net_speech_seconds=12.0), mean_rebuild)
    assert held.status is EnrollmentStatus.ENROLLING
    since = store.gallery_version(DEFAULT_NAMESPACE)

    def lower(clips: Sequence[Clip], before: EnrollmentStatus) -> EnrollmentState:
        state = mean_rebuild(clips, before)
        return replace(state, status=EnrollmentStatus.ENROLLED)

    rebuilt = store.rebuild_profile(
        DEFAULT_NAMESPACE, "p1", lower, activity=Activity("enroll", None, "p1", detail="met")
    )
    assert rebuilt.status is EnrollmentStatus.ENROLLED and rebuilt.clip_count == 1
    assert rebuilt.voiceprint is not None and held.voiceprint is not None
    assert rebuilt.voiceprint.tobytes() == held.voiceprint.tobytes()
    assert store.gallery_version(DEFAULT_NAMESPACE) > since
    (logged,) = [e for e in store.list_activity(DEFAULT_NAMESPACE) if e.detail == "met"]
    assert logged.result == "enrolled"
    with pytest.raises(ProfileNotFoundError):
        store.rebuild_profile("elsewhere", "p1", lower)


def test_reset_deletes_every_clip_and_returns_the_profile_to_its_empty_state(
    store: SQLiteStore,
) -> None:
    enrolled = enrol(store, make_profile("p1", external_id="e1"), clips=3)
    assert enrolled.status is EnrollmentStatus.ENROLLED
    reset = store.reset_profile(DEFAULT_NAMESPACE, "p1", mean_rebuild)
    assert reset.clip_count == 0
    assert reset.status is EnrollmentStatus.ENROLLING
    assert reset.voiceprint is None
    assert reset.net_speech_seconds == 0.0
    assert reset.external_id == "e1"
    assert store.list_clips(DEFAULT_NAMESPACE, "p1") == []
    assert store.get_profile(DEFAULT_NAMESPACE, "p1").clip_count == 0


def _marker_embedding() -> np.ndarray:
    """A float pattern whose bytes will not turn up by chance."""
    return np.array([1234.5678 + i * 0.0001234 for i in range(64)], dtype=np.float32)


def _database_bytes(db_path: Path) -> bytes:
    parts = [db_path, db_path.with_name(db_path.name + "-wal")]
    return b"".join(part.read_bytes() for part in parts if part.exists())


def test_delete_removes_the_profile_and_every_clip_embedding_for_good(
    sqlite_store: SQLiteStore, db_path: Path
) -> None:
    store = sqlite_store
    marker = _marker_embedding()
    needle = marker.tobytes()
    store.create_profile(make_profile("victim", external_id="e-victim"))
    other = enrol(store, make_profile("bystander", name="Bea"), clips=2)
    profile = store.add_clip(
        DEFAULT_NAMESPACE, make_clip("victim", marker, net_speech_seconds=25), mean_rebuild
    )
    assert profile.voiceprint is not None
    voiceprint_bytes = profile.voiceprint.tobytes()
    store.log_activity(DEFAULT_NAMESPACE, "enrol", profile_id="victim", result="ok")
    # The test means something only if the bytes were on disk before the delete.
    assert needle in _database_bytes(db_path)
    assert voiceprint_bytes in _database_bytes(db_path)

    store.delete_profile(DEFAULT_NAMESPACE, "victim")

    on_disk = _database_bytes(db_path)
    assert needle not in on_disk
    assert needle[:64] not in on_disk  # not even a fragment of the embedding
    assert voiceprint_bytes not in on_disk
    with pytest.raises(ProfileNotFoundError):
        store.get_profile(DEFAULT_NAMESPACE, "victim")
    with pytest.raises(ProfileNotFoundError):
        store.find_by_external_id(DEFAULT_NAMESPACE, "e-victim")
    raw = sqlite3.connect(db_path)
    try:
        orphans = raw.execute("SELECT COUNT(*) FROM clips WHERE profile_id = 'victim'").fetchone()
    finally:
        raw.close()
    assert orphans[0] == 0
    # Other profiles are untouched, and the external id is free again.
    assert store.get_profile(DEFAULT_NAMESPACE, "bystander") == other
    assert len(store.list_clips(DEFAULT_NAMESPACE, "bystander")) == 2
    store.create_profile(make_profile("again", external_id="e-victim"))


def test_a_delete_blocked_from_folding_the_wal_still_succeeds_and_the_next_write_folds_it(
    sqlite_store: SQLiteStore, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = sqlite_store
    marker = _marker_embedding()
    store.create_profile(make_profile("victim"))
    store.add_clip(DEFAULT_NAMESPACE, make_clip("victim", marker), mean_rebuild)
    wal = db_path.with_name(db_path.name + "-wal")
    reader = sqlite3.connect(db_path)
    try:
        reader.execute("BEGIN")  # an open read holds the WAL: TRUNCATE cannot fold it
        reader.execute("SELECT COUNT(*) FROM profiles").fetchone()
        store.delete_profile(DEFAULT_NAMESPACE, "victim")
        assert marker.tobytes() in wal.read_bytes()  # the copy the checkpoint owes
        assert "blocked by another connection" in caplog.text
    finally:
        reader.close()
    with pytest.raises(ProfileNotFoundError):
        store.get_profile(DEFAULT_NAMESPACE, "victim")
    store.create_profile(make_profile("next"))
    assert marker.tobytes() not in _database_bytes(db_path)


class _CheckpointFails:
    """A connection whose WAL checkpoint fails as a full or failing disk makes it fail."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if "wal_checkpoint" in sql:
            raise sqlite3.OperationalError("disk I/O error")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_a_failed_checkpoint_after_a_delete_is_logged_not_raised_and_tried_again(
    sqlite_store: SQLiteStore, db_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    store = sqlite_store
    marker = _marker_embedding()
    store.create_profile(make_profile("victim"))
    store.add_clip(DEFAULT_NAMESPACE, make_clip("victim", marker), mean_rebuild)
    failing = _CheckpointFails(store._connection())
    monkeypatch.setattr(store, "_connection", lambda: failing)

    store.delete_profile(DEFAULT_NAMESPACE, "victim")  # answered: the delete committed

    assert "WAL checkpoint failed" in caplog.text and "disk I/O error" in caplog.text
    monkeypatch.undo()
    with pytest.raises(ProfileNotFoundError):
        store.get_profile(DEFAULT_NAMESPACE, "victim")
    assert marker.tobytes() in _database_bytes(db_path)
    store.create_profile(make_profile("next"))
    assert marker.tobytes() not in _database_bytes(db_path)


# --- merging two profiles -----------------------------------------------------------------


def _clip_bytes(store: Store, profile_id: str) -> dict[str, bytes]:
    return {c.id: c.embedding.tobytes() for c in store.list_clips(DEFAULT_NAMESPACE, profile_id)}


def test_merging_moves_every_clip_rebuilds_the_profile_and_deletes_the_other(
    store: Store,
) -> None:
    into = enrol(store, make_profile("into", name="Ada", external_id="e-into"), clips=1)
    source = enrol(store, make_profile("from", name="Ada 2", external_id="e-from"), clips=2)
    store.set_phrase_profile(DEFAULT_NAMESPACE, PhraseProfile("from", ProfileKind.TEXT_INDEPENDENT))
    clips = {**_clip_bytes(store, "into"), **_clip_bytes(store, "from")}
    since = store.gallery_version(DEFAULT_NAMESPACE)
    merge = store.merge_profiles(
        DEFAULT_NAMESPACE,
        "into",
        "from",
        mean_rebuild,
        activities=[Activity("merge", None, "into"), Activity("merge", "deleted", "from")],
    )
    assert (merge.clips_moved, merge.duplicate_clips) == (2, 0)
    assert merge.removed == RemovedProfile(source.id, "Ada 2", "e-from")
    assert not hasattr(merge.removed, "voiceprint")  # the answer holds no deleted voice
    merged = store.get_profile(DEFAULT_NAMESPACE, "into")
    assert merge.profile == merged
    assert (merged.name, merged.external_id, merged.clip_count) == ("Ada", "e-into", 3)
    assert merged.status is EnrollmentStatus.ENROLLED
    assert merged.net_speech_seconds == pytest.approx(30.0)
    assert merged.audio_seconds == pytest.approx(36.0)
    assert _clip_bytes(store, "into") == clips
    expected = mean_rebuild(store.list_clips(DEFAULT_NAMESPACE, "into")).voiceprint
    assert merged.voiceprint is not None and expected is not None
    assert merged.voiceprint.tobytes() == expected.tobytes()
    assert into.voiceprint is not None
    assert merged.voiceprint.tobytes() != into.voiceprint.tobytes()
    with pytest.raises(ProfileNotFoundError):
        store.get_profile(DEFAULT_NAMESPACE, "from")
    with pytest.raises(ProfileNotFoundError):
        store.list_clips(DEFAULT_NAMESPACE, "from")
    with pytest.raises(ProfileNotFoundError):
        store.find_by_external_id(DEFAULT_NAMESPACE, "e-from")
    assert store.get_phrase_profiles(DEFAULT_NAMESPACE, ["from"]) == {}
    gallery = store.gallery(DEFAULT_NAMESPACE, encoder_name=ENCODER[0], encoder_version=ENCODER[1])
    assert gallery.profile_ids == ("into",)
    changes = _changes(store, since)
    assert changes is not None and changes.touched == ("into", "from")
    assert changes.current.profile_ids == ("into",)
    logged = store.list_activity(DEFAULT_NAMESPACE, limit=2)
    assert {(e.action, e.profile_id, e.result) for e in logged} == {
        ("merge", "into", "enrolled"),
        ("merge", "from", "deleted"),
    }


def test_a_clip_whose_audio_both_profiles_hold_is_kept_once_and_the_other_copy_deleted(
    store: Store,
) -> None:
    store.create_profile(make_profile("into"))
    store.create_profile(make_profile("from", name="Ada 2"))
    shared_into = replace(make_clip("into", seed=1), content_hash="same-audio")
    shared_from = replace(make_clip("from", seed=1), content_hash="same-audio")
    own = replace(make_clip("from", seed=2), content_hash="other-audio")
    unhashed = make_clip("from", seed=3)
    store.add_clip(DEFAULT_NAMESPACE, shared_into, mean_rebuild)
    for clip in (shared_from, own, unhashed):
        store.add_clip(DEFAULT_NAMESPACE, clip, mean_rebuild)
    merge = store.merge_profiles(DEFAULT_NAMESPACE, "into", "from", mean_rebuild)
    assert (merge.clips_moved, merge.duplicate_clips) == (2, 1)
    held = store.list_clips(DEFAULT_NAMESPACE, "into")
    assert {c.id for c in held} == {shared_into.id, own.id, unhashed.id}
    assert merge.profile.clip_count == 3
    assert merge.profile.net_speech_seconds == pytest.approx(30.0)


def test_a_failure_midway_through_a_merge_leaves_both_profiles_as_they_were(
    store: Store,
) -> None:
    into = enrol(store, make_profile("into"), clips=2)
    source = enrol(store, make_profile("from", name="Ada 2"), clips=1)
    duplicate = replace(make_clip("from", seed=7), content_hash="h")
    store.add_clip(
        DEFAULT_NAMESPACE, replace(make_clip("into", seed=7), content_hash="h"), mean_rebuild
    )
    store.add_clip(DEFAULT_NAMESPACE, duplicate, mean_rebuild)
    into, source = (store.get_profile(DEFAULT_NAMESPACE, pid) for pid in ("into", "from"))
    clips = {pid: _clip_bytes(store, pid) for pid in ("into", "from")}
    version = store.gallery_version(DEFAULT_NAMESPACE)
    logged = len(store.list_activity(DEFAULT_NAMESPACE))
    with pytest.raises(RuntimeError, match="rebuild exploded"):  # after the clips moved
        store.merge_profiles(
            DEFAULT_NAMESPACE,
            "into",
            "from",
            failing_rebuild,
            activities=[Activity("merge", None, "into")],
        )
    for before in (into, source):
        after = store.get_profile(DEFAULT_NAMESPACE, before.id)
        assert after == before
        assert after.voiceprint is not None and before.voiceprint is not None
        assert after.voiceprint.tobytes() == before.voiceprint.tobytes()
        assert _clip_bytes(store, before.id) == clips[before.id]
    assert store.gallery_version(DEFAULT_NAMESPACE) == version
    assert len(store.list_activity(DEFAULT_NAMESPACE)) == logged
    # Nothing half-written blocks the same merge afterwards.
    merged = store.merge_profiles(DEFAULT_NAMESPACE, "into", "from", mean_rebuild)
    assert (merged.clips_moved, merged.duplicate_clips) == (1, 1)


def test_a_merge_of_one_id_twice_another_namespaces_profile_or_another_encoder_writes_nothing(
    store: Store,
) -> None:
    enrol(store, make_profile("into"))
    enrol(store, make_profile("elsewhere", namespace="tenant-b"))
    enrol(store, make_profile("other-model", encoder=(ENCODER[0], "2.0")))
    version = store.gallery_version(DEFAULT_NAMESPACE)
    with pytest.raises(InvalidParameterError, match="into itself"):
        store.merge_profiles(DEFAULT_NAMESPACE, "into", "into", mean_rebuild)
    with pytest.raises(ProfileNotFoundError, match="elsewhere"):
        store.merge_profiles(DEFAULT_NAMESPACE, "into", "elsewhere", mean_rebuild)
    with pytest.raises(ProfileNotFoundError):
        store.merge_profiles("tenant-b", "elsewhere", "into", mean_rebuild)
    with pytest.raises(EncoderMismatchError, match="cannot mix encoders"):
        store.merge_profiles(DEFAULT_NAMESPACE, "into", "other-model", mean_rebuild)
    assert store.gallery_version(DEFAULT_NAMESPACE) == version
    assert len(store.list_clips(DEFAULT_NAMESPACE, "into")) == 2
    assert len(store.list_clips(DEFAULT_NAMESPACE, "other-model")) == 2
    assert len(store.list_clips("tenant-b", "elsewhere")) == 2


def test_a_merged_profile_starts_its_rebuild_enrolled_when_either_side_was_enrolled(
    store: Store,
) -> None:
    seen: list[EnrollmentStatus] = []

    def recording(clips: Sequence[Clip], before: EnrollmentStatus) -> EnrollmentState:
        seen.append(before)
        return mean_rebuild(clips, before)

    for pid in ("a", "b", "c"):
        store.create_profile(make_profile(pid))
    store.add_clip(DEFAULT_NAMESPACE, make_clip("a", seed=1), mean_rebuild)  # enrolling
    store.add_clip(DEFAULT_NAMESPACE, make_clip("b", seed=2), mean_rebuild)  # enrolling
    enrol(store, make_profile("d"))  # enrolled (20 s)
    store.merge_profiles(DEFAULT_NAMESPACE, "a", "b", recording)
    store.merge_profiles(DEFAULT_NAMESPACE, "c", "d", recording)
    assert seen == [EnrollmentStatus.ENROLLING, EnrollmentStatus.ENROLLED]


def test_a_merge_leaves_no_copy_of_the_dropped_clip_or_the_removed_voiceprint_on_disk(
    sqlite_store: SQLiteStore, db_path: Path
) -> None:
    store = sqlite_store
    marker = _marker_embedding()
    enrol(store, make_profile("into"), clips=1)
    store.add_clip(
        DEFAULT_NAMESPACE, replace(make_clip("into", seed=5), content_hash="h"), mean_rebuild
    )
    store.create_profile(make_profile("from", name="Ada 2"))
    removed = store.add_clip(
        DEFAULT_NAMESPACE, replace(make_clip("from", marker), content_hash="h"), mean_rebuild
    )
    assert removed.voiceprint is not None
    needles = [marker.tobytes(), removed.voiceprint.tobytes()]
    assert all(needle in _database_bytes(db_path) for needle in needles)
    merge = store.merge_profiles(DEFAULT_NAMESPACE, "into", "from", mean_rebuild)
    assert (merge.clips_moved, merge.duplicate_clips) == (0, 1)
    on_disk = _database_bytes(db_path)
    assert not any(needle in on_disk or needle[:64] in on_disk for needle in needles)


# --- gallery ----------------------------------------------------------------------------


def test_gallery_holds_only_enrolled_profiles_of_the_requested_encoder(store: SQLiteStore) -> None:
    a = enrol(store, make_profile("a", name="A", created_at=T0))
    b = enrol(store, make_profile("b", name="B", created_at=T0 + timedelta(seconds=1)))
    enrol(store, make_profile("enrolling", created_at=T0), clips=1)  # 10 s: not enrolled yet
    enrol(store, make_profile("other-version", encoder=(ENCODER[0], "2.0")))
    enrol(store, make_profile("other-encoder", encoder=("other", ENCODER[1])))
    enrol(store, make_profile("other-namespace", namespace="elsewhere"))

    gallery = store.gallery(DEFAULT_NAMESPACE, encoder_name=ENCODER[0], encoder_version=ENCODER[1])
    assert gallery.profile_ids == ("a", "b")
    assert gallery.names == ("A", "B")
    assert gallery.voiceprints.dtype == np.float32
    assert gallery.voiceprints.shape == (2, DIM)
    assert a.voiceprint is not None and b.voiceprint is not None
    assert gallery.voiceprints[0].tobytes() == a.voiceprint.tobytes()
    assert gallery.voiceprints[1].tobytes() == b.voiceprint.tobytes()


def test_gallery_restricted_to_profile_ids_keeps_their_order_and_leaves_out_unusable_ones(
    store: SQLiteStore,
) -> None:
    for pid in ("a", "b", "c"):
        enrol(store, make_profile(pid))
    enrol(store, make_profile("enrolling"), clips=1)
    enrol(store, make_profile("v2", encoder=(ENCODER[0], "2.0")))

    gallery = store.gallery(
        DEFAULT_NAMESPACE,
        encoder_name=ENCODER[0],
        encoder_version=ENCODER[1],
        profile_ids=["c", "enrolling", "a", "v2", "c"],
    )
    assert gallery.profile_ids == ("c", "a")
    assert gallery.voiceprints.shape == (2, DIM)


def test_gallery_names_every_profile_id_that_does_not_exist(store: SQLiteStore) -> None:
    enrol(store, make_profile("a"))
    with pytest.raises(ProfileNotFoundError, match="ghost-1") as caught:
        store.gallery(
            DEFAULT_NAMESPACE,
            encoder_name=ENCODER[0],
            encoder_version=ENCODER[1],
            profile_ids=["a", "ghost-1", "ghost-2"],
        )
    assert "ghost-2" in str(caught.value)


def test_an_empty_gallery_has_a_zero_by_zero_matrix(store: SQLiteStore) -> None:
    gallery = store.gallery(DEFAULT_NAMESPACE, encoder_name=ENCODER[0], encoder_version=ENCODER[1])
    assert len(gallery) == 0
    assert gallery.voiceprints.shape == (0, 0)
    assert gallery.voiceprints.dtype == np.float32
    empty_ids = store.gallery(
        DEFAULT_NAMESPACE, encoder_name=ENCODER[0], encoder_version=ENCODER[1], profile_ids=[]
    )
    assert empty_ids.voiceprints.shape == (0, 0)


def _changes(store: Store, since: int, namespace: str = DEFAULT_NAMESPACE):
    return store.gallery_changes(
        namespace, since, encoder_name=ENCODER[0], encoder_version=ENCODER[1]
    )


def test_gallery_changes_name_every_profile_touched_since_a_version_and_its_current_row(
    store: SQLiteStore,
) -> None:
    enrol(store, make_profile("a", name="A"))
    enrol(store, make_profile("b", name="B"))
    enrol(store, make_profile("elsewhere", namespace="other"))
    since = store.gallery_version(DEFAULT_NAMESPACE)
    nothing = _changes(store, since)
    assert nothing is not None and (nothing.version, nothing.touched) == (since, ())
    assert len(nothing.current) == 0
    store.update_profile(DEFAULT_NAMESPACE, "a", ProfileChanges(name="Ada"))
    enrol(store, make_profile("c", name="C"))
    store.delete_profile(DEFAULT_NAMESPACE, "b")
    enrol(store, make_profile("other-version", encoder=(ENCODER[0], "2.0")))
    changes = _changes(store, since)
    assert changes is not None
    assert changes.version == store.gallery_version(DEFAULT_NAMESPACE)
    # "c" changed the gallery twice (two clips) and is listed once
    assert changes.touched == ("a", "c", "b", "other-version")
    assert changes.current.profile_ids == ("a", "c")  # b deleted, other-version elsewhere
    assert changes.current.names == ("Ada", "C")
    whole = store.gallery(DEFAULT_NAMESPACE, encoder_name=ENCODER[0], encoder_version=ENCODER[1])
    row = whole.profile_ids.index("c")
    assert changes.current.voiceprints[1].tobytes() == whole.voiceprints[row].tobytes()
    reset_since = store.gallery_version(DEFAULT_NAMESPACE)
    store.reset_profile(DEFAULT_NAMESPACE, "a", mean_rebuild)
    after_reset = _changes(store, reset_since)
    assert after_reset is not None
    assert after_reset.touched == ("a",) and len(after_reset.current) == 0


def test_gallery_changes_are_none_when_the_log_does_not_reach_back(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import voxprint.store.postgres.profiles as postgres_profiles
    import voxprint.store.sqlite.profiles as sqlite_profiles

    for module in (sqlite_profiles, postgres_profiles):
        monkeypatch.setattr(module, "GALLERY_CHANGES_KEPT", 3)
    for pid in ("a", "b", "c"):
        enrol(store, make_profile(pid))  # two clips each: six versions, three kept
    now = store.gallery_version(DEFAULT_NAMESPACE)
    assert _changes(store, now - 3) is not None
    assert _changes(store, now - 4) is None  # pruned
    assert _changes(store, now + 1) is None  # a version this store never reached
    unused = _changes(store, 0, namespace="never-used")
    assert unused is not None and (unused.version, unused.touched) == (0, ())


# --- activity log -----------------------------------------------------------------------


def test_activity_is_listed_newest_first_filtered_and_limited(store: SQLiteStore) -> None:
    store.create_profile(make_profile("p1"))
    store.log_activity(DEFAULT_NAMESPACE, "enrol", profile_id="p1", result="ok")
    store.log_activity(
        DEFAULT_NAMESPACE, "verify", profile_id="p1", result="accept", score=0.8125, detail="x"
    )
    store.log_activity(DEFAULT_NAMESPACE, "identify", profile_id=None, result="no_match")
    store.log_activity("elsewhere", "enrol", profile_id="p9", result="ok")

    entries = store.list_activity(DEFAULT_NAMESPACE)
    assert [e.action for e in entries] == ["identify", "verify", "enrol"]
    assert entries[0].profile_id is None and entries[0].score is None
    assert (entries[1].score, entries[1].detail, entries[1].result) == (0.8125, "x", "accept")
    assert all(e.namespace == DEFAULT_NAMESPACE for e in entries)
    assert entries[0].time >= entries[1].time >= entries[2].time
    assert entries[0].time.tzinfo is not None
    assert [e.action for e in store.list_activity(DEFAULT_NAMESPACE, profile_id="p1")] == [
        "verify",
        "enrol",
    ]
    assert len(store.list_activity(DEFAULT_NAMESPACE, limit=1)) == 1
    assert [e.profile_id for e in store.list_activity("elsewhere")] == ["p9"]


def test_activity_pages_skip_the_newest_entries_and_refuse_a_negative_offset(
    store: SQLiteStore,
) -> None:
    for action in ("a", "b", "c", "d"):
        store.log_activity(DEFAULT_NAMESPACE, action, profile_id=None, result="ok")
    store.log_activity("elsewhere", "e", profile_id=None, result="ok")

    def page(**kwargs: int) -> list[str]:
        return [e.action for e in store.list_activity(DEFAULT_NAMESPACE, **kwargs)]

    assert page(limit=2, offset=0) == ["d", "c"]
    assert page(limit=2, offset=2) == ["b", "a"]
    assert page(limit=2, offset=3) == ["a"]
    assert page(limit=2, offset=4) == []
    with pytest.raises(InvalidParameterError, match="offset"):
        store.list_activity(DEFAULT_NAMESPACE, offset=-1)


def test_activity_below_a_before_id_is_listed_newest_first(store: SQLiteStore) -> None:
    for action in ("a", "b", "c", "d"):
        store.log_activity(DEFAULT_NAMESPACE, action, profile_id="p1", result="ok")
    store.log_activity("elsewhere", "e", profile_id=None, result="ok")
    ids = {e.action: e.id for e in store.list_activity(DEFAULT_NAMESPACE)}

    def page(**kwargs: Any) -> list[str]:
        return [e.action for e in store.list_activity(DEFAULT_NAMESPACE, **kwargs)]

    assert page(before_id=ids["c"]) == ["b", "a"]
    assert page(before_id=ids["c"], limit=1, offset=1) == ["a"]
    assert page(before_id=ids["d"], profile_id="p1") == ["c", "b", "a"]
    assert page(before_id=ids["a"]) == []


def test_activity_keeps_the_profile_id_after_the_profile_is_deleted(store: SQLiteStore) -> None:
    enrol(store, make_profile("p1"))
    store.log_activity(DEFAULT_NAMESPACE, "enrol", profile_id="p1", result="ok")
    store.delete_profile(DEFAULT_NAMESPACE, "p1")
    store.log_activity(DEFAULT_NAMESPACE, "delete", profile_id="p1", result="ok")
    entries = store.list_activity(DEFAULT_NAMESPACE, profile_id="p1")
    assert [(e.action, e.profile_id) for e in entries] == [("delete", "p1"), ("enrol", "p1")]
    columns = table_columns(store, "activity")
    assert "profile_id" in columns
    assert not any("embedding" in c or "voiceprint" in c for c in columns)


# --- concurrency ------------------------------------------------------------------------


def test_twenty_threads_adding_clips_to_one_profile_lose_nothing(store: SQLiteStore) -> None:
    store.create_profile(make_profile("shared"))
    workers = 20
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def add(seed: int) -> None:
        try:
            barrier.wait()
            store.add_clip(DEFAULT_NAMESPACE, make_clip("shared", seed=seed), mean_rebuild)
        except BaseException as exc:  # collected and re-checked below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(seed,)) for seed in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    profile = store.get_profile(DEFAULT_NAMESPACE, "shared")
    assert profile.clip_count == workers
    assert len(store.list_clips(DEFAULT_NAMESPACE, "shared")) == workers
    assert profile.net_speech_seconds == pytest.approx(10.0 * workers)


@pytest.mark.parametrize("seed", range(3))
def test_a_merge_racing_enrolments_into_either_profile_loses_no_acknowledged_clip(
    store: Store, seed: int
) -> None:
    """Found in review: without the merge's row locks (PostgreSQL), clips acknowledged
    to the profile being merged away were lost with it."""
    for pid in ("into", "from"):
        store.create_profile(make_profile(pid, name=pid))
        store.add_clip(DEFAULT_NAMESPACE, make_clip(pid, seed=seed), mean_rebuild)
    workers = 8
    barrier = threading.Barrier(workers + 1)
    acknowledged: list[str] = []
    errors: list[BaseException] = []

    def add(index: int, target: str) -> None:
        clip = make_clip(target, seed=1000 * seed + index + 1)
        try:
            barrier.wait()
            store.add_clip(DEFAULT_NAMESPACE, clip, mean_rebuild)
            acknowledged.append(clip.id)
        except ProfileNotFoundError:
            pass  # the profile was merged away first: refused, nothing acknowledged
        except BaseException as exc:  # collected and re-checked below
            errors.append(exc)

    def merge() -> None:
        try:
            barrier.wait()
            store.merge_profiles(DEFAULT_NAMESPACE, "into", "from", mean_rebuild)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=add, args=(index, ("into", "from")[index % 2]))
        for index in range(workers)
    ] + [threading.Thread(target=merge)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    held = {clip.id for clip in store.list_clips(DEFAULT_NAMESPACE, "into")}
    assert set(acknowledged) <= held
    merged = store.get_profile(DEFAULT_NAMESPACE, "into")
    assert merged.clip_count == len(held) == 2 + len(acknowledged)
    with pytest.raises(ProfileNotFoundError):
        store.get_profile(DEFAULT_NAMESPACE, "from")


def _add_clips_in_another_process(url: str, count: int, seed: int, start: Barrier) -> None:
    own_store = open_store(url)
    try:
        start.wait(timeout=30)  # every process starts writing at once, to collide for real
        for index in range(count):
            clip = make_clip("shared", seed=seed * 1000 + index)
            own_store.add_clip(DEFAULT_NAMESPACE, clip, mean_rebuild)
    finally:
        own_store.close()


def test_separate_processes_adding_clips_to_one_profile_lose_nothing(
    store: SQLiteStore, store_url: str
) -> None:
    store.create_profile(make_profile("shared"))
    processes_count, clips_each = 3, 15
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes_count)
    processes = [
        context.Process(
            target=_add_clips_in_another_process, args=(store_url, clips_each, n, start)
        )
        for n in range(processes_count)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * processes_count

    total = processes_count * clips_each
    profile = store.get_profile(DEFAULT_NAMESPACE, "shared")
    assert profile.clip_count == total
    assert len(store.list_clips(DEFAULT_NAMESPACE, "shared")) == total
    assert profile.status is EnrollmentStatus.ENROLLED


def test_touched_since_lists_each_profile_once_and_refuses_a_log_with_gaps() -> None:
    from voxprint.store.checks import touched_since

    assert touched_since(5, 2, ["b", "a", "b"]) == ("b", "a")
    assert touched_since(5, 5, []) == ()
    assert touched_since(5, 2, ["a", "b"]) is None  # one version is missing: pruned
    assert touched_since(4, 5, []) is None  # a version the store never reached


@pytest.mark.parametrize("band", list(Band))
def test_a_sample_of_one_band_holds_exactly_the_profiles_whose_clips_were_all_recorded_in_it(
    store, band
):
    enrol_band_kinds(store)
    sample = store.enrolled_sample(
        DEFAULT_NAMESPACE,
        encoder_name=ENCODER[0],
        encoder_version=ENCODER[1],
        limit=10,
        band=band,
    )
    expected = {"phone"} if band is Band.NARROW else {"app", "unmeasured", "zero"}
    assert {profile.name for profile, _ in sample} == expected


def test_a_database_from_before_profiles_kept_their_bands_gets_them_from_its_clips(
    db_path: Path,
) -> None:
    with SQLiteStore(db_path) as store:
        enrolled = enrol_band_kinds(store)
    raw = sqlite3.connect(db_path)
    raw.execute("DROP INDEX profiles_statistics_band")
    raw.execute("ALTER TABLE profiles DROP COLUMN band")
    raw.execute("ALTER TABLE profiles DROP COLUMN statistics_band")
    raw.execute("ALTER TABLE gallery_statistics DROP COLUMN centre")
    raw.execute("ALTER TABLE calibrations DROP COLUMN bands")
    raw.execute("ALTER TABLE gallery_statistics DROP COLUMN band_centres")
    raw.execute("PRAGMA user_version = 10")
    raw.commit()
    raw.close()
    with SQLiteStore(db_path) as store:
        for profile in enrolled.values():
            migrated = store.get_profile(DEFAULT_NAMESPACE, profile.id)
            assert (migrated.band, migrated.statistics_band) == (
                profile.band,
                profile.statistics_band,
            ), profile.name


def test_the_sample_the_operating_point_adapts_to_leaves_out_text_dependent_profiles(store):
    ti = enrol(store, make_profile(name="Ada"))
    td = enrol(store, make_profile(name="Passphrase Ada"))
    store.set_phrase_profile(
        DEFAULT_NAMESPACE, PhraseProfile(td.id, ProfileKind.TEXT_DEPENDENT, "en-us", "my voice")
    )
    enrol(store, make_profile(name="Other namespace", namespace="elsewhere"))
    sample = store.enrolled_sample(
        DEFAULT_NAMESPACE, encoder_name=ENCODER[0], encoder_version=ENCODER[1], limit=10
    )
    assert [profile.id for profile, clips in sample] == [ti.id]
    assert len(sample[0][1]) == 2
