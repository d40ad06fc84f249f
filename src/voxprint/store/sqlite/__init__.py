"""The SQLite backend of the store (the default): one database file."""

from voxprint.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from voxprint.store.sqlite.store import SQLiteStore

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SQLiteStore"]
