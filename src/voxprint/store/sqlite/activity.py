"""The activity log of the SQLite store: who did what to which profile, and the outcome."""

from __future__ import annotations

import sqlite3
from typing import Any

from voxprint.errors import InvalidParameterError
from voxprint.store.records import Activity, ActivityEntry, Profile
from voxprint.store.sqlite.codecs import ACTIVITY_COLUMNS, activity_from_row, now, time_text
from voxprint.store.sqlite.connection import SQLiteDatabase


def insert_activity(
    conn: sqlite3.Connection,
    namespace: str,
    activity: Activity | None,
    profile: Profile | None,
) -> None:
    """Write ``activity`` on ``conn`` (inside the caller's transaction); for an enrolment
    whose result is ``None`` the result is ``profile``'s status."""
    if activity is None:
        return
    result = activity.result
    if result is None:
        result = profile.status.value if profile is not None else "done"
    conn.execute(
        "INSERT INTO activity (time, namespace, action, profile_id, result, score, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            time_text(now(), "time"),
            namespace,
            activity.action,
            activity.profile_id
            if activity.profile_id is not None
            else (profile.id if profile is not None else None),
            result,
            None if activity.score is None else float(activity.score),
            activity.detail,
        ),
    )


class SQLiteActivity(SQLiteDatabase):
    """:class:`~voxprint.store.base.ActivityStore` on SQLite."""

    def log_activity(
        self,
        namespace: str,
        action: str,
        *,
        profile_id: str | None,
        result: str,
        score: float | None = None,
        detail: str | None = None,
    ) -> None:
        entry = Activity(action, result, profile_id, score, detail)
        with self._transaction(write=True) as conn:
            insert_activity(conn, namespace, entry, None)

    def list_activity(
        self,
        namespace: str,
        *,
        limit: int = 100,
        offset: int = 0,
        profile_id: str | None = None,
        before_id: int | None = None,
    ) -> list[ActivityEntry]:
        """Entries of the namespace, newest first (optionally only those of one profile)."""
        if limit < 0:
            raise InvalidParameterError(f"limit must be >= 0, got {limit}")
        if offset < 0:
            raise InvalidParameterError(f"offset must be >= 0, got {offset}")
        query = f"SELECT {ACTIVITY_COLUMNS} FROM activity WHERE namespace = ?"
        params: list[Any] = [namespace]
        if profile_id is not None:
            query += " AND profile_id = ?"
            params.append(profile_id)
        if before_id is not None:
            query += " AND id < ?"
            params.append(before_id)
        query += " ORDER BY id DESC LIMIT ? OFFSET ?"
        params += [limit, offset]
        with self._transaction(write=False) as conn:
            rows = conn.execute(query, params).fetchall()
        return [activity_from_row(row) for row in rows]
