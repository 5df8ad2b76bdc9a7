"""API keys: made here, stored only as SHA-256 hashes, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from pixyproxy.app.validation import UseCaseInput, revalidate
from pixyproxy.domain.exceptions import (
    ApiKeyNotFound,
    AuthenticationRequired,
    ConflictingCredentials,
    InvalidApiKey,
)
from pixyproxy.domain.models import ApiKey
from pixyproxy.domain.values import Author
from pixyproxy.ports.api_key_store import ApiKeyStore
from pixyproxy.ports.clock import Clock

KEY_SCHEME = "pxp"
PREFIX_HEX_CHARS = 12
# A fixed stand-in so an unknown key costs the same comparison as a known one.
_NO_SUCH_HASH = "0" * 64


def hash_key(plaintext: str) -> str:
    # The key carries 256 bits of entropy, so a fast unsalted hash is safe and lets us look
    # it up by index; slow password hashes exist for low-entropy secrets.
    return hashlib.sha256(plaintext.encode("utf-8", "surrogateescape")).hexdigest()


class CreateKeyInput(UseCaseInput):
    author: Author


class ApiKeys:
    def __init__(self, store: ApiKeyStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def create(self, raw: CreateKeyInput | dict[str, Any]) -> tuple[ApiKey, str]:
        """A new key for `author`: the record and the plaintext, which is never kept."""
        author = revalidate(CreateKeyInput, raw).author
        prefix = secrets.token_hex(PREFIX_HEX_CHARS // 2)
        plaintext = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
        record = ApiKey(
            prefix=prefix, key_hash=hash_key(plaintext), author=author, created_at=self._clock.now()
        )
        self._store.add(record)
        return record, plaintext

    def authenticate(self, *presented: str | None) -> str:
        """The author owning the presented key (one request may carry the same key in more
        than one place). Raises `AuthenticationRequired` when no key was given,
        `ConflictingCredentials` when two different ones were, `InvalidApiKey` when it is
        unknown or revoked."""
        keys = {key for key in presented if key}
        if len(keys) > 1:
            raise ConflictingCredentials(
                "the request carries two different API keys (Authorization and X-API-Key); send one"
            )
        if not keys:
            raise AuthenticationRequired("send an API key as 'Authorization: Bearer <key>'")
        (presented_key,) = keys
        presented_hash = hash_key(presented_key)
        record = self._store.find_by_hash(presented_hash)
        stored_hash = record.key_hash if record is not None else _NO_SUCH_HASH
        if not hmac.compare_digest(stored_hash, presented_hash) or record is None:
            raise InvalidApiKey("the API key is not valid")
        if not record.active:
            raise InvalidApiKey("the API key has been revoked")
        return record.author

    def list(self) -> list[ApiKey]:
        return self._store.list()

    def revoke(self, prefix: str) -> int:
        """Revoke the active keys whose public prefix starts with `prefix` (at least 4 chars,
        so a slip cannot revoke everything). Raises `ApiKeyNotFound` when none matched."""
        prefix = prefix.removeprefix(f"{KEY_SCHEME}_")
        if len(prefix) < 4:
            raise ApiKeyNotFound("give at least 4 characters of the key's prefix")
        revoked = self._store.revoke(prefix, self._clock.now())
        if revoked == 0:
            raise ApiKeyNotFound(f"no active key has a prefix starting with {prefix!r}")
        return revoked

    def ensure_first_key(self, author: str = "admin") -> str | None:
        """On an empty key store, create one key for `author` and return its plaintext."""
        if self._store.list():
            return None
        return self.create({"author": author})[1]
