"""The store's passphrases and spoken challenges: kinds, compare-and-set, isolation, single use."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from voxprint.errors import (
    ChallengeExpiredError,
    ChallengeNotFoundError,
    ChallengeUsedError,
    InvalidParameterError,
    ProfileNotFoundError,
)
from voxprint.store import SQLiteStore, Store, open_store
from voxprint.store.records import Challenge, PhraseProfile, Profile, ProfileKind
from voxprint.store.sqlite import MIGRATIONS, SCHEMA_VERSION

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
PHRASE = "my voice is my passport verify me"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path: Path):
    """Each test runs on SQLite and on PostgreSQL (skipped, saying why, without it)."""
    if request.param == "sqlite":
        opened: Store = SQLiteStore(tmp_path / "phrases.db")
    else:
        opened = open_store(request.getfixturevalue("postgres_url"))
    try:
        yield opened
    finally:
        opened.close()


def profile(store: Store, namespace: str = "default", pid: str | None = None) -> str:
    created = store.create_profile(
        Profile(
            id=pid or str(uuid.uuid4()),
            namespace=namespace,
            name="alice",
            encoder_name="toy",
            encoder_version="1",
            created_at=T0,
            updated_at=T0,
        )
    )
    return created.id


def challenge(namespace: str = "default", *, expires: datetime | None = None) -> Challenge:
    return Challenge(
        id=str(uuid.uuid4()),
        namespace=namespace,
        kind="digits",
        phrase="one two three four",
        created_at=T0,
        expires_at=expires or T0 + timedelta(minutes=2),
    )


def test_a_profile_without_a_phrase_record_is_text_independent(store):
    pid = profile(store)
    assert store.get_phrase_profile("default", pid) == PhraseProfile(
        pid, ProfileKind.TEXT_INDEPENDENT
    )


def new_profile(pid: str) -> Profile:
    return Profile(
        id=pid,
        namespace="default",
        name="bob",
        encoder_name="toy",
        encoder_version="1",
        created_at=T0,
        updated_at=T0,
    )


def test_a_profile_created_with_its_phrase_record_is_text_dependent_from_the_start(store):
    pid = str(uuid.uuid4())
    record = PhraseProfile(pid, ProfileKind.TEXT_DEPENDENT, "en-us", PHRASE)
    created = store.create_profile(new_profile(pid), phrase=record)
    assert created.id == pid
    assert store.get_phrase_profile("default", pid) == record
    assert store.get_phrase_profiles("default", [pid]) == {pid: record}


def test_a_phrase_record_of_another_profile_is_refused_and_nothing_is_stored(store):
    pid, other = str(uuid.uuid4()), str(uuid.uuid4())
    record = PhraseProfile(other, ProfileKind.TEXT_DEPENDENT, "en-us", PHRASE)
    with pytest.raises(InvalidParameterError, match="cannot be stored with profile"):
        store.create_profile(new_profile(pid), phrase=record)
    with pytest.raises(ProfileNotFoundError):
        store.get_profile("default", pid)


def test_a_text_dependent_record_is_stored_and_read_back(store):
    pid = profile(store)
    record = PhraseProfile(pid, ProfileKind.TEXT_DEPENDENT, "en-us", None)
    store.set_phrase_profile("default", record)
    assert store.get_phrase_profile("default", pid) == record
    assert store.get_phrase_profiles("default", [pid, "other"]) == {pid: record}


def test_the_first_passphrase_fixed_wins_and_later_ones_get_it_back(store):
    pid = profile(store)
    store.set_phrase_profile("default", PhraseProfile(pid, ProfileKind.TEXT_DEPENDENT, "en-us"))
    assert store.fix_passphrase("default", pid, PHRASE) == PHRASE
    assert store.fix_passphrase("default", pid, "my name is unknown to you") == PHRASE
    store.clear_passphrase("default", pid)
    assert store.get_phrase_profile("default", pid).passphrase is None
    assert store.fix_passphrase("default", pid, "my name is unknown to you") == (
        "my name is unknown to you"
    )


def test_phrase_records_are_invisible_from_another_namespace(store):
    pid = profile(store, "tenant-a")
    store.set_phrase_profile("tenant-a", PhraseProfile(pid, ProfileKind.TEXT_DEPENDENT, "en-us"))
    with pytest.raises(ProfileNotFoundError):
        store.get_phrase_profile("tenant-b", pid)
    with pytest.raises(ProfileNotFoundError):
        store.set_phrase_profile("tenant-b", PhraseProfile(pid, ProfileKind.TEXT_INDEPENDENT))
    with pytest.raises(ProfileNotFoundError):
        store.fix_passphrase("tenant-b", pid, PHRASE)
    assert store.get_phrase_profiles("tenant-b", [pid]) == {}


def test_deleting_a_profile_deletes_its_passphrase(store):
    pid = profile(store)
    record = PhraseProfile(pid, ProfileKind.TEXT_DEPENDENT, "en-us", PHRASE)
    store.set_phrase_profile("default", record)
    store.delete_profile("default", pid)
    # A profile made again under the same id finds no passphrase of the deleted one.
    profile(store, pid=pid)
    assert store.get_phrase_profile("default", pid).kind is ProfileKind.TEXT_INDEPENDENT


def test_a_challenge_is_used_once_and_then_refused(store):
    made = store.create_challenge(challenge())
    used = store.use_challenge("default", made.id, now=T0, profile_id="p1")
    assert used.used_at == T0 and used.profile_id == "p1"
    with pytest.raises(ChallengeUsedError):
        store.use_challenge("default", made.id, now=T0, profile_id="p1")


def test_an_expired_challenge_is_refused_and_stays_unused(store):
    made = store.create_challenge(challenge(expires=T0 + timedelta(seconds=1)))
    with pytest.raises(ChallengeExpiredError):
        store.use_challenge("default", made.id, now=T0 + timedelta(seconds=1), profile_id=None)
    assert store.get_challenge("default", made.id).used_at is None


def test_a_challenge_of_another_namespace_does_not_exist(store):
    made = store.create_challenge(challenge("tenant-a"))
    with pytest.raises(ChallengeNotFoundError):
        store.get_challenge("tenant-b", made.id)
    with pytest.raises(ChallengeNotFoundError):
        store.use_challenge("tenant-b", made.id, now=T0, profile_id=None)
    assert store.get_challenge("tenant-a", made.id).used_at is None


def test_of_concurrent_uses_of_one_challenge_exactly_one_succeeds(store):
    made = store.create_challenge(challenge())
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def attempt() -> None:
        barrier.wait()
        try:
            store.use_challenge("default", made.id, now=T0, profile_id=None)
            outcomes.append("used")
        except ChallengeUsedError:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["used"]


def test_purging_removes_only_challenges_expired_before_the_cutoff(store):
    old = store.create_challenge(challenge(expires=T0))
    fresh = store.create_challenge(challenge(expires=T0 + timedelta(hours=1)))
    assert store.purge_challenges(T0 + timedelta(minutes=1)) == 1
    with pytest.raises(ChallengeNotFoundError):
        store.get_challenge("default", old.id)
    assert store.get_challenge("default", fresh.id).id == fresh.id


def test_a_version_5_database_is_migrated_to_hold_phrases(tmp_path):
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path)
    for step in MIGRATIONS[:5]:
        step(conn)
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.close()
    with SQLiteStore(path) as store:
        pid = profile(store)
        store.set_phrase_profile("default", PhraseProfile(pid, ProfileKind.TEXT_DEPENDENT, "en-us"))
        assert store.get_phrase_profile("default", pid).kind is ProfileKind.TEXT_DEPENDENT
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 7
    check.close()
