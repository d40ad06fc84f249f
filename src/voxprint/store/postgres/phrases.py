"""Passphrases of text-dependent profiles and spoken challenges in the PostgreSQL store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from voxprint.errors import (
    ChallengeExpiredError,
    ChallengeNotFoundError,
    ChallengeUsedError,
    ProfileNotFoundError,
    StoreError,
)
from voxprint.store.checks import now, time_text
from voxprint.store.postgres.connection import PostgresDatabase
from voxprint.store.records import Challenge, PhraseProfile, ProfileKind

_CHALLENGE_COLUMNS = "id, namespace, kind, phrase, created_at, expires_at, used_at, profile_id"


def _require_profile(conn: Any, namespace: str, profile_id: str) -> None:
    row = conn.execute(
        "SELECT 1 FROM profiles WHERE namespace = %s AND id = %s", (namespace, profile_id)
    ).fetchone()
    if row is None:
        raise ProfileNotFoundError(f"no profile with id {profile_id!r} in namespace {namespace!r}")


def write_phrase(conn: Any, record: PhraseProfile) -> None:
    """Store (or replace) ``record`` within the caller's transaction."""
    conn.execute(
        "INSERT INTO profile_phrases (profile_id, kind, locale, passphrase, updated_at) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (profile_id) DO UPDATE SET "
        "kind = excluded.kind, locale = excluded.locale, "
        "passphrase = excluded.passphrase, updated_at = excluded.updated_at",
        (
            record.profile_id,
            ProfileKind(record.kind).value,
            record.locale,
            record.passphrase,
            now(),
        ),
    )


def _phrase_from_row(row: Any) -> PhraseProfile:
    return PhraseProfile(
        profile_id=row["profile_id"],
        kind=ProfileKind(row["kind"]),
        locale=row["locale"],
        passphrase=row["passphrase"],
    )


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _challenge_from_row(row: Any) -> Challenge:
    return Challenge(
        id=row["id"],
        namespace=row["namespace"],
        kind=row["kind"],
        phrase=row["phrase"],
        created_at=row["created_at"].astimezone(UTC),
        expires_at=row["expires_at"].astimezone(UTC),
        used_at=_utc(row["used_at"]),
        profile_id=row["profile_id"],
    )


class PostgresPhrases(PostgresDatabase):
    """:class:`~voxprint.store.base.PhraseStore` on PostgreSQL. Row locks (``FOR
    UPDATE``) make fixing a passphrase and using a challenge atomic across workers."""

    # -- text-dependent profiles --

    def set_phrase_profile(self, namespace: str, record: PhraseProfile) -> PhraseProfile:
        with self._transaction(write=True) as conn:
            _require_profile(conn, namespace, record.profile_id)
            write_phrase(conn, record)
        return record

    @staticmethod
    def _phrase_row(conn: Any, namespace: str, profile_id: str, *, lock: bool = False) -> Any:
        _require_profile(conn, namespace, profile_id)
        return conn.execute(
            "SELECT profile_id, kind, locale, passphrase FROM profile_phrases "
            "WHERE profile_id = %s" + (" FOR UPDATE" if lock else ""),
            (profile_id,),
        ).fetchone()

    def get_phrase_profile(self, namespace: str, profile_id: str) -> PhraseProfile:
        with self._transaction(write=False) as conn:
            row = self._phrase_row(conn, namespace, profile_id)
        if row is None:
            return PhraseProfile(profile_id, ProfileKind.TEXT_INDEPENDENT)
        return _phrase_from_row(row)

    def get_phrase_profiles(
        self, namespace: str, profile_ids: Sequence[str]
    ) -> dict[str, PhraseProfile]:
        ids = list(dict.fromkeys(profile_ids))
        if not ids:
            return {}
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT p.profile_id, p.kind, p.locale, p.passphrase "
                "FROM profile_phrases p JOIN profiles ON profiles.id = p.profile_id "
                "WHERE profiles.namespace = %s AND p.profile_id = ANY(%s)",
                (namespace, ids),
            ).fetchall()
        return {row["profile_id"]: _phrase_from_row(row) for row in rows}

    def fix_passphrase(self, namespace: str, profile_id: str, passphrase: str) -> str:
        with self._transaction(write=True) as conn:
            row = self._phrase_row(conn, namespace, profile_id, lock=True)
            if row is None:
                raise StoreError(f"profile {profile_id} is not a text-dependent profile")
            if row["passphrase"] is not None:
                return str(row["passphrase"])
            conn.execute(
                "UPDATE profile_phrases SET passphrase = %s, updated_at = %s WHERE profile_id = %s",
                (passphrase, now(), profile_id),
            )
            return passphrase

    def clear_passphrase(self, namespace: str, profile_id: str) -> None:
        with self._transaction(write=True) as conn:
            _require_profile(conn, namespace, profile_id)
            conn.execute(
                "UPDATE profile_phrases SET passphrase = NULL, updated_at = %s "
                "WHERE profile_id = %s",
                (now(), profile_id),
            )

    # -- challenges --

    def create_challenge(self, challenge: Challenge) -> Challenge:
        for moment, what in (
            (challenge.created_at, "created_at"),
            (challenge.expires_at, "expires_at"),
        ):
            time_text(moment, what)  # refuses naive datetimes, as SQLite does
        with self._transaction(write=True) as conn:
            conn.execute(
                f"INSERT INTO challenges ({_CHALLENGE_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    challenge.id,
                    challenge.namespace,
                    challenge.kind,
                    challenge.phrase,
                    challenge.created_at,
                    challenge.expires_at,
                    challenge.used_at,
                    challenge.profile_id,
                ),
            )
        return challenge

    @staticmethod
    def _challenge(
        conn: Any, namespace: str, challenge_id: str, *, lock: bool = False
    ) -> Challenge:
        row = conn.execute(
            f"SELECT {_CHALLENGE_COLUMNS} FROM challenges WHERE namespace = %s AND id = %s"
            + (" FOR UPDATE" if lock else ""),
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
        time_text(now, "now")
        with self._transaction(write=True) as conn:
            challenge = self._challenge(conn, namespace, challenge_id, lock=True)
            if challenge.used_at is not None:
                raise ChallengeUsedError(
                    f"challenge {challenge_id} was already used; ask for a new one"
                )
            if challenge.expired(now):
                raise ChallengeExpiredError(f"challenge {challenge_id} expired; ask for a new one")
            conn.execute(
                "UPDATE challenges SET used_at = %s, profile_id = %s WHERE id = %s",
                (now, profile_id, challenge_id),
            )
            return self._challenge(conn, namespace, challenge_id)

    def purge_challenges(self, before: datetime) -> int:
        time_text(before, "before")
        with self._transaction(write=True) as conn:
            return int(
                conn.execute("DELETE FROM challenges WHERE expires_at < %s", (before,)).rowcount
            )
