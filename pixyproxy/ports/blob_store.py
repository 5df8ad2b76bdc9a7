from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from pixyproxy.domain.models import StoredBlob


class BlobStore(ABC):
    """Image bytes by key. Keys are plain names (`<guid>.<ext>`); a store must refuse any key
    that could escape its space. Every method may raise `BlobStoreUnavailable`.

    What only some stores can do is a capability of its own (`BlobUrlSigner`,
    `AtHandBlobReader`, `UnfinishedWriteSweeper`), which a store implements besides this."""

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store atomically: readers see all of the bytes or none. Raises `InvalidInput` for
        a key that is not a plain name."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """Raises `BlobNotFound`."""

    @abstractmethod
    def size(self, key: str) -> int:
        """How many bytes `key` holds, without reading them. Raises `BlobNotFound`."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the bytes; deleting a missing key is not an error."""

    @abstractmethod
    def iter_blobs(self) -> Iterator[StoredBlob]:
        """Every stored blob with its modification time, for the garbage collector."""

    @abstractmethod
    def ping(self) -> None:
        """Return when the store answers; raises `BlobStoreUnavailable` otherwise."""
