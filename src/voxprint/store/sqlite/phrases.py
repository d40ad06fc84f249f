"""Passphrases of text-dependent profiles and spoken challenges in the SQLite store."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from voxprint.errors import (
    ChallengeExpiredError,
    ChallengeNotFoundError,
    ChallengeUsedError,
    ProfileNotFoundError,
    StoreError,
)
from voxprint.store.records import Challenge, PhraseProfile, ProfileKind
from voxprint.store.sqlite.codecs import now, parse_time, rows_of_profiles, time_text
from voxprint.store.sqlite.connection import SQLiteDatabase

_CHALLENGE_COLUMNS = "id, namespace, kind, phrase, created_at, expires_at, used_at, profile_id"


def _require_profile(conn: sqlite3.Connection, namespace: str, profile_id: str) -> None:
    row = conn.execute(
        "SELECT 1 FROM profiles WHERE namespace = ? AND id = ?", (namespace, profile_id)
    ).fetchone()
    if row is None:
        raise ProfileNotFoundError(f"no profile with id {profile_id!r} in namespace {namespace!r}")


def write_phrase(conn: sqlite3.Connection, record: PhraseProfile) -> None:
    """Store (or replace) ``record`` within the caller's transaction."""
    conn.execute(
        "INSERT INTO profile_phrases (profile_id, kind, locale, passphrase, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (profile_id) DO UPDATE SET "
        "kind = excluded.kind, locale = excluded.locale, "
        "passphrase = excluded.passphrase, updated_at = excluded.updated_at",
        (
            record.profile_id,
            ProfileKind(record.kind).value,
            record.locale,
            record.passphrase,
            time_text(now(), "updated_at"),
        ),
    )


def _phrase_from_row(row: sqlite3.Row) -> PhraseProfile:
    return PhraseProfile(
        profile_id=row["profile_id"],
        kind=ProfileKind(row["kind"]),
        locale=row["locale"],
        passphrase=row["passphrase"],
    )


def _challenge_from_row(row: sqlite3.Row) -> Challenge:
    return Challenge(
        id=row["id"],
        namespace=row["namespace"],
        kind=row["kind"],
        phrase=row["phrase"],
        created_at=parse_time(row["created_at"]),
        expires_at=parse_time(row["expires_at"]),
        used_at=None if row["used_at"] is None else parse_time(row["used_at"]),
        profile_id=row["profile_id"],
    )


class SQLitePhrases(SQLiteDatabase):
    """:class:`~voxprint.store.base.PhraseStore` on SQLite."""

    # -- text-dependent profiles --

    def set_phrase_profile(self, namespace: str, record: PhraseProfile) -> PhraseProfile:
        with self._transaction(write=True) as conn:
            _require_profile(conn, namespace, record.profile_id)
            write_phrase(conn, record)
        return record

    @staticmethod
    def _phrase_row(
        conn: sqlite3.Connection, namespace: str, profile_id: str
    ) -> sqlite3.Row | None:
        _require_profile(conn, namespace, profile_id)
        row: sqlite3.Row | None = conn.execute(
            "SELECT profile_id, kind, locale, passphrase FROM profile_phrases WHERE profile_id = ?",
            (profile_id,),
        ).fetchone()
        return row

    def get_phrase_profile(self, namespace: str, profile_id: str) -> PhraseProfile:
        with self._transaction(write=False) as conn:
            row = self._phrase_row(conn, namespace, profile_id)
        if row is None:
            return PhraseProfile(profile_id, ProfileKind.TEXT_INDEPENDENT)
        return _phrase_from_row(row)

    def get_phrase_profiles(
        self, namespace: str, profile_ids: Sequence[str]
    ) -> dict[str, PhraseProfile]:
        found: dict[str, PhraseProfile] = {}
        query = (
            "SELECT p.profile_id, p.kind, p.locale, p.passphrase "
            "FROM profile_phrases p JOIN profiles ON profiles.id = p.profile_id "
            "WHERE profiles.namespace = ? AND p.profile_id IN ({marks})"
        )
        with self._transaction(write=False) as conn:
            for row in rows_of_profiles(conn, query, namespace, profile_ids):
                found[row["profile_id"]] = _phrase_from_row(row)
        return found

    def fix_passphrase(self, namespace: str, profile_id: str, passphrase: str) -> str:
        with self._transaction(write=True) as conn:
            row = self._phrase_row(conn, namespace, profile_id)
            if row is None:
                raise StoreError(f"profile {profile_id} is not a text-dependent profile")
            if row["passphrase"] is not None:
                return str(row["passphrase"])
            conn.execute(
                "UPDATE profile_phrases SET passphrase = ?, updated_at = ? WHERE profile_id = ?",
                (passphrase, time_text(now(), "updated_at"), profile_id),
            )
            return passphrase

    def clear_passphrase(self, namespace: str, profile_id: str) -> None:
        with self._transaction(write=True) as conn:
            _require_profile(conn, namespace, profile_id)
            conn.execute(
                "UPDATE profile_phrases SET passphrase = NULL, updated_at = ? WHERE profile_id = ?",
                (time_text(now(), "updated_at"), profile_id),
            )

    # -- challenges --

    def create_challenge(self, challenge: Challenge) -> Challenge:
        values = (
            challenge.id,
            challenge.namespace,
            challenge.kind,
            challenge.phrase,
            time_text(challenge.created_at, "created_at"),
            time_text(challenge.expires_at, "expires_at"),
            None if challenge.used_at is None else time_text(challenge.used_at, "used_at"),
            challenge.profile_id,
        )
        with self._transaction(write=True) as conn:
            conn.execute(
                f"INSERT INTO challenges ({_CHALLENGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
        return challenge

    @staticmethod
    def _challenge(conn: sqlite3.Connection, namespace: str, challenge_id: str) -> Challenge:
        row = conn.execute(
            f"SELECT {_CHALLENGE_COLUMNS} FROM challenges WHERE namespace = ? AND id = ?",
            (namespace, challenge_id),
        ).fetchone()
        if row is None:
            raise ChallengeNotFoundError(f"no challenge with id {challenge_id!r}")
        return _challenge_from_row(row)

    def get_challenge(self, namespace: str, challenge_id: str) -> Challenge:
        with self._transaction(write=False) as conn:
            return self._challenge(conn, namespace, challenge_id)

    def use_challenge(
        self, namespace: str, challenge_id: str, *, now: datetime, profile_id: str | None
    ) -> Challenge:
        moment = time_text(now, "now")
        with self._transaction(write=True) as conn:
            challenge = self._challenge(conn, namespace, challenge_id)
            if challenge.used_at is not None:
                raise ChallengeUsedError(
                    f"challenge {challenge_id} was already used; ask for a new one"
                )
            if challenge.expired(now):
                raise ChallengeExpiredError(f"challenge {challenge_id} expired; ask for a new one")
            conn.execute(
                "UPDATE challenges SET used_at = ?, profile_id = ? WHERE id = ?",
                (moment, profile_id, challenge_id),
            )
            return self._challenge(conn, namespace, challenge_id)

    def purge_challenges(self, before: datetime) -> int:
        with self._transaction(write=True) as conn:
            return int(
                conn.execute(
                    "DELETE FROM challenges WHERE expires_at < ?",
                    (time_text(before, "before"),),
                ).rowcount
            )
