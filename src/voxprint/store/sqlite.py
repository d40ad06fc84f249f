"""A :class:`~voxprint.store.base.ProfileStore` kept in one SQLite database file.

Durability and concurrency
--------------------------
The database runs in WAL mode with ``synchronous=NORMAL``, ``foreign_keys=ON`` and
``secure_delete=ON`` (deleted voiceprints and embeddings are overwritten with zeros,
not merely unlinked). Every write is one transaction opened with ``BEGIN IMMEDIATE``,
so writers (threads of one process, or several processes each with their own
:class:`SQLiteStore` on the same file) take the write lock up front and serialise;
a writer that finds the lock taken waits up to ``timeout_seconds``.

Threading
---------
One :class:`SQLiteStore` may be shared by many threads. Each thread gets its own
connection (kept in a :class:`threading.local`), so readers run concurrently under
WAL and writers serialise in SQLite itself. A thread's connection is closed when the
thread ends, and :meth:`SQLiteStore.close` closes every connection still open; call it
once no call is in flight.

Schema
------
The schema version lives in ``PRAGMA user_version`` and is brought up to date on
open by :data:`MIGRATIONS`, an ordered tuple of steps: step ``i`` takes the database
from version ``i`` to ``i + 1``. Adding version 2 means appending one function.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from voxprint.errors import (
    ApiKeyNotFoundError,
    DuplicateClipError,
    DuplicateExternalIdError,
    InvalidParameterError,
    InvalidProfileError,
    ProfileNotFoundError,
    SchemaVersionError,
    StoreError,
)
from voxprint.store.base import Rebuild
from voxprint.store.records import (
    Activity,
    ActivityEntry,
    ApiKey,
    Band,
    Clip,
    Cohort,
    EnrollmentState,
    EnrollmentStatus,
    Gallery,
    GalleryStatistics,
    Profile,
    ProfileChanges,
    ScoreScale,
    StoredCalibration,
    unprintable,
)

logger = logging.getLogger(__name__)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SQLiteStore"]

#: Most ids bound in one ``IN (...)`` query (well under SQLite's variable limit).
_ID_CHUNK = 500

# --- schema migrations ------------------------------------------------------------------

Migration = Callable[[sqlite3.Connection], None]


def _migrate_to_v1(conn: sqlite3.Connection) -> None:
    """Initial schema: profiles, clips, activity log."""
    statements = (
        """
        CREATE TABLE profiles (
            id TEXT PRIMARY KEY,
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            external_id TEXT NULL,
            metadata TEXT NOT NULL DEFAULT '{}',
            encoder_name TEXT NOT NULL,
            encoder_version TEXT NOT NULL,
            status TEXT NOT NULL,
            clip_count INTEGER NOT NULL DEFAULT 0,
            audio_seconds REAL NOT NULL DEFAULT 0,
            net_speech_seconds REAL NOT NULL DEFAULT 0,
            voiceprint BLOB NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (namespace, external_id)
        )
        """,
        """
        CREATE TABLE clips (
            id TEXT PRIMARY KEY,
            profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
            embedding BLOB NOT NULL,
            audio_seconds REAL NOT NULL,
            net_speech_seconds REAL NOT NULL,
            label TEXT NULL,
            created_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE activity (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time TEXT NOT NULL,
            namespace TEXT NOT NULL,
            action TEXT NOT NULL,
            profile_id TEXT NULL,
            result TEXT NOT NULL,
            score REAL NULL,
            detail TEXT NULL
        )
        """,
        "CREATE INDEX profiles_namespace_name ON profiles (namespace, name)",
        "CREATE INDEX profiles_namespace_created ON profiles (namespace, created_at)",
        "CREATE INDEX clips_profile ON clips (profile_id)",
        "CREATE INDEX activity_namespace_time ON activity (namespace, time)",
    )
    for statement in statements:
        conn.execute(statement)


def _migrate_to_v2(conn: sqlite3.Connection) -> None:
    """API keys: one row per key, with the SHA-256 of its secret (never the secret)."""
    conn.execute(
        """
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            namespace TEXT NOT NULL,
            secret_hash BLOB NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT NULL
        )
        """
    )


def _migrate_to_v3(conn: sqlite3.Connection) -> None:
    """Per-encoder scoring set-up: fitted calibrations and the AS-Norm impostor cohort."""
    conn.execute(
        """
        CREATE TABLE calibrations (
            encoder_name TEXT NOT NULL,
            encoder_version TEXT NOT NULL,
            scale TEXT NOT NULL,
            slope REAL NOT NULL,
            offset REAL NOT NULL,
            threshold REAL NOT NULL,
            target_far REAL NOT NULL,
            achieved_far REAL NOT NULL,
            achieved_frr REAL NOT NULL,
            impostor_mean REAL NOT NULL,
            impostor_std REAL NOT NULL,
            target_trials INTEGER NOT NULL,
            nontarget_trials INTEGER NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            PRIMARY KEY (encoder_name, encoder_version, scale)
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE cohorts (
            encoder_name TEXT NOT NULL,
            encoder_version TEXT NOT NULL,
            dimension INTEGER NOT NULL,
            embeddings BLOB NOT NULL,
            speakers TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            PRIMARY KEY (encoder_name, encoder_version)
        )
        """
    )


def _migrate_to_v4(conn: sqlite3.Connection) -> None:
    """Decisions that adapt per namespace: each clip's speech bandwidth, and the impostor
    statistics of each namespace's enrolled profiles (per encoder version); each clip's
    content hash, so that a retried enrolment is not stored twice."""
    conn.execute("ALTER TABLE clips ADD COLUMN bandwidth_hz REAL NULL")
    conn.execute("ALTER TABLE clips ADD COLUMN content_hash TEXT NULL")
    conn.execute("CREATE INDEX clips_profile_content ON clips (profile_id, content_hash)")
    conn.execute(
        """
        CREATE TABLE gallery_statistics (
            namespace TEXT NOT NULL,
            encoder_name TEXT NOT NULL,
            encoder_version TEXT NOT NULL,
            band TEXT NOT NULL,
            profiles INTEGER NOT NULL,
            clips INTEGER NOT NULL,
            pairs INTEGER NOT NULL,
            pair_mean REAL NOT NULL,
            trial_std REAL NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (namespace, encoder_name, encoder_version)
        )
        """
    )


#: Ordered migration steps; ``MIGRATIONS[i]`` upgrades version ``i`` to ``i + 1``.
MIGRATIONS: tuple[Migration, ...] = (
    _migrate_to_v1,
    _migrate_to_v2,
    _migrate_to_v3,
    _migrate_to_v4,
)

#: The schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema up to :data:`SCHEMA_VERSION`, in one write transaction."""
    if _user_version(conn) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _user_version(conn)  # re-read: another process may have migrated
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{path} has schema version {version}, but this voxprint knows only up to "
                f"{SCHEMA_VERSION}; upgrade voxprint to open it"
            )
        for step in range(version, SCHEMA_VERSION):
            logger.info("migrating %s from schema version %d to %d", path, step, step + 1)
            MIGRATIONS[step](conn)
            conn.execute(f"PRAGMA user_version = {step + 1}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# --- value conversion -------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _time_text(value: datetime, what: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidProfileError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _vector_blob(vector: np.ndarray, what: str) -> bytes:
    array = np.asarray(vector, dtype="<f4")
    if array.ndim != 1 or array.size == 0:
        raise InvalidProfileError(f"{what} must be a non-empty 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidProfileError(f"{what} contains NaN or infinity")
    return array.tobytes()


def _blob_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4").copy()


def _metadata_text(metadata: dict[str, Any]) -> str:
    if not isinstance(metadata, dict):
        raise InvalidProfileError(f"metadata must be a dict, got {type(metadata).__name__}")
    try:
        return json.dumps(metadata, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidProfileError(f"metadata is not JSON-serialisable: {exc}") from exc


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InvalidProfileError("profile name must be a non-empty string")
    problem = unprintable(name)
    if problem:
        raise InvalidProfileError(f"profile name refused: {problem}")


def _check_external_id(external_id: str | None) -> None:
    if external_id is not None and (not isinstance(external_id, str) or not external_id.strip()):
        raise InvalidProfileError("external id must be a non-empty string or None")
    problem = None if external_id is None else unprintable(external_id)
    if problem:
        raise InvalidProfileError(f"external id refused: {problem}")


_PROFILE_COLUMNS = (
    "id, namespace, name, external_id, metadata, encoder_name, encoder_version, status, "
    "clip_count, audio_seconds, net_speech_seconds, voiceprint, created_at, updated_at"
)
_CLIP_COLUMNS = (
    "id, profile_id, embedding, audio_seconds, net_speech_seconds, label, created_at, "
    "bandwidth_hz, content_hash"
)
_ACTIVITY_COLUMNS = "id, time, namespace, action, profile_id, result, score, detail"


def _profile_from_row(row: sqlite3.Row) -> Profile:
    voiceprint = row["voiceprint"]
    return Profile(
        id=row["id"],
        namespace=row["namespace"],
        name=row["name"],
        external_id=row["external_id"],
        metadata=json.loads(row["metadata"]),
        encoder_name=row["encoder_name"],
        encoder_version=row["encoder_version"],
        status=EnrollmentStatus(row["status"]),
        clip_count=int(row["clip_count"]),
        audio_seconds=float(row["audio_seconds"]),
        net_speech_seconds=float(row["net_speech_seconds"]),
        voiceprint=None if voiceprint is None else _blob_vector(voiceprint),
        created_at=_parse_time(row["created_at"]),
        updated_at=_parse_time(row["updated_at"]),
    )


def _clip_from_row(row: sqlite3.Row) -> Clip:
    return Clip(
        id=row["id"],
        profile_id=row["profile_id"],
        embedding=_blob_vector(row["embedding"]),
        audio_seconds=float(row["audio_seconds"]),
        net_speech_seconds=float(row["net_speech_seconds"]),
        label=row["label"],
        created_at=_parse_time(row["created_at"]),
        bandwidth_hz=None if row["bandwidth_hz"] is None else float(row["bandwidth_hz"]),
        content_hash=row["content_hash"],
    )


def _activity_from_row(row: sqlite3.Row) -> ActivityEntry:
    score = row["score"]
    return ActivityEntry(
        id=int(row["id"]),
        time=_parse_time(row["time"]),
        namespace=row["namespace"],
        action=row["action"],
        profile_id=row["profile_id"],
        result=row["result"],
        score=None if score is None else float(score),
        detail=row["detail"],
    )


_KEY_COLUMNS = "id, name, namespace, created_at, revoked_at"


def _key_from_row(row: sqlite3.Row) -> ApiKey:
    revoked = row["revoked_at"]
    return ApiKey(
        id=row["id"],
        name=row["name"],
        namespace=row["namespace"],
        created_at=_parse_time(row["created_at"]),
        revoked_at=_parse_time(revoked) if revoked is not None else None,
    )


def _chunks(items: Sequence[str], size: int = _ID_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- per-thread connections -------------------------------------------------------------


class _ThreadSlot:
    """Held only by a thread's ``threading.local``; its death closes that thread's connection."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


def _release(
    registry: set[sqlite3.Connection], lock: threading.Lock, conn: sqlite3.Connection
) -> None:
    with lock:
        if conn not in registry:
            return  # already closed by SQLiteStore.close()
        registry.discard(conn)
    conn.close()


# --- the store --------------------------------------------------------------------------


class SQLiteStore:
    """Profiles, clips and the activity log in one SQLite file (see the module docstring).

    Raises :class:`StoreError` when the file is not a SQLite database or cannot be
    opened, and :class:`SchemaVersionError` when it was written by a newer voxprint.
    """

    def __init__(self, path: str | Path, *, timeout_seconds: float = 30.0) -> None:
        self._path = Path(path)
        self._timeout = float(timeout_seconds)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: set[sqlite3.Connection] = set()
        self._closed = False
        if self._path.is_dir():
            raise StoreError(f"cannot open store: {self._path} is a folder, not a database file")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of {self._path}: {exc}") from exc
        conn = self._connection()
        try:
            _migrate(conn, self._path)
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"cannot migrate the store at {self._path}: {exc}") from exc
        except BaseException:
            self.close()
            raise

    @property
    def path(self) -> Path:
        return self._path

    # -- connections and transactions --

    def _open_connection(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._timeout,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # only close() touches it from another thread
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store at {self._path}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                logger.warning("%s: journal_mode is %s, not WAL", self._path, mode)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
                raise StoreError(
                    f"{self._path} is not a SQLite database (or it is encrypted or corrupt)"
                ) from exc
            raise StoreError(f"cannot open the store at {self._path}: {exc}") from exc
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"the store at {self._path} is closed")
        slot: _ThreadSlot | None = getattr(self._local, "slot", None)
        if slot is not None:
            return slot.conn
        conn = self._open_connection()
        with self._lock:
            if self._closed:
                conn.close()
                raise StoreError(f"the store at {self._path} is closed")
            self._connections.add(conn)
        slot = _ThreadSlot(conn)
        weakref.finalize(slot, _release, self._connections, self._lock, conn)
        self._local.slot = slot
        return conn

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction: ``BEGIN IMMEDIATE`` for writes, a consistent snapshot for reads.

        Rolls back on any exception; SQLite errors come out as :class:`StoreError`.
        """
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    logger.exception("rollback failed on %s", self._path)
            if isinstance(exc, sqlite3.Error):
                # The path stays in the server's log; clients get the reason only.
                logger.warning("store operation failed on %s: %s", self._path, exc)
                raise StoreError(f"the store could not complete the operation: {exc}") from exc
            raise

    def writable(self) -> bool:
        """Whether the store can take writes now (a read-only file or folder cannot)."""
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except (sqlite3.Error, StoreError) as exc:
            logger.warning("the store at %s cannot be written: %s", self._path, exc)
            return False

    def _checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it, so no deleted copy lingers there."""
        conn = self._connection()
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            logger.warning("WAL checkpoint failed on %s: %s", self._path, exc)
            raise StoreError(f"the store could not fold its write-ahead log: {exc}") from exc
        if busy:
            logger.warning(
                "%s: WAL checkpoint blocked by another connection; "
                "deleted data stays in the WAL until the next checkpoint",
                self._path,
            )

    # -- lookups (used inside transactions) --

    @staticmethod
    def _fetch_profile(conn: sqlite3.Connection, namespace: str, profile_id: str) -> Profile:
        row = conn.execute(
            f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE namespace = ? AND id = ?",
            (namespace, profile_id),
        ).fetchone()
        if row is None:
            raise ProfileNotFoundError(
                f"no profile with id {profile_id!r} in namespace {namespace!r}"
            )
        return _profile_from_row(row)

    @staticmethod
    def _require_profile(conn: sqlite3.Connection, namespace: str, profile_id: str) -> None:
        row = conn.execute(
            "SELECT 1 FROM profiles WHERE namespace = ? AND id = ?", (namespace, profile_id)
        ).fetchone()
        if row is None:
            raise ProfileNotFoundError(
                f"no profile with id {profile_id!r} in namespace {namespace!r}"
            )

    @staticmethod
    def _check_external_id_free(
        conn: sqlite3.Connection, namespace: str, external_id: str, own_id: str | None
    ) -> None:
        row = conn.execute(
            "SELECT id FROM profiles WHERE namespace = ? AND external_id = ?",
            (namespace, external_id),
        ).fetchone()
        if row is not None and row["id"] != own_id:
            raise DuplicateExternalIdError(
                f"external id {external_id!r} is already used by profile {row['id']!r} "
                f"in namespace {namespace!r}"
            )

    @staticmethod
    def _clips_of(conn: sqlite3.Connection, profile_id: str) -> list[Clip]:
        rows = conn.execute(
            f"SELECT {_CLIP_COLUMNS} FROM clips WHERE profile_id = ? ORDER BY created_at, rowid",
            (profile_id,),
        ).fetchall()
        return [_clip_from_row(row) for row in rows]

    @staticmethod
    def _write_state(
        conn: sqlite3.Connection, profile_id: str, state: EnrollmentState, clip_count: int
    ) -> None:
        voiceprint = (
            None if state.voiceprint is None else _vector_blob(state.voiceprint, "voiceprint")
        )
        conn.execute(
            "UPDATE profiles SET voiceprint = ?, status = ?, audio_seconds = ?, "
            "net_speech_seconds = ?, clip_count = ?, updated_at = ? WHERE id = ?",
            (
                voiceprint,
                EnrollmentStatus(state.status).value,
                float(state.audio_seconds),
                float(state.net_speech_seconds),
                clip_count,
                _time_text(_now(), "updated_at"),
                profile_id,
            ),
        )

    # -- profiles --

    def create_profile(self, profile: Profile, *, activity: Activity | None = None) -> Profile:
        """Insert the profile (and ``activity``, in the same transaction)."""
        _check_name(profile.name)
        _check_external_id(profile.external_id)
        if not isinstance(profile.namespace, str) or not profile.namespace.strip():
            raise InvalidProfileError("namespace must be a non-empty string")
        metadata = _metadata_text(profile.metadata)
        voiceprint = (
            None if profile.voiceprint is None else _vector_blob(profile.voiceprint, "voiceprint")
        )
        values = (
            profile.id,
            profile.namespace,
            profile.name,
            profile.external_id,
            metadata,
            profile.encoder_name,
            profile.encoder_version,
            EnrollmentStatus(profile.status).value,
            int(profile.clip_count),
            float(profile.audio_seconds),
            float(profile.net_speech_seconds),
            voiceprint,
            _time_text(profile.created_at, "created_at"),
            _time_text(profile.updated_at, "updated_at"),
        )
        with self._transaction(write=True) as conn:
            if conn.execute("SELECT 1 FROM profiles WHERE id = ?", (profile.id,)).fetchone():
                raise StoreError(f"a profile with id {profile.id!r} already exists")
            if profile.external_id is not None:
                self._check_external_id_free(conn, profile.namespace, profile.external_id, None)
            conn.execute(
                f"INSERT INTO profiles ({_PROFILE_COLUMNS}) VALUES "
                f"({', '.join('?' * len(values))})",
                values,
            )
            created = self._fetch_profile(conn, profile.namespace, profile.id)
            self._insert_activity(conn, profile.namespace, activity, created)
            return created

    def get_profile(self, namespace: str, profile_id: str) -> Profile:
        with self._transaction(write=False) as conn:
            return self._fetch_profile(conn, namespace, profile_id)

    def find_by_external_id(self, namespace: str, external_id: str) -> Profile:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE namespace = ? AND external_id = ?",
                (namespace, external_id),
            ).fetchone()
        if row is None:
            raise ProfileNotFoundError(
                f"no profile with external id {external_id!r} in namespace {namespace!r}"
            )
        return _profile_from_row(row)

    def find_by_name(self, namespace: str, name: str) -> list[Profile]:
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE namespace = ? AND name = ? "
                "ORDER BY created_at, id",
                (namespace, name),
            ).fetchall()
        return [_profile_from_row(row) for row in rows]

    def list_profiles(self, namespace: str, *, limit: int = 100, offset: int = 0) -> list[Profile]:
        if limit < 0 or offset < 0:
            raise InvalidParameterError(f"limit and offset must be >= 0, got {limit} and {offset}")
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE namespace = ? "
                "ORDER BY created_at, id LIMIT ? OFFSET ?",
                (namespace, limit, offset),
            ).fetchall()
        return [_profile_from_row(row) for row in rows]

    def count_profiles(self, namespace: str) -> int:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM profiles WHERE namespace = ?", (namespace,)
            ).fetchone()
        return int(row[0])

    def update_profile(self, namespace: str, profile_id: str, changes: ProfileChanges) -> Profile:
        if changes.clear_external_id and changes.external_id is not None:
            raise InvalidProfileError("set either external_id or clear_external_id, not both")
        assignments: list[str] = []
        params: list[Any] = []
        if changes.name is not None:
            _check_name(changes.name)
            assignments.append("name = ?")
            params.append(changes.name)
        if changes.clear_external_id:
            assignments.append("external_id = NULL")
        elif changes.external_id is not None:
            _check_external_id(changes.external_id)
            assignments.append("external_id = ?")
            params.append(changes.external_id)
        if changes.metadata is not None:
            assignments.append("metadata = ?")
            params.append(_metadata_text(changes.metadata))
        assignments.append("updated_at = ?")
        params.append(_time_text(_now(), "updated_at"))
        with self._transaction(write=True) as conn:
            self._require_profile(conn, namespace, profile_id)
            if changes.external_id is not None and not changes.clear_external_id:
                self._check_external_id_free(conn, namespace, changes.external_id, profile_id)
            conn.execute(
                f"UPDATE profiles SET {', '.join(assignments)} WHERE namespace = ? AND id = ?",
                (*params, namespace, profile_id),
            )
            return self._fetch_profile(conn, namespace, profile_id)

    def delete_profile(
        self, namespace: str, profile_id: str, *, activity: Activity | None = None
    ) -> None:
        """Delete the profile and its clips (and log ``activity``) in one transaction, then
        checkpoint so no copy stays in the WAL."""
        with self._transaction(write=True) as conn:
            self._require_profile(conn, namespace, profile_id)
            conn.execute(
                "DELETE FROM profiles WHERE namespace = ? AND id = ?", (namespace, profile_id)
            )
            self._insert_activity(conn, namespace, activity, None)
        self._checkpoint()

    # -- clips --

    def add_clip(
        self, namespace: str, clip: Clip, rebuild: Rebuild, *, activity: Activity | None = None
    ) -> Profile:
        """Insert the clip, rebuild the profile from all its clips and log ``activity``, in
        one transaction.

        If ``rebuild`` raises, nothing is written and its exception propagates. A clip whose
        ``content_hash`` the profile already has raises :class:`DuplicateClipError` and
        writes nothing.
        """
        embedding = _vector_blob(clip.embedding, "clip embedding")
        values = (
            clip.id,
            clip.profile_id,
            embedding,
            float(clip.audio_seconds),
            float(clip.net_speech_seconds),
            clip.label,
            _time_text(clip.created_at, "clip created_at"),
            None if clip.bandwidth_hz is None else float(clip.bandwidth_hz),
            clip.content_hash,
        )
        with self._transaction(write=True) as conn:
            self._require_profile(conn, namespace, clip.profile_id)
            if conn.execute("SELECT 1 FROM clips WHERE id = ?", (clip.id,)).fetchone():
                raise StoreError(f"a clip with id {clip.id!r} already exists")
            if clip.content_hash is not None:
                same = conn.execute(
                    "SELECT id FROM clips WHERE profile_id = ? AND content_hash = ?",
                    (clip.profile_id, clip.content_hash),
                ).fetchone()
                if same is not None:
                    raise DuplicateClipError(
                        f"profile {clip.profile_id} already has this audio (clip {same['id']})",
                        clip_id=same["id"],
                    )
            conn.execute(
                f"INSERT INTO clips ({_CLIP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values
            )
            clips = self._clips_of(conn, clip.profile_id)
            self._write_state(conn, clip.profile_id, rebuild(clips), len(clips))
            updated = self._fetch_profile(conn, namespace, clip.profile_id)
            self._insert_activity(conn, namespace, activity, updated)
            return updated

    def reset_profile(
        self,
        namespace: str,
        profile_id: str,
        rebuild: Rebuild,
        *,
        activity: Activity | None = None,
    ) -> Profile:
        """Delete every clip, write ``rebuild([])`` and log ``activity`` in one transaction;
        then checkpoint the WAL like delete."""
        with self._transaction(write=True) as conn:
            self._require_profile(conn, namespace, profile_id)
            conn.execute("DELETE FROM clips WHERE profile_id = ?", (profile_id,))
            self._write_state(conn, profile_id, rebuild([]), 0)
            profile = self._fetch_profile(conn, namespace, profile_id)
            self._insert_activity(conn, namespace, activity, profile)
        self._checkpoint()
        return profile

    def list_clips(self, namespace: str, profile_id: str) -> list[Clip]:
        with self._transaction(write=False) as conn:
            self._require_profile(conn, namespace, profile_id)
            return self._clips_of(conn, profile_id)

    # -- scoring --

    def gallery(
        self,
        namespace: str,
        *,
        encoder_name: str,
        encoder_version: str,
        profile_ids: Sequence[str] | None = None,
    ) -> Gallery:
        """Voiceprints of the namespace's enrolled profiles made with this encoder.

        With ``profile_ids``, only those profiles, in the order given (duplicates
        dropped). Ids that do not exist in the namespace raise
        :class:`ProfileNotFoundError` naming them; ids that exist but are not enrolled,
        or were made with another encoder, are silently left out: checking for that is
        the caller's business (compare ``len(gallery)`` or its ``profile_ids``).
        """
        condition = (
            "namespace = ? AND status = ? AND voiceprint IS NOT NULL "
            "AND encoder_name = ? AND encoder_version = ?"
        )
        base = (namespace, EnrollmentStatus.ENROLLED.value, encoder_name, encoder_version)
        rows: list[sqlite3.Row] = []
        with self._transaction(write=False) as conn:
            if profile_ids is None:
                rows = conn.execute(
                    "SELECT id, name, voiceprint, net_speech_seconds FROM profiles "
                    f"WHERE {condition} ORDER BY created_at, id",
                    base,
                ).fetchall()
            else:
                wanted = list(dict.fromkeys(profile_ids))
                found: set[str] = set()
                for chunk in _chunks(wanted):
                    marks = ", ".join("?" * len(chunk))
                    found.update(
                        row["id"]
                        for row in conn.execute(
                            f"SELECT id FROM profiles WHERE namespace = ? AND id IN ({marks})",
                            (namespace, *chunk),
                        )
                    )
                missing = [pid for pid in wanted if pid not in found]
                if missing:
                    raise ProfileNotFoundError(
                        f"no profile with id(s) {', '.join(map(repr, missing))} "
                        f"in namespace {namespace!r}"
                    )
                by_id: dict[str, sqlite3.Row] = {}
                for chunk in _chunks(wanted):
                    marks = ", ".join("?" * len(chunk))
                    for row in conn.execute(
                        f"SELECT id, name, voiceprint, net_speech_seconds FROM profiles "
                        f"WHERE {condition} AND id IN ({marks})",
                        (*base, *chunk),
                    ):
                        by_id[row["id"]] = row
                rows = [by_id[pid] for pid in wanted if pid in by_id]
        if not rows:
            return Gallery(
                profile_ids=(),
                names=(),
                voiceprints=np.zeros((0, 0), np.float32),
                net_speech_seconds=np.zeros(0),
            )
        vectors = [_blob_vector(row["voiceprint"]) for row in rows]
        if len({vector.shape[0] for vector in vectors}) != 1:
            raise StoreError(
                f"voiceprints of encoder {encoder_name} {encoder_version} in namespace "
                f"{namespace!r} have different dimensions"
            )
        return Gallery(
            profile_ids=tuple(row["id"] for row in rows),
            names=tuple(row["name"] for row in rows),
            voiceprints=np.stack(vectors).astype(np.float32, copy=False),
            net_speech_seconds=np.array([float(row["net_speech_seconds"]) for row in rows]),
        )

    def enrolled_sample(
        self, namespace: str, *, encoder_name: str, encoder_version: str, limit: int
    ) -> list[tuple[Profile, list[Clip]]]:
        """Up to ``limit`` enrolled profiles of this encoder (the first by id: a stable,
        effectively random sample) with their clips."""
        if limit < 1:
            raise InvalidParameterError("limit must be at least 1")
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE namespace = ? AND status = ? "
                "AND voiceprint IS NOT NULL AND encoder_name = ? AND encoder_version = ? "
                "ORDER BY id LIMIT ?",
                (namespace, EnrollmentStatus.ENROLLED.value, encoder_name, encoder_version, limit),
            ).fetchall()
            return [
                (_profile_from_row(row), self._clips_of(conn, row["id"])) for row in rows
            ]

    def save_statistics(
        self,
        namespace: str,
        encoder_name: str,
        encoder_version: str,
        statistics: GalleryStatistics | None,
    ) -> None:
        """Keep (or, with ``None``, forget) a namespace's gallery statistics."""
        key = (namespace, encoder_name, encoder_version)
        with self._transaction(write=True) as conn:
            conn.execute(
                "DELETE FROM gallery_statistics WHERE namespace = ? AND encoder_name = ? "
                "AND encoder_version = ?",
                key,
            )
            if statistics is not None:
                conn.execute(
                    "INSERT INTO gallery_statistics (namespace, encoder_name, encoder_version, "
                    "band, profiles, clips, pairs, pair_mean, trial_std, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        *key,
                        Band(statistics.band).value,
                        int(statistics.profiles),
                        int(statistics.clips),
                        int(statistics.pairs),
                        float(statistics.pair_mean),
                        float(statistics.trial_std),
                        _time_text(statistics.updated_at, "statistics updated_at"),
                    ),
                )

    def get_statistics(
        self, namespace: str, encoder_name: str, encoder_version: str
    ) -> GalleryStatistics | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT * FROM gallery_statistics WHERE namespace = ? AND encoder_name = ? "
                "AND encoder_version = ?",
                (namespace, encoder_name, encoder_version),
            ).fetchone()
        if row is None:
            return None
        return GalleryStatistics(
            band=Band(row["band"]),
            profiles=int(row["profiles"]),
            clips=int(row["clips"]),
            pairs=int(row["pairs"]),
            pair_mean=float(row["pair_mean"]),
            trial_std=float(row["trial_std"]),
            updated_at=_parse_time(row["updated_at"]),
        )

    # -- activity log --

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
            self._insert_activity(conn, namespace, entry, None)

    @staticmethod
    def _insert_activity(
        conn: sqlite3.Connection,
        namespace: str,
        activity: Activity | None,
        profile: Profile | None,
    ) -> None:
        if activity is None:
            return
        result = activity.result
        if result is None:
            result = profile.status.value if profile is not None else "done"
        conn.execute(
            "INSERT INTO activity (time, namespace, action, profile_id, result, score, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                _time_text(_now(), "time"),
                namespace,
                activity.action,
                activity.profile_id if activity.profile_id is not None else (
                    profile.id if profile is not None else None
                ),
                result,
                None if activity.score is None else float(activity.score),
                activity.detail,
            ),
        )

    def list_activity(
        self, namespace: str, *, limit: int = 100, profile_id: str | None = None
    ) -> list[ActivityEntry]:
        """Entries of the namespace, newest first (optionally only those of one profile)."""
        if limit < 0:
            raise InvalidParameterError(f"limit must be >= 0, got {limit}")
        query = f"SELECT {_ACTIVITY_COLUMNS} FROM activity WHERE namespace = ?"
        params: list[Any] = [namespace]
        if profile_id is not None:
            query += " AND profile_id = ?"
            params.append(profile_id)
        query += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        with self._transaction(write=False) as conn:
            rows = conn.execute(query, params).fetchall()
        return [_activity_from_row(row) for row in rows]

    # -- scoring set-up: calibrations and cohorts (keyed by encoder, not namespace) --

    def save_calibration(self, calibration: StoredCalibration) -> StoredCalibration:
        """Store (or replace) the calibration of one encoder version and score scale."""
        numbers = (
            calibration.slope,
            calibration.offset,
            calibration.threshold,
            calibration.target_far,
            calibration.achieved_far,
            calibration.achieved_frr,
            calibration.impostor_mean,
            calibration.impostor_std,
        )
        if not all(np.isfinite(numbers)):
            raise InvalidParameterError("a calibration must hold finite numbers")
        with self._transaction(write=True) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO calibrations (encoder_name, encoder_version, scale, "
                "slope, offset, threshold, target_far, achieved_far, achieved_frr, "
                "impostor_mean, impostor_std, target_trials, nontarget_trials, source, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    calibration.encoder_name,
                    calibration.encoder_version,
                    ScoreScale(calibration.scale).value,
                    *(float(v) for v in numbers),
                    int(calibration.target_trials),
                    int(calibration.nontarget_trials),
                    calibration.source,
                    _time_text(calibration.created_at, "created_at"),
                ),
            )
        return calibration

    def get_calibration(
        self, encoder_name: str, encoder_version: str, scale: ScoreScale
    ) -> StoredCalibration | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT * FROM calibrations WHERE encoder_name = ? AND encoder_version = ? "
                "AND scale = ?",
                (encoder_name, encoder_version, ScoreScale(scale).value),
            ).fetchone()
        if row is None:
            return None
        return StoredCalibration(
            encoder_name=row["encoder_name"],
            encoder_version=row["encoder_version"],
            scale=ScoreScale(row["scale"]),
            slope=float(row["slope"]),
            offset=float(row["offset"]),
            threshold=float(row["threshold"]),
            target_far=float(row["target_far"]),
            achieved_far=float(row["achieved_far"]),
            achieved_frr=float(row["achieved_frr"]),
            impostor_mean=float(row["impostor_mean"]),
            impostor_std=float(row["impostor_std"]),
            target_trials=int(row["target_trials"]),
            nontarget_trials=int(row["nontarget_trials"]),
            source=row["source"],
            created_at=_parse_time(row["created_at"]),
        )

    def delete_calibrations(
        self, encoder_name: str, encoder_version: str, scale: ScoreScale | None = None
    ) -> int:
        query = "DELETE FROM calibrations WHERE encoder_name = ? AND encoder_version = ?"
        params: list[str] = [encoder_name, encoder_version]
        if scale is not None:
            query += " AND scale = ?"
            params.append(ScoreScale(scale).value)
        with self._transaction(write=True) as conn:
            return int(conn.execute(query, params).rowcount)

    def save_cohort(self, cohort: Cohort) -> Cohort:
        """Store (or replace) the impostor cohort of one encoder version."""
        embeddings = np.asarray(cohort.embeddings, dtype="<f4")
        if embeddings.ndim != 2 or embeddings.shape[0] == 0 or embeddings.shape[1] == 0:
            raise InvalidParameterError(
                f"a cohort needs (m, dim) embeddings with m >= 1, got shape {embeddings.shape}"
            )
        if len(cohort.speakers) != embeddings.shape[0]:
            raise InvalidParameterError("a cohort needs one speaker name per embedding")
        if not np.all(np.isfinite(embeddings)):
            raise InvalidParameterError("cohort embeddings contain NaN or infinity")
        with self._transaction(write=True) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO cohorts (encoder_name, encoder_version, dimension, "
                "embeddings, speakers, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    cohort.encoder_name,
                    cohort.encoder_version,
                    int(embeddings.shape[1]),
                    embeddings.tobytes(),
                    json.dumps(list(cohort.speakers)),
                    cohort.source,
                    _time_text(cohort.created_at, "created_at"),
                ),
            )
        # A replaced cohort's old rows must not linger in the WAL either.
        self._checkpoint()
        return cohort

    def get_cohort(self, encoder_name: str, encoder_version: str) -> Cohort | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT * FROM cohorts WHERE encoder_name = ? AND encoder_version = ?",
                (encoder_name, encoder_version),
            ).fetchone()
        if row is None:
            return None
        vectors = _blob_vector(row["embeddings"]).reshape(-1, int(row["dimension"]))
        return Cohort(
            encoder_name=row["encoder_name"],
            encoder_version=row["encoder_version"],
            embeddings=vectors,
            speakers=tuple(json.loads(row["speakers"])),
            source=row["source"],
            created_at=_parse_time(row["created_at"]),
        )

    def delete_cohort(self, encoder_name: str, encoder_version: str) -> bool:
        """Delete the cohort (secure_delete zeroes it) and checkpoint the WAL."""
        with self._transaction(write=True) as conn:
            deleted = conn.execute(
                "DELETE FROM cohorts WHERE encoder_name = ? AND encoder_version = ?",
                (encoder_name, encoder_version),
            ).rowcount
        self._checkpoint()
        return bool(deleted)

    # -- lifetime --

    # -- API keys --

    def add_key(self, key: ApiKey, secret_hash: bytes) -> ApiKey:
        if not key.name.strip():
            raise InvalidParameterError("an API key needs a name")
        if not key.namespace.strip():
            raise InvalidParameterError("an API key needs a namespace")
        with self._transaction(write=True) as conn:
            conn.execute(
                "INSERT INTO api_keys (id, name, namespace, secret_hash, created_at, revoked_at) "
                "VALUES (?, ?, ?, ?, ?, NULL)",
                (
                    key.id,
                    key.name,
                    key.namespace,
                    secret_hash,
                    _time_text(key.created_at, "created_at"),
                ),
            )
        return key

    def get_key(self, key_id: str) -> tuple[ApiKey, bytes]:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT {_KEY_COLUMNS}, secret_hash FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
        if row is None:
            raise ApiKeyNotFoundError(f"no API key with id {key_id!r}")
        return _key_from_row(row), bytes(row["secret_hash"])

    def list_keys(self) -> list[ApiKey]:
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
            ).fetchall()
        return [_key_from_row(row) for row in rows]

    def revoke_key(self, key_id: str) -> ApiKey:
        with self._transaction(write=True) as conn:
            updated = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (_time_text(_now(), "revoked_at"), key_id),
            ).rowcount
            row = conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
        if row is None:
            raise ApiKeyNotFoundError(f"no API key with id {key_id!r}")
        if updated:
            logger.info("revoked API key %s", key_id)
        return _key_from_row(row)

    def close(self) -> None:
        """Close every connection of this store (all threads). Idempotent."""
        with self._lock:
            self._closed = True
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:
                logger.exception("closing a connection to %s failed", self._path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self._path)!r})"
