"""The PostgreSQL + pgvector backend of the store (``--db postgresql://...``).

Needs the optional ``postgres`` extra: ``pip install 'voxprint[postgres]'``.
"""

from voxprint.store.postgres.schema import MIGRATIONS, SCHEMA_VERSION
from voxprint.store.postgres.store import PostgresStore

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore"]
