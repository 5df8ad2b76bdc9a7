from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime

from pixyproxy.domain.models import StoredBlob


class BlobStore(ABC):
    """Image bytes by key. Keys are plain names (`<guid>.<ext>`); a store must refuse any key
    that could escape its space. Every method may raise `BlobStoreUnavailable`."""

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store atomically: readers see all of the bytes or none. Raises `InvalidInput` for
        a key that is not a plain name."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """Raises `BlobNotFound`."""

    def get_at_hand(self, key: str) -> bytes | None:
        """The bytes if they can be had without waiting on a device or the network, else None
        (missing, unreadable, or simply not at hand: `get` then tells which). Never blocks, so
        an event loop may call it. A store that cannot tell returns None."""
        return None

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the bytes; deleting a missing key is not an error."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def iter_blobs(self) -> Iterator[StoredBlob]:
        """Every stored blob with its modification time, for the garbage collector."""

    def presigned_url(self, key: str, content_type: str, expires_s: int) -> str | None:
        """A short-lived URL that serves the bytes without pixyproxy, or None when the store
        has no such thing (local disk)."""
        return None

    def sweep_unfinished_writes(self, older_than: datetime, *, apply: bool) -> list[str]:
        """Leftovers of writes that never finished (a crash mid-`put`), last touched before
        `older_than`; with `apply`, removed. None in a store whose writes are atomic."""
        return []

    @abstractmethod
    def ping(self) -> None:
        """Return when the store answers; raises `BlobStoreUnavailable` otherwise."""
