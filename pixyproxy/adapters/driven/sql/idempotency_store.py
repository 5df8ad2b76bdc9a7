"""`IdempotencyStore` over SQLAlchemy Core: the primary key on (author, idem_key) makes the
first INSERT the one claim that wins, across workers and instances."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa

from pixyproxy.adapters.driven.sql import statements as q
from pixyproxy.adapters.driven.sql.engine import transaction
from pixyproxy.adapters.driven.sql.errors import translated_errors
from pixyproxy.adapters.driven.sql.rows import idempotency_to_row, row_to_idempotency
from pixyproxy.domain.exceptions import RepositoryUnavailable
from pixyproxy.domain.models import IdempotencyRecord
from pixyproxy.ports.idempotency_store import IdempotencyStore

# A claim that keeps losing races to other claimants gives up rather than spin.
_CLAIM_ATTEMPTS = 5


class SqlIdempotencyStore(IdempotencyStore):
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def claim(self, record: IdempotencyRecord, stale_before: datetime) -> IdempotencyRecord | None:
        """None when the claim is ours; else the record holding the key (see the port)."""
        row = idempotency_to_row(record)
        for _ in range(_CLAIM_ATTEMPTS):
            with translated_errors("claim the idempotency key"), transaction(self._engine) as c:
                if _inserted(c, row):
                    return None
            held = self.find(record.author, record.key)
            if held is None:
                continue  # released between our INSERT and SELECT: try again
            if not held.replaceable(record.created_at, stale_before):
                return held
            if self._take_over(row, held):
                return None
        raise RepositoryUnavailable("could not claim the idempotency key: too much contention")

    def _take_over(self, row: dict[str, object], held: IdempotencyRecord) -> bool:
        params = {
            **row,
            "held_created_at": held.created_at,
            "held_image_guid": None if held.image_guid is None else str(held.image_guid),
        }
        with translated_errors("take over the idempotency key"), transaction(self._engine) as c:
            return bool(c.execute(q.TAKE_OVER_IDEMPOTENCY, params).rowcount == 1)

    def complete(self, author: str, key: str, image_guid: UUID) -> None:
        params = {"author": author, "idem_key": key, "image_guid": str(image_guid)}
        with translated_errors("record the idempotent result"), transaction(self._engine) as c:
            c.execute(q.COMPLETE_IDEMPOTENCY, params)

    def release(self, author: str, key: str) -> None:
        params = {"author": author, "idem_key": key}
        with translated_errors("release the idempotency key"), transaction(self._engine) as c:
            c.execute(q.RELEASE_IDEMPOTENCY, params)

    def find(self, author: str, key: str) -> IdempotencyRecord | None:
        params = {"author": author, "idem_key": key}
        with translated_errors("look up the idempotency key"), self._engine.connect() as c:
            row = c.execute(q.SELECT_IDEMPOTENCY, params).mappings().first()
        return None if row is None else row_to_idempotency(row)

    def purge_expired(self, now: datetime, *, apply: bool) -> int:
        """Counted and deleted by one condition evaluated in the database, so a claim that
        takes over an expired record at the same moment either keeps its (renewed) record or
        finds the key free and inserts again."""
        with translated_errors("purge expired idempotency keys"), transaction(self._engine) as c:
            if not apply:
                return int(c.execute(q.COUNT_EXPIRED_IDEMPOTENCY, {"now": now}).scalar_one())
            return int(c.execute(q.DELETE_EXPIRED_IDEMPOTENCY, {"now": now}).rowcount)


def _inserted(connection: sa.Connection, row: dict[str, object]) -> bool:
    """False when the key is already held: the primary key refuses a second claim."""
    try:
        connection.execute(q.INSERT_IDEMPOTENCY, row)
    except sa.exc.IntegrityError:
        return False
    return True
