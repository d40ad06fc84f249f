"""The activity log of the PostgreSQL store."""

from __future__ import annotations

from typing import Any

from voxprint.errors import InvalidParameterError
from voxprint.store.checks import now
from voxprint.store.postgres.codecs import ACTIVITY_COLUMNS, activity_from_row
from voxprint.store.postgres.connection import PostgresDatabase
from voxprint.store.records import Activity, ActivityEntry, Profile


def insert_activity(
    conn: Any, namespace: str, activity: Activity | None, profile: Profile | None
) -> None:
    """Write ``activity`` inside the caller's transaction (see the SQLite twin)."""
    if activity is None:
        return
    result = activity.result
    if result is None:
        result = profile.status.value if profile is not None else "done"
    profile_id = activity.profile_id
    if profile_id is None and profile is not None:
        profile_id = profile.id
    conn.execute(
        "INSERT INTO activity (time, namespace, action, profile_id, result, score, detail) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            now(),
            namespace,
            activity.action,
            profile_id,
            result,
            None if activity.score is None else float(activity.score),
            activity.detail,
        ),
    )


class PostgresActivity(PostgresDatabase):
    """The activity log on PostgreSQL."""

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
        if limit < 0:
            raise InvalidParameterError(f"limit must be >= 0, got {limit}")
        if offset < 0:
            raise InvalidParameterError(f"offset must be >= 0, got {offset}")
        query = f"SELECT {ACTIVITY_COLUMNS} FROM activity WHERE namespace = %s"
        params: list[Any] = [namespace]
        if profile_id is not None:
            query += " AND profile_id = %s"
            params.append(profile_id)
        if before_id is not None:
            query += " AND id < %s"
            params.append(before_id)
        query += " ORDER BY id DESC LIMIT %s OFFSET %s"
        params += [limit, offset]
        with self._transaction(write=False) as conn:
            rows = conn.execute(query, params).fetchall()
        return [activity_from_row(row) for row in rows]
