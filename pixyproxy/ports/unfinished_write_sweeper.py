from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime


class UnfinishedWriteSweeper(ABC):
    """A blob store whose writes can leave leftovers when a process dies mid-`put` (local
    disk: temp files), for the garbage collector to find."""

    @abstractmethod
    def sweep_unfinished_writes(self, older_than: datetime, *, apply: bool) -> list[str]:
        """Leftovers of writes that never finished, last touched before `older_than`; with
        `apply`, removed. Raises `BlobStoreUnavailable`."""
