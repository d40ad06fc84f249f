"""The SQLite store's schema and its migrations.

The schema version lives in ``PRAGMA user_version`` and is brought up to date on open by
:data:`MIGRATIONS`, an ordered tuple of steps: step ``i`` takes the database from version
``i`` to ``i + 1``. Adding a version means appending one function.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

from voxprint.errors import SchemaVersionError
from voxprint.store.checks import EVERY_BAND_KEY, profile_bands_backfill

logger = logging.getLogger(__name__)

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


def _migrate_to_v5(conn: sqlite3.Connection) -> None:
    """A change counter per namespace, bumped by every change to its galleries, so that
    in-process gallery indexes (of any process sharing the file) know when to reload."""
    conn.execute(
        "CREATE TABLE gallery_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )


def _migrate_to_v6(conn: sqlite3.Connection) -> None:
    """State that must outlive one request, shared by every worker of the service: audio
    streams with their chunks, and a change counter of calibrations and cohorts (so that
    a new calibration is used by running services without a restart)."""
    statements = (
        "CREATE TABLE scoring_version "
        "(id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
        """
        CREATE TABLE streams (
            id TEXT PRIMARY KEY,
            namespace TEXT NOT NULL,
            format TEXT NOT NULL,
            bytes INTEGER NOT NULL DEFAULT 0,
            chunks INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            expires_at REAL NOT NULL
        )
        """,
        "CREATE INDEX streams_namespace ON streams (namespace)",
        "CREATE INDEX streams_expires ON streams (expires_at)",
        """
        CREATE TABLE stream_chunks (
            stream_id TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (stream_id, seq)
        )
        """,
    )
    for statement in statements:
        conn.execute(statement)


def _migrate_to_v7(conn: sqlite3.Connection) -> None:
    """Passphrases and spoken challenges: each text-dependent profile's kind, locale and
    passphrase (no row: text-independent), and single-use challenges per namespace."""
    conn.execute(
        """
        CREATE TABLE profile_phrases (
            profile_id TEXT PRIMARY KEY REFERENCES profiles(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            locale TEXT NULL,
            passphrase TEXT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE challenges (
            id TEXT PRIMARY KEY,
            namespace TEXT NOT NULL,
            kind TEXT NOT NULL,
            phrase TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT NULL,
            profile_id TEXT NULL
        )
        """
    )
    conn.execute("CREATE INDEX challenges_expires ON challenges (expires_at)")


def _migrate_to_v8(conn: sqlite3.Connection) -> None:
    """The change log of galleries: which profile each gallery version changed, so that an
    in-process gallery index reads only what changed instead of the whole gallery."""
    conn.execute(
        """
        CREATE TABLE gallery_changes (
            namespace TEXT NOT NULL,
            version INTEGER NOT NULL,
            profile_id TEXT NOT NULL,
            PRIMARY KEY (namespace, version)
        )
        """
    )


def _migrate_to_v9(conn: sqlite3.Connection) -> None:
    """The shrinkage each namespace's gallery statistics were scaled with, so that a prior
    that changed since (an upgrade) is noticed (rows from before read as NULL: stale), and
    the share of its enrolment clips recorded in the narrow band."""
    conn.execute("ALTER TABLE gallery_statistics ADD COLUMN shrink_seconds REAL NULL")
    conn.execute("ALTER TABLE gallery_statistics ADD COLUMN speech_offset REAL NULL")
    conn.execute("ALTER TABLE gallery_statistics ADD COLUMN narrow_share REAL NULL")


def _migrate_to_v10(conn: sqlite3.Connection) -> None:
    """Gallery statistics of the other band's pairs (a namespace mixing app and telephone
    enrolments adapts each band to its own pairs); rows from before read as none."""
    conn.execute("ALTER TABLE gallery_statistics ADD COLUMN other_pairs INTEGER NULL")
    conn.execute("ALTER TABLE gallery_statistics ADD COLUMN other_pair_mean REAL NULL")
    conn.execute("ALTER TABLE gallery_statistics ADD COLUMN other_trial_std REAL NULL")


def _migrate_to_v11(conn: sqlite3.Connection) -> None:
    """Each profile's bands, kept with it (written with every clip): the band its
    voiceprint was enrolled in, which picks the score model and lets identify search each
    band's best, and the band its statistics pairs describe, indexed so that a sample of
    one band's profiles reads only those; filled in for profiles stored before."""
    conn.execute("ALTER TABLE profiles ADD COLUMN band TEXT NULL")
    conn.execute("ALTER TABLE profiles ADD COLUMN statistics_band TEXT NULL")
    conn.execute(profile_bands_backfill())
    conn.execute(
        "CREATE INDEX profiles_statistics_band ON profiles (namespace, statistics_band, id)"
    )


def _migrate_to_v12(conn: sqlite3.Connection) -> None:
    """The centre gallery statistics were measured around (the mean voiceprint of the
    sampled profiles, float32 little-endian); rows from before read as uncentred, and are
    recomputed where the prior centres."""
    conn.execute("ALTER TABLE gallery_statistics ADD COLUMN centre BLOB NULL")


def _migrate_to_v13(conn: sqlite3.Connection) -> None:
    """The bands of the trials each calibration was fitted on (comma-separated); rows
    from before are ``NULL``: not recorded, taken as every band."""
    conn.execute("ALTER TABLE calibrations ADD COLUMN bands TEXT NULL")


def _migrate_to_v14(conn: sqlite3.Connection) -> None:
    """Each band's own mean voiceprint in the gallery statistics (JSON), from which a
    namespace mixing app and telephone enrolments centres each side of a pair; rows from
    before are ``NULL`` and are recomputed where both bands have pairs."""
    conn.execute("ALTER TABLE gallery_statistics ADD COLUMN band_centres TEXT NULL")


def _migrate_to_v15(conn: sqlite3.Connection) -> None:
    """One calibration per band: each calibration's ``band_key`` (its bands, or ``'all'``
    for one stored before they were recorded) joins the primary key, so that calibrating
    one band keeps the other band's calibration. SQLite cannot change a primary key in
    place: the table is rebuilt, every row kept with its bands."""
    conn.execute(
        """
        CREATE TABLE calibrations_v15 (
            encoder_name TEXT NOT NULL,
            encoder_version TEXT NOT NULL,
            scale TEXT NOT NULL,
            band_key TEXT NOT NULL,
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
            bands TEXT NULL,
            PRIMARY KEY (encoder_name, encoder_version, scale, band_key)
        )
        """
    )
    columns = (
        "encoder_name, encoder_version, scale, slope, offset, threshold, target_far, "
        "achieved_far, achieved_frr, impostor_mean, impostor_std, target_trials, "
        "nontarget_trials, source, created_at, bands"
    )
    conn.execute(
        f"INSERT INTO calibrations_v15 (band_key, {columns}) "
        f"SELECT COALESCE(bands, '{EVERY_BAND_KEY}'), {columns} FROM calibrations"
    )
    conn.execute("DROP TABLE calibrations")
    conn.execute("ALTER TABLE calibrations_v15 RENAME TO calibrations")


#: Ordered migration steps; ``MIGRATIONS[i]`` upgrades version ``i`` to ``i + 1``.
MIGRATIONS: tuple[Migration, ...] = (
    _migrate_to_v1,
    _migrate_to_v2,
    _migrate_to_v3,
    _migrate_to_v4,
    _migrate_to_v5,
    _migrate_to_v6,
    _migrate_to_v7,
    _migrate_to_v8,
    _migrate_to_v9,
    _migrate_to_v10,
    _migrate_to_v11,
    _migrate_to_v12,
    _migrate_to_v13,
    _migrate_to_v14,
    _migrate_to_v15,
)

#: The schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: Path) -> None:
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
