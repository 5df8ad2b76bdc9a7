from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from pixyproxy.domain.models import ApiKey


class ApiKeyStore(ABC):
    """API keys by hash. Every method may raise `RepositoryUnavailable`."""

    @abstractmethod
    def add(self, key: ApiKey) -> None:
        """Store a new key. Raises `Conflict` when its prefix or hash already exists."""

    @abstractmethod
    def find_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not, or None."""

    @abstractmethod
    def list(self) -> list[ApiKey]:
        """Every key, oldest first."""

    @abstractmethod
    def revoke(self, prefix: str, revoked_at: datetime) -> int:
        """Revoke the active keys whose prefix starts with `prefix`; return how many."""
