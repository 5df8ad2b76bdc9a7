from __future__ import annotations

import pytest

from pixyproxy.adapters.driven.memory import ManualClock, MemoryApiKeyStore
from pixyproxy.app.api_keys import ApiKeys, hash_key
from pixyproxy.domain.exceptions import (
    ApiKeyNotFound,
    AuthenticationRequired,
    InvalidApiKey,
    InvalidInput,
)


@pytest.fixture
def keys() -> tuple[ApiKeys, MemoryApiKeyStore]:
    store = MemoryApiKeyStore()
    return ApiKeys(store, ManualClock()), store


def test_created_key_authenticates_its_author_and_only_its_hash_is_kept(
    keys: tuple[ApiKeys, MemoryApiKeyStore],
) -> None:
    service, store = keys
    record, plaintext = service.create({"author": "alice"})
    assert service.authenticate(plaintext) == "alice"
    assert plaintext.startswith(f"pxp_{record.prefix}_")
    assert len(plaintext) > 50
    (stored,) = store.list()
    assert stored.key_hash == hash_key(plaintext)
    assert plaintext not in repr(stored)


def test_keys_are_unique(keys: tuple[ApiKeys, MemoryApiKeyStore]) -> None:
    service, _ = keys
    made = {service.create({"author": "alice"})[1] for _ in range(50)}
    assert len(made) == 50


@pytest.mark.parametrize("presented", [None, ""])
def test_missing_key(keys: tuple[ApiKeys, MemoryApiKeyStore], presented: str | None) -> None:
    with pytest.raises(AuthenticationRequired):
        keys[0].authenticate(presented)


def test_wrong_and_revoked_keys(keys: tuple[ApiKeys, MemoryApiKeyStore]) -> None:
    service, _ = keys
    record, plaintext = service.create({"author": "alice"})
    with pytest.raises(InvalidApiKey):
        service.authenticate(plaintext + "x")
    with pytest.raises(InvalidApiKey):
        service.authenticate("pxp_\udcff_surrogate")
    assert service.revoke(record.prefix[:6]) == 1
    with pytest.raises(InvalidApiKey, match="revoked"):
        service.authenticate(plaintext)


def test_revoke_needs_a_real_prefix(keys: tuple[ApiKeys, MemoryApiKeyStore]) -> None:
    service, _ = keys
    service.create({"author": "alice"})
    with pytest.raises(ApiKeyNotFound):
        service.revoke("ab")
    with pytest.raises(ApiKeyNotFound):
        service.revoke("zzzzzz")
    assert len([k for k in service.list() if k.active]) == 1


def test_bad_author(keys: tuple[ApiKeys, MemoryApiKeyStore]) -> None:
    with pytest.raises(InvalidInput):
        keys[0].create({"author": "two words"})


def test_first_key_only_on_an_empty_store(keys: tuple[ApiKeys, MemoryApiKeyStore]) -> None:
    service, _ = keys
    first = service.ensure_first_key()
    assert first is not None and service.authenticate(first) == "admin"
    assert service.ensure_first_key() is None
