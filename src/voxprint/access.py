"""API keys: issue, authenticate, list and revoke.

A key is shown once, when it is created, as ``vxp_<id>_<secret>``. The store keeps
the key's id, name and namespace, and the SHA-256 of the secret, never the secret
itself. The secret is 32 random bytes, so a plain (unsalted, fast) hash is enough:
nobody can guess a preimage, and the hash makes a stolen database useless for
calling the service. Secrets are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from voxprint.errors import ApiKeyNotFoundError, AuthenticationError, InvalidParameterError
from voxprint.redaction import MASK, redact
from voxprint.store.base import KeyStore
from voxprint.store.records import DEFAULT_NAMESPACE, ApiKey, check_namespace

logger = logging.getLogger(__name__)

KEY_PREFIX = "vxp"
_KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{20,128}})$")


def hash_secret(secret: str) -> bytes:
    """SHA-256 of a key's secret part: 32 bytes."""
    return hashlib.sha256(secret.encode("utf-8")).digest()


@dataclass(frozen=True)
class IssuedKey:
    """A newly created key: ``token`` is the only copy of the secret and is never stored."""

    key: ApiKey
    token: str


@dataclass(frozen=True)
class KeyService:
    """Issue and check API keys kept in a :class:`~voxprint.store.base.KeyStore`."""

    store: KeyStore

    def create(self, name: str, namespace: str = DEFAULT_NAMESPACE) -> IssuedKey:
        """Create a key for ``namespace``; the returned token is shown to the user once."""
        name = name.strip()
        if not name:
            raise InvalidParameterError("an API key needs a name")
        check_namespace(namespace)
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        key = ApiKey(id=key_id, name=name, namespace=namespace, created_at=datetime.now(UTC))
        self.store.add_key(key, hash_secret(secret))
        logger.info("created API key %s (%s) for namespace %s", key_id, name, namespace)
        return IssuedKey(key=key, token=f"{KEY_PREFIX}_{key_id}_{secret}")

    def authenticate(self, token: str | None) -> ApiKey:
        """The active key behind ``token``; raises :class:`AuthenticationError` otherwise.

        The message never says which part was wrong, so it leaks nothing.
        """
        if not token:
            raise AuthenticationError("missing API key")
        match = _KEY_PATTERN.match(token.strip())
        if match is None:
            raise AuthenticationError("invalid API key")
        key_id, secret = match.groups()
        try:
            key, stored_hash = self.store.get_key(key_id)
        except ApiKeyNotFoundError:
            # Hash anyway so an unknown id costs the same time as a wrong secret.
            hmac.compare_digest(hash_secret(secret), bytes(32))
            raise AuthenticationError("invalid API key") from None
        if not hmac.compare_digest(hash_secret(secret), stored_hash) or not key.is_active:
            raise AuthenticationError("invalid API key")
        return key

    def list(self) -> list[ApiKey]:
        return self.store.list_keys()

    def revoke(self, reference: str) -> ApiKey:
        """Revoke a key by id, by name when exactly one active key has that name, or by
        the full key (``vxp_<id>_<secret>``) when its secret is right. No message holds a
        secret: a full key that matches no key is named as ``vxp_<id>_***``."""
        reference = reference.strip()
        full = _KEY_PATTERN.match(reference)
        if full is not None:
            return self._revoke_token(*full.groups())
        try:
            return self.store.revoke_key(reference)
        except ApiKeyNotFoundError:
            pass
        named = [k for k in self.store.list_keys() if k.name == reference and k.is_active]
        if not named:
            raise ApiKeyNotFoundError(f"no active API key with id or name {redact(reference)!r}")
        if len(named) > 1:
            ids = ", ".join(k.id for k in named)
            raise InvalidParameterError(
                f"{len(named)} active keys are named {reference!r} ({ids}); revoke one by id"
            )
        return self.store.revoke_key(named[0].id)

    def _revoke_token(self, key_id: str, secret: str) -> ApiKey:
        """Revoke the key a full token belongs to, if the token's secret is its secret
        (compared in constant time, as :meth:`authenticate` does)."""
        masked = f"{KEY_PREFIX}_{key_id}_{MASK}"
        try:
            key, stored_hash = self.store.get_key(key_id)
        except ApiKeyNotFoundError:
            hmac.compare_digest(hash_secret(secret), bytes(32))
            raise ApiKeyNotFoundError(f"no API key matches {masked}") from None
        if not hmac.compare_digest(hash_secret(secret), stored_hash):
            raise ApiKeyNotFoundError(f"no API key matches {masked}")
        return self.store.revoke_key(key.id)
