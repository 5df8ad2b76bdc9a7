"""`ApiKeyStore` over SQLAlchemy Core, for SQLite and MySQL/MariaDB alike."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from pixyproxy.adapters.driven.sql import statements as q
from pixyproxy.adapters.driven.sql.engine import transaction
from pixyproxy.adapters.driven.sql.errors import ping, translated_errors
from pixyproxy.adapters.driven.sql.rows import api_key_to_row, row_to_api_key
from pixyproxy.domain.exceptions import Conflict
from pixyproxy.domain.models import ApiKey
from pixyproxy.ports.api_key_store import ApiKeyStore


class SqlApiKeyStore(ApiKeyStore):
    """API keys (hash and public prefix only) in SQLite or MySQL/MariaDB."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def add(self, key: ApiKey) -> None:
        """Store a new key. Raises `Conflict` when its prefix or hash exists."""

        def conflict() -> Conflict:
            return Conflict("an API key with this prefix or hash already exists")

        with (
            translated_errors("store the API key", on_integrity=conflict),
            transaction(self._engine) as connection,
        ):
            connection.execute(q.INSERT_API_KEY, api_key_to_row(key))

    def find_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not, or None."""
        with translated_errors("look up the API key"), self._engine.connect() as connection:
            params = {"key_hash": key_hash}
            row = connection.execute(q.SELECT_API_KEY_BY_HASH, params).mappings().first()
        return None if row is None else row_to_api_key(row)

    def list(self) -> list[ApiKey]:
        """Every key, oldest first."""
        with translated_errors("list API keys"), self._engine.connect() as connection:
            rows = connection.execute(q.SELECT_API_KEYS).mappings().all()
        return [row_to_api_key(row) for row in rows]

    def revoke(self, prefix: str, revoked_at: datetime) -> int:
        """Revoke the active keys whose prefix starts with `prefix`; return how many."""
        params = {"prefix": prefix, "prefix_length": len(prefix), "revoked_at": revoked_at}
        with translated_errors("revoke API keys"), transaction(self._engine) as connection:
            return connection.execute(q.REVOKE_API_KEYS, params).rowcount

    def ping(self) -> None:
        """Raises `RepositoryUnavailable` unless the database answers."""
        ping(self._engine)
