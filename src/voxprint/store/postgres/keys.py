"""API keys in the PostgreSQL store: public records and the hash of each secret."""

from __future__ import annotations

import logging

from voxprint.errors import ApiKeyNotFoundError, InvalidParameterError, StoreError
from voxprint.store.checks import now, time_text
from voxprint.store.postgres.codecs import KEY_COLUMNS, key_from_row
from voxprint.store.postgres.connection import PostgresDatabase
from voxprint.store.records import ApiKey

logger = logging.getLogger(__name__)


class PostgresKeys(PostgresDatabase):
    """:class:`~voxprint.store.base.KeyStore` on PostgreSQL."""

    def add_key(self, key: ApiKey, secret_hash: bytes) -> ApiKey:
        if not key.name.strip():
            raise InvalidParameterError("an API key needs a name")
        if not key.namespace.strip():
            raise InvalidParameterError("an API key needs a namespace")
        time_text(key.created_at, "created_at")
        with self._transaction(write=True) as conn:
            if conn.execute("SELECT 1 FROM api_keys WHERE id = %s", (key.id,)).fetchone():
                raise StoreError(f"an API key with id {key.id!r} already exists")
            conn.execute(
                "INSERT INTO api_keys (id, name, namespace, secret_hash, created_at, revoked_at) "
                "VALUES (%s, %s, %s, %s, %s, NULL)",
                (key.id, key.name, key.namespace, bytes(secret_hash), key.created_at),
            )
        return key

    def get_key(self, key_id: str) -> tuple[ApiKey, bytes]:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT {KEY_COLUMNS}, secret_hash FROM api_keys WHERE id = %s", (key_id,)
            ).fetchone()
        if row is None:
            raise ApiKeyNotFoundError(f"no API key with id {key_id!r}")
        return key_from_row(row), bytes(row["secret_hash"])

    def list_keys(self) -> list[ApiKey]:
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
            ).fetchall()
        return [key_from_row(row) for row in rows]

    def revoke_key(self, key_id: str) -> ApiKey:
        with self._transaction(write=True) as conn:
            updated = conn.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
                (now(), key_id),
            ).rowcount
            row = conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = %s", (key_id,)
            ).fetchone()
        if row is None:
            raise ApiKeyNotFoundError(f"no API key with id {key_id!r}")
        if updated:
            logger.info("revoked API key %s", key_id)
        return key_from_row(row)
