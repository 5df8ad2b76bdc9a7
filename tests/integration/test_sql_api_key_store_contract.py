"""The ApiKeyStore contract, held against every implementation: memory, SQLite, MySQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pixyproxy.adapters.driven.memory import MemoryApiKeyStore
from pixyproxy.adapters.driven.sql import SqlApiKeyStore
from pixyproxy.domain.exceptions import Conflict
from pixyproxy.domain.models import ApiKey
from pixyproxy.ports.api_key_store import ApiKeyStore
from tests.support.mysql import CONTRACT_BACKENDS, contract_engine

T0 = datetime(2024, 5, 6, 7, 8, 9, 654321, tzinfo=UTC)


def make_key(prefix: str, *, created_at: datetime = T0, author: str = "alice") -> ApiKey:
    key_hash = hashlib.sha256(f"secret-of-{prefix}".encode()).hexdigest()
    return ApiKey(prefix=prefix, key_hash=key_hash, author=author, created_at=created_at)


@pytest.fixture(params=CONTRACT_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ApiKeyStore:
    if request.param == "memory":
        return MemoryApiKeyStore()
    return SqlApiKeyStore(contract_engine(request, tmp_path))


def test_a_stored_key_is_found_by_its_hash(store: ApiKeyStore) -> None:
    key = make_key("pxy_a1b2", author="o'hara")
    store.add(key)

    found = store.find_by_hash(key.key_hash)

    assert found == key
    assert found is not None and found.created_at.microsecond == 654321
    assert found.created_at.utcoffset() == timedelta(0)


def test_an_unknown_hash_finds_nothing(store: ApiKeyStore) -> None:
    store.add(make_key("pxy_a1b2"))

    assert store.find_by_hash(hashlib.sha256(b"never issued").hexdigest()) is None


def test_list_is_oldest_first_then_by_prefix(store: ApiKeyStore) -> None:
    keys = [
        make_key("pxy_c", created_at=T0),
        make_key("pxy_a", created_at=T0 + timedelta(microseconds=1)),
        make_key("pxy_b", created_at=T0),
    ]
    for key in keys:
        store.add(key)

    assert [k.prefix for k in store.list()] == ["pxy_b", "pxy_c", "pxy_a"]


@pytest.mark.parametrize("clash", ["prefix", "key_hash"])
def test_a_taken_prefix_or_hash_is_a_conflict(store: ApiKeyStore, clash: str) -> None:
    first = make_key("pxy_first")
    store.add(first)
    second = make_key("pxy_second")
    second = ApiKey(
        prefix=first.prefix if clash == "prefix" else second.prefix,
        key_hash=first.key_hash if clash == "key_hash" else second.key_hash,
        author="mallory",
        created_at=T0,
    )

    with pytest.raises(Conflict):
        store.add(second)

    assert store.list() == [first]


def test_revoke_hits_the_active_keys_starting_with_the_prefix(store: ApiKeyStore) -> None:
    for prefix in ["pxy_ab1", "pxy_ab2", "pxy_AB3", "pxy_b", "pxy_a_c", "pxy_a%d"]:
        store.add(make_key(prefix))
    revoked_at = T0 + timedelta(days=1, microseconds=5)

    assert store.revoke("pxy_ab", revoked_at) == 2
    assert store.revoke("pxy_ab", revoked_at + timedelta(days=1)) == 0
    # Wildcard characters in the prefix are plain characters.
    assert store.revoke("pxy_a_", revoked_at) == 1
    assert store.revoke("pxy_a%", revoked_at) == 1

    by_prefix = {k.prefix: k for k in store.list()}
    assert by_prefix["pxy_ab1"].revoked_at == revoked_at
    assert not by_prefix["pxy_ab1"].active
    assert by_prefix["pxy_AB3"].active
    assert by_prefix["pxy_b"].active
    assert sum(k.active for k in store.list()) == 2


def test_a_revoked_key_is_still_found_but_inactive(store: ApiKeyStore) -> None:
    key = make_key("pxy_gone")
    store.add(key)
    store.revoke(key.prefix, T0)

    found = store.find_by_hash(key.key_hash)

    assert found is not None and not found.active
    assert [k.active for k in store.list()] == [False]
