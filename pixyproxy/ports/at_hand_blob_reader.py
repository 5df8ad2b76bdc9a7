from __future__ import annotations

from abc import ABC, abstractmethod


class AtHandBlobReader(ABC):
    """A blob store that can tell, without waiting, whether bytes are at hand (local disk:
    in the page cache), so an event loop may read them itself instead of sending the read to
    a thread."""

    @abstractmethod
    def get_at_hand(self, key: str) -> bytes | None:
        """The bytes if they can be had without waiting on a device or the network, else None
        (missing, unreadable, or simply not at hand: `BlobStore.get` then tells which). Never
        blocks and never raises."""
