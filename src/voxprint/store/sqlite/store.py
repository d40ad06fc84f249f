"""The SQLite store: every store ability over one database file.

Each table group is a mixin over :class:`~voxprint.store.sqlite.connection.SQLiteDatabase`
(connections, transactions, migrations): profiles and clips, the activity log, scoring
state, API keys, audio streams, passphrases and challenges.
"""

from __future__ import annotations

from voxprint.store.sqlite.activity import SQLiteActivity
from voxprint.store.sqlite.keys import SQLiteKeys
from voxprint.store.sqlite.phrases import SQLitePhrases
from voxprint.store.sqlite.profiles import SQLiteProfiles
from voxprint.store.sqlite.scoring import SQLiteScoring
from voxprint.store.sqlite.streams import SQLiteStreams


class SQLiteStore(
    SQLiteProfiles, SQLiteActivity, SQLiteScoring, SQLiteKeys, SQLiteStreams, SQLitePhrases
):
    """Profiles, clips, the activity log, scoring state, API keys, audio streams,
    passphrases and spoken challenges in one SQLite file.

    Raises :class:`~voxprint.errors.StoreError` when the file is not a SQLite database or
    cannot be opened, and :class:`~voxprint.errors.SchemaVersionError` when it was written
    by a newer voxprint.
    """
