"""The PostgreSQL store: every store ability over one PostgreSQL database with pgvector.

Each table group is a mixin over
:class:`~voxprint.store.postgres.connection.PostgresDatabase` (pool, transactions,
migrations): profiles and clips, the activity log, scoring state, API keys, streams,
passphrases and challenges.
"""

from __future__ import annotations

from voxprint.store.postgres.activity import PostgresActivity
from voxprint.store.postgres.keys import PostgresKeys
from voxprint.store.postgres.phrases import PostgresPhrases
from voxprint.store.postgres.profiles import PostgresProfiles
from voxprint.store.postgres.scoring import PostgresScoring
from voxprint.store.postgres.streams import PostgresStreams


class PostgresStore(
    PostgresProfiles,
    PostgresActivity,
    PostgresScoring,
    PostgresKeys,
    PostgresStreams,
    PostgresPhrases,
):
    """Profiles, clips, the activity log, scoring state, API keys, audio streams,
    passphrases and spoken challenges in one PostgreSQL database (pgvector 0.8 or later).

    Raises :class:`~voxprint.errors.StoreError` when the database cannot be reached or set
    up, and :class:`~voxprint.errors.SchemaVersionError` when it was written by a newer
    voxprint. Needs the optional ``postgres`` extra (psycopg, psycopg_pool, pgvector).
    """
