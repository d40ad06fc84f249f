"""API keys (``voxprint.access``): issue, authenticate in constant time, list and revoke.

The secret is shown once, stored only as a hash, and never logged; every refusal
says the same thing, so a caller learns nothing about which part was wrong.
"""

import hashlib
import logging
import re

import pytest

from voxprint import access
from voxprint.access import KeyService, hash_secret
from voxprint.errors import ApiKeyNotFoundError, AuthenticationError, InvalidParameterError
from voxprint.store import SQLiteStore


@pytest.fixture()
def keys(tmp_path):
    return KeyService(SQLiteStore(tmp_path / "keys.db"))


def test_a_created_key_authenticates_to_its_namespace(keys):
    issued = keys.create("ci", "tenant-a")
    key = keys.authenticate(issued.token)
    assert key.id == issued.key.id
    assert key.namespace == "tenant-a"


def test_the_store_keeps_only_a_hash_of_the_secret(tmp_path, keys):
    issued = keys.create("ci")
    secret = issued.token.rsplit("_", 1)[1]
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("keys.db*"))
    assert secret.encode() not in raw
    assert issued.key.id.encode() in raw


def test_wrong_unknown_malformed_and_revoked_keys_are_refused(keys):
    issued = keys.create("ci")
    key_id, secret = issued.token.split("_")[1], issued.token.split("_", 2)[2]
    for token in (
        None,
        "",
        "nonsense",
        f"vxp_{key_id}_{'x' * len(secret)}",
        f"vxp_{'0' * 16}_{secret}",
    ):
        with pytest.raises(AuthenticationError):
            keys.authenticate(token)
    keys.revoke(issued.key.id)
    with pytest.raises(AuthenticationError):
        keys.authenticate(issued.token)


def test_keys_are_revoked_by_unique_name_and_unknown_ones_say_so(keys):
    keys.create("alpha")
    keys.create("twin")
    keys.create("twin")
    assert not keys.revoke("alpha").is_active
    with pytest.raises(InvalidParameterError):
        keys.revoke("twin")
    with pytest.raises(ApiKeyNotFoundError):
        keys.revoke("nobody")


def test_a_full_key_revokes_its_own_key_and_a_wrong_one_is_named_without_its_secret(keys, caplog):
    caplog.set_level(logging.DEBUG)
    issued = keys.create("ci")
    other = keys.create("other")
    key_id, secret = issued.token.split("_")[1], issued.token.split("_", 2)[2]
    wrong = f"vxp_{key_id}_{'x' * len(secret)}"
    unknown = f"vxp_{'0' * 16}_{secret}"
    short = f"vxp_{key_id}_{secret[:8]}"
    for token in (wrong, unknown, short):
        with pytest.raises(ApiKeyNotFoundError) as refused:
            keys.revoke(token)
        hidden = token.split("_", 2)[2]
        assert hidden not in refused.value.message and "***" in refused.value.message
    assert keys.authenticate(issued.token).is_active  # a wrong secret revokes nothing
    revoked = keys.revoke(f"  {issued.token} ")
    assert revoked.id == issued.key.id and not revoked.is_active
    assert keys.authenticate(other.token).is_active
    assert secret not in caplog.text and "x" * len(secret) not in caplog.text


def test_a_key_needs_a_name_and_a_valid_namespace(keys):
    with pytest.raises(InvalidParameterError):
        keys.create("  ")
    with pytest.raises(InvalidParameterError):
        keys.create("x", "bad namespace!")


def test_a_token_is_the_prefix_the_key_id_and_a_long_random_secret(keys):
    first, second = keys.create("a"), keys.create("b")
    match = re.fullmatch(r"vxp_([0-9a-f]{16})_([A-Za-z0-9_-]{43,})", first.token)
    assert match is not None and match.group(1) == first.key.id
    assert first.token != second.token and first.key.id != second.key.id
    assert first.key.is_active and first.key.revoked_at is None


def test_the_hash_of_a_secret_is_its_sha256(keys):
    assert hash_secret("abc") == hashlib.sha256(b"abc").digest()
    issued = keys.create("ci")
    _, stored = keys.store.get_key(issued.key.id)
    assert stored == hash_secret(issued.token.split("_", 2)[2])


def test_a_token_with_spaces_around_it_still_authenticates(keys):
    issued = keys.create("ci")
    assert keys.authenticate(f"  {issued.token}\n").id == issued.key.id


def test_every_refusal_says_the_same_thing_whatever_was_wrong(keys):
    issued = keys.create("ci")
    key_id, secret = issued.token.split("_", 2)[1:]
    messages = set()
    for token in (
        f"vxp_{key_id}_{'x' * len(secret)}",  # wrong secret
        f"vxp_{'0' * 16}_{secret}",  # unknown id
        f"vxp_{key_id}_{secret}!",  # malformed
        f"key_{key_id}_{secret}",  # wrong prefix
    ):
        with pytest.raises(AuthenticationError) as refused:
            keys.authenticate(token)
        messages.add(refused.value.message)
    keys.revoke(key_id)
    with pytest.raises(AuthenticationError) as revoked:
        keys.authenticate(issued.token)
    messages.add(revoked.value.message)
    assert messages == {"invalid API key"}
    with pytest.raises(AuthenticationError, match="missing API key"):
        keys.authenticate("")


def test_an_unknown_key_id_costs_a_hash_comparison_like_a_wrong_secret(keys, monkeypatch):
    issued = keys.create("ci")
    key_id, secret = issued.token.split("_", 2)[1:]
    compared = []
    real = access.hmac.compare_digest

    def counting(a, b):
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", counting)
    for token in (f"vxp_{'0' * 16}_{secret}", f"vxp_{key_id}_{'y' * len(secret)}"):
        with pytest.raises(AuthenticationError):
            keys.authenticate(token)
    assert compared == [(32, 32), (32, 32)]


def test_creating_a_key_logs_its_id_and_never_its_secret(keys, caplog):
    caplog.set_level(logging.DEBUG)
    issued = keys.create("ci", "tenant-a")
    secret = issued.token.split("_", 2)[2]
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert issued.key.id in text and "tenant-a" in text
    assert secret not in text


def test_names_are_trimmed_and_namespaces_are_short_plain_words(keys):
    assert keys.create("  web app  ").key.name == "web app"
    assert keys.create("x", "a" * 64).key.namespace == "a" * 64
    for namespace in ("a" * 65, ".hidden", "", "tenant/a", "tenant a"):
        with pytest.raises(InvalidParameterError):
            keys.create("x", namespace)


def test_a_revoked_key_is_listed_as_revoked_and_cannot_be_revoked_by_name_again(keys):
    issued = keys.create("alpha")
    assert not keys.revoke(issued.key.id).is_active
    listed = {k.id: k for k in keys.list()}
    assert listed[issued.key.id].revoked_at is not None
    with pytest.raises(ApiKeyNotFoundError, match="no active API key"):
        keys.revoke("alpha")
    assert not keys.revoke(issued.key.id).is_active  # by id: still the revoked key
    with pytest.raises(ApiKeyNotFoundError):
        keys.revoke("0" * 16)


def test_keys_live_in_the_store_they_were_created_in(tmp_path):
    one = KeyService(SQLiteStore(tmp_path / "one.db"))
    other = KeyService(SQLiteStore(tmp_path / "other.db"))
    issued = one.create("web")
    assert one.authenticate(issued.token).id == issued.key.id
    with pytest.raises(AuthenticationError):
        other.authenticate(issued.token)
