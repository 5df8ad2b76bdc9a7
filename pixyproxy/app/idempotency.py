"""`Idempotency-Key` handling: a retried request gets the first answer, never a second run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from uuid import UUID

from anyio import to_thread

from pixyproxy.app.validation import UseCaseInput, revalidate
from pixyproxy.domain.exceptions import (
    FieldError,
    IdempotencyKeyReused,
    IdempotentRequestInProgress,
    IdempotentResultDeleted,
    ImageNotFound,
)
from pixyproxy.domain.models import IdempotencyRecord, Image
from pixyproxy.domain.values import IdempotencyKey
from pixyproxy.ports.clock import Clock
from pixyproxy.ports.idempotency_store import IdempotencyStore
from pixyproxy.ports.image_repository import ImageRepository

KEY_LIFETIME = timedelta(hours=24)
POLL_INTERVAL_S = 0.1


class _KeyInput(UseCaseInput):
    idempotency_key: IdempotencyKey


class IdempotentRunner:
    """Runs an action at most once per (author, key) within `KEY_LIFETIME`.

    A concurrent duplicate waits up to `wait` for the first to finish, then gets
    `IdempotentRequestInProgress`. A claim older than `stale_after` that never finished
    belonged to a process that died; a new request may take it over.
    """

    def __init__(
        self,
        store: IdempotencyStore,
        images: ImageRepository,
        clock: Clock,
        wait: timedelta,
        stale_after: timedelta,
    ) -> None:
        self._store = store
        self._images = images
        self._clock = clock
        self._wait_s = wait.total_seconds()
        self._stale_after = stale_after

    async def run(
        self, author: str, key: str, fingerprint: str, action: Callable[[], Awaitable[Image]]
    ) -> Image:
        """Raises `InvalidInput` for a malformed key, `IdempotencyKeyReused` when the key came
        with another request, `IdempotentRequestInProgress` when the first is still running."""
        key = revalidate(_KeyInput, {"idempotency_key": key}).idempotency_key
        deadline = time.monotonic() + self._wait_s
        while True:
            now = self._clock.now()
            mine = IdempotencyRecord(author, key, fingerprint, now, now + KEY_LIFETIME)
            held = await to_thread.run_sync(self._store.claim, mine, now - self._stale_after)
            if held is None:
                break
            if held.request_hash != fingerprint:
                raise IdempotencyKeyReused(
                    errors=[
                        FieldError(
                            ("idempotency_key",),
                            "this Idempotency-Key was first used with a different request body",
                            "idempotency_key_reused",
                        )
                    ]
                )
            if held.image_guid is not None:
                return await to_thread.run_sync(self._first_answer, held.image_guid)
            if time.monotonic() >= deadline:
                raise IdempotentRequestInProgress(
                    "the first request with this Idempotency-Key is still generating",
                    retry_after_s=max(1.0, self._wait_s),
                )
            await asyncio.sleep(POLL_INTERVAL_S)
        try:
            image = await action()
        except BaseException:
            await to_thread.run_sync(self._store.release, author, key)
            raise
        await to_thread.run_sync(self._store.complete, author, key, image.guid)
        return image

    def _first_answer(self, guid: UUID) -> Image:
        try:
            return self._images.get(guid)
        except ImageNotFound as e:
            # Generating again would bill a second image for one key; say what happened.
            raise IdempotentResultDeleted(
                f"image {guid}, made for this Idempotency-Key, has since been deleted; "
                "send a new key to generate again"
            ) from e
