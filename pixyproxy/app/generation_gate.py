"""A cap on CPU- or money-bound work in flight (generations, renders), per worker process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pixyproxy.domain.exceptions import GenerationCapacityExhausted, ServiceUnavailable


class GenerationGate:
    """At most `limit` generations (or other `work`) at once; a caller waits up to
    `queue_timeout_s` for a slot, then gets `exhausted` (`GenerationCapacityExhausted`) with a
    retry hint."""

    def __init__(
        self,
        limit: int,
        queue_timeout_s: float,
        *,
        work: str = "generation",
        exhausted: type[ServiceUnavailable] = GenerationCapacityExhausted,
    ) -> None:
        self.limit = limit
        self._queue_timeout_s = queue_timeout_s
        self._work = work
        self._exhausted = exhausted
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.in_flight = 0

    def _semaphore_for_running_loop(self) -> asyncio.Semaphore:
        # A semaphore belongs to one event loop; a test client may run several in turn.
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._semaphore, self._loop = asyncio.Semaphore(self.limit), loop
        return self._semaphore

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        semaphore = self._semaphore_for_running_loop()
        try:
            await asyncio.wait_for(semaphore.acquire(), timeout=self._queue_timeout_s)
        except TimeoutError:
            raise self._exhausted(
                f"all {self.limit} {self._work} slots stayed busy for {self._queue_timeout_s:g} s",
                retry_after_s=max(1.0, self._queue_timeout_s),
            ) from None
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            semaphore.release()
