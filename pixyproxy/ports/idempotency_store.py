from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from uuid import UUID

from pixyproxy.domain.models import IdempotencyRecord


class IdempotencyStore(ABC):
    """Claims on idempotency keys, shared by every worker and instance on one database.
    Every method may raise `RepositoryUnavailable`."""

    @abstractmethod
    def claim(self, record: IdempotencyRecord, stale_before: datetime) -> IdempotencyRecord | None:
        """Atomically claim `record.key` for `record.author`. Returns None when the claim is
        ours; otherwise the record that holds the key. A held record that expired, or that is
        still in progress but was created before `stale_before` (its owner died), is replaced
        by ours."""

    @abstractmethod
    def complete(self, author: str, key: str, image_guid: UUID) -> None:
        """Record the result of the claimed request."""

    @abstractmethod
    def release(self, author: str, key: str) -> None:
        """Give up an unfinished claim, so a retry may run the request again."""

    @abstractmethod
    def find(self, author: str, key: str) -> IdempotencyRecord | None: ...

    @abstractmethod
    def purge_expired(self, now: datetime, *, apply: bool) -> int:
        """How many records expired by `now` (a claim replaces those anyway); with `apply`,
        delete them. For the garbage collector: nothing else ever removes them."""
