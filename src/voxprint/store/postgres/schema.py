"""The PostgreSQL store's schema and its migrations.

The schema version is the one row of ``voxprint_schema``; :data:`MIGRATIONS` is an
ordered tuple of steps (lists of statements): step ``i`` takes the database from version
``i`` to ``i + 1``. Migrating holds an advisory lock, so workers that start together
migrate once.

Voiceprints are ``vector`` columns (pgvector) of any dimension; each dimension in use
gets its own partial HNSW index on cosine distance (:func:`ensure_vector_index`), made
when the first voiceprint of that dimension is stored.
"""

from __future__ import annotations

import logging
from typing import Any

from voxprint.errors import SchemaVersionError, StoreError
from voxprint.store.checks import EVERY_BAND_KEY, profile_bands_backfill

logger = logging.getLogger(__name__)

#: Arbitrary key of the advisory lock held while migrating.
MIGRATION_LOCK = 0x766F7870  # "voxp"

_V1 = (
    "CREATE EXTENSION IF NOT EXISTS vector",
    """
    CREATE TABLE profiles (
        id text COLLATE "C" PRIMARY KEY,
        namespace text NOT NULL,
        name text NOT NULL,
        external_id text NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        encoder_name text NOT NULL,
        encoder_version text NOT NULL,
        status text NOT NULL,
        clip_count integer NOT NULL DEFAULT 0,
        audio_seconds double precision NOT NULL DEFAULT 0,
        net_speech_seconds double precision NOT NULL DEFAULT 0,
        voiceprint vector NULL,
        dimension integer GENERATED ALWAYS AS (vector_dims(voiceprint)) STORED,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        UNIQUE (namespace, external_id)
    )
    """,
    "CREATE INDEX profiles_namespace_name ON profiles (namespace, name)",
    "CREATE INDEX profiles_namespace_created ON profiles (namespace, created_at, id)",
    "CREATE INDEX profiles_gallery ON profiles "
    "(namespace, encoder_name, encoder_version, created_at, id) WHERE status = 'enrolled'",
    """
    CREATE TABLE clips (
        seq bigserial,
        id text PRIMARY KEY,
        profile_id text NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
        embedding bytea NOT NULL,
        audio_seconds double precision NOT NULL,
        net_speech_seconds double precision NOT NULL,
        label text NULL,
        created_at timestamptz NOT NULL,
        bandwidth_hz double precision NULL,
        content_hash text NULL
    )
    """,
    "CREATE INDEX clips_profile ON clips (profile_id, created_at, seq)",
    "CREATE UNIQUE INDEX clips_profile_content ON clips (profile_id, content_hash) "
    "WHERE content_hash IS NOT NULL",
    """
    CREATE TABLE activity (
        id bigserial PRIMARY KEY,
        time timestamptz NOT NULL,
        namespace text NOT NULL,
        action text NOT NULL,
        profile_id text NULL,
        result text NOT NULL,
        score double precision NULL,
        detail text NULL
    )
    """,
    "CREATE INDEX activity_namespace_id ON activity (namespace, id)",
    """
    CREATE TABLE api_keys (
        id text COLLATE "C" PRIMARY KEY,
        name text NOT NULL,
        namespace text NOT NULL,
        secret_hash bytea NOT NULL,
        created_at timestamptz NOT NULL,
        revoked_at timestamptz NULL
    )
    """,
    """
    CREATE TABLE calibrations (
        encoder_name text NOT NULL,
        encoder_version text NOT NULL,
        scale text NOT NULL,
        slope double precision NOT NULL,
        "offset" double precision NOT NULL,
        threshold double precision NOT NULL,
        target_far double precision NOT NULL,
        achieved_far double precision NOT NULL,
        achieved_frr double precision NOT NULL,
        impostor_mean double precision NOT NULL,
        impostor_std double precision NOT NULL,
        target_trials integer NOT NULL,
        nontarget_trials integer NOT NULL,
        source text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL,
        PRIMARY KEY (encoder_name, encoder_version, scale)
    )
    """,
    """
    CREATE TABLE cohorts (
        encoder_name text NOT NULL,
        encoder_version text NOT NULL,
        dimension integer NOT NULL,
        embeddings bytea NOT NULL,
        speakers jsonb NOT NULL,
        source text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL,
        PRIMARY KEY (encoder_name, encoder_version)
    )
    """,
    """
    CREATE TABLE gallery_statistics (
        namespace text NOT NULL,
        encoder_name text NOT NULL,
        encoder_version text NOT NULL,
        band text NOT NULL,
        profiles integer NOT NULL,
        clips integer NOT NULL,
        pairs integer NOT NULL,
        pair_mean double precision NOT NULL,
        trial_std double precision NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (namespace, encoder_name, encoder_version)
    )
    """,
    "CREATE TABLE gallery_versions (namespace text PRIMARY KEY, version bigint NOT NULL)",
    "CREATE TABLE scoring_version (id integer PRIMARY KEY CHECK (id = 1), version bigint NOT NULL)",
    """
    CREATE TABLE streams (
        id text PRIMARY KEY,
        namespace text NOT NULL,
        format text NOT NULL,
        bytes bigint NOT NULL DEFAULT 0,
        chunks integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL,
        expires_at double precision NOT NULL
    )
    """,
    "CREATE INDEX streams_namespace ON streams (namespace)",
    "CREATE INDEX streams_expires ON streams (expires_at)",
    """
    CREATE TABLE stream_chunks (
        stream_id text NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
        seq integer NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (stream_id, seq)
    )
    """,
)

#: Passphrases of text-dependent profiles and spoken challenges (SQLite's version 7).
_V2 = (
    """
    CREATE TABLE profile_phrases (
        profile_id text COLLATE "C" PRIMARY KEY REFERENCES profiles(id) ON DELETE CASCADE,
        kind text NOT NULL,
        locale text NULL,
        passphrase text NULL,
        updated_at timestamptz NOT NULL
    )
    """,
    """
    CREATE TABLE challenges (
        id text PRIMARY KEY,
        namespace text NOT NULL,
        kind text NOT NULL,
        phrase text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz NULL,
        profile_id text NULL
    )
    """,
    "CREATE INDEX challenges_expires ON challenges (expires_at)",
)

_V3 = (
    """
    CREATE TABLE gallery_changes (
        namespace text NOT NULL,
        version bigint NOT NULL,
        profile_id text NOT NULL,
        PRIMARY KEY (namespace, version)
    )
    """,
)

_V4 = (
    "ALTER TABLE gallery_statistics ADD COLUMN shrink_seconds double precision NULL, "
    "ADD COLUMN speech_offset double precision NULL, "
    "ADD COLUMN narrow_share double precision NULL",
)

_V5 = (
    "ALTER TABLE gallery_statistics ADD COLUMN other_pairs integer NULL, "
    "ADD COLUMN other_pair_mean double precision NULL, "
    "ADD COLUMN other_trial_std double precision NULL",
)

_V6 = (
    "ALTER TABLE profiles ADD COLUMN band text NULL, ADD COLUMN statistics_band text NULL",
    profile_bands_backfill(),
    "CREATE INDEX profiles_statistics_band ON profiles (namespace, statistics_band, id)",
)

_V7 = ("ALTER TABLE gallery_statistics ADD COLUMN centre bytea NULL",)

_V8 = ("ALTER TABLE calibrations ADD COLUMN bands text NULL",)

_V9 = ("ALTER TABLE gallery_statistics ADD COLUMN band_centres text NULL",)

_V10 = (
    f"ALTER TABLE calibrations ADD COLUMN band_key text NOT NULL DEFAULT '{EVERY_BAND_KEY}'",
    "UPDATE calibrations SET band_key = bands WHERE bands IS NOT NULL",
    "ALTER TABLE calibrations ALTER COLUMN band_key DROP DEFAULT",
    "ALTER TABLE calibrations DROP CONSTRAINT calibrations_pkey",
    "ALTER TABLE calibrations ADD PRIMARY KEY (encoder_name, encoder_version, scale, band_key)",
)

#: Ordered migration steps; ``MIGRATIONS[i]`` upgrades version ``i`` to ``i + 1``.
#: Version 1 is the schema of SQLite's version 6 (profiles, clips, activity, keys,
#: calibrations, cohorts, gallery statistics and versions, scoring version, streams);
#: version 2 adds SQLite's version 7 (passphrases and challenges), version 3 its
#: version 8 (the change log of galleries), version 4 its version 9 (the shrinkage the
#: gallery statistics were scaled with, and their share of narrowband clips), version 5
#: its version 10 (the statistics of the other band's pairs), version 6 its version 11
#: (each profile's bands), version 7 its version 12 (the statistics' centre), version 8
#: its version 13 (the bands of each calibration's trials), version 9 its version 14
#: (each band's own mean in the gallery statistics), version 10 its version 15 (one
#: calibration per band: each calibration's ``band_key`` in the primary key).
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9, _V10)

#: The schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)


def _version(conn: Any) -> int:
    exists = conn.execute("SELECT to_regclass('voxprint_schema') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    row = conn.execute("SELECT version FROM voxprint_schema").fetchone()
    return 0 if row is None else int(row[0])


def migrate(conn: Any, shown: str) -> None:
    """Bring the schema up to :data:`SCHEMA_VERSION` in one transaction (``conn`` is a
    fresh psycopg connection; ``shown`` the redacted URL for messages)."""
    import psycopg

    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        version = _version(conn)
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the PostgreSQL store at {shown} has schema version {version}, but this "
                f"voxprint knows only up to {SCHEMA_VERSION}; upgrade voxprint to open it"
            )
        if version == SCHEMA_VERSION:
            return
        if version == 0:
            conn.execute("CREATE TABLE voxprint_schema (version integer NOT NULL)")
            conn.execute("INSERT INTO voxprint_schema VALUES (0)")
        for step in range(version, SCHEMA_VERSION):
            logger.info("migrating %s from schema version %d to %d", shown, step, step + 1)
            for statement in MIGRATIONS[step]:
                try:
                    conn.execute(statement)
                except psycopg.errors.InsufficientPrivilege as exc:
                    raise StoreError(
                        f"cannot set up the PostgreSQL store at {shown}: {exc}. "
                        "Create the extension once as a superuser: CREATE EXTENSION vector"
                    ) from exc
            conn.execute("UPDATE voxprint_schema SET version = %s", (step + 1,))


def index_name(dimension: int) -> str:
    return f"profiles_voiceprint_hnsw_{int(dimension)}"


def ensure_vector_index(conn: Any, dimension: int) -> None:
    """Create (if missing) the HNSW index of enrolled voiceprints of one dimension:
    cosine distance, ``m = 32``, ``ef_construction = 128`` (pgvector's defaults, 16 and
    64, gave recall@1 0.93 at 100,000 voiceprints even with ``ef_search = 400``;
    docs/benchmarks.md)."""
    from psycopg import sql

    dimension = int(dimension)
    found = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL AS found", (index_name(dimension),)
    ).fetchone()
    if found["found"]:
        return  # no table lock taken when the index is there (the usual case)
    conn.execute(
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS {} ON profiles USING hnsw "
            "((voiceprint::vector({})) vector_cosine_ops) WITH (m = 32, ef_construction = 128) "
            "WHERE dimension = {} AND status = 'enrolled'"
        ).format(
            sql.Identifier(index_name(dimension)), sql.Literal(dimension), sql.Literal(dimension)
        )
    )
