"""API keys in the SQLite store: public records and the hash of each secret."""

from __future__ import annotations

import logging

from voxprint.errors import ApiKeyNotFoundError, InvalidParameterError
from voxprint.store.records import ApiKey
from voxprint.store.sqlite.codecs import KEY_COLUMNS, key_from_row, now, time_text
from voxprint.store.sqlite.connection import SQLiteDatabase

logger = logging.getLogger(__name__)


class SQLiteKeys(SQLiteDatabase):
    """:class:`~voxprint.store.base.KeyStore` on SQLite."""

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
                    time_text(key.created_at, "created_at"),
                ),
            )
        return key

    def get_key(self, key_id: str) -> tuple[ApiKey, bytes]:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT {KEY_COLUMNS}, secret_hash FROM api_keys WHERE id = ?", (key_id,)
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
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (time_text(now(), "revoked_at"), key_id),
            ).rowcount
            row = conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
        if row is None:
            raise ApiKeyNotFoundError(f"no API key with id {key_id!r}")
        if updated:
            logger.info("revoked API key %s", key_id)
        return key_from_row(row)
