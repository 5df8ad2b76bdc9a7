"""Content facts looked up together: requests for images this worker does not hold (a cold
worker, entries past their TTL) that arrive while a lookup is under way wait for the next one,
which reads all of their rows in one query instead of one query each."""

from __future__ import annotations

import asyncio
from uuid import UUID

from anyio import to_thread

from pixyproxy.adapters.driving.web.content.source import CachedContent
from pixyproxy.domain.models import ImageContent


class ContentLoader:
    def __init__(self, images: CachedContent, max_batch: int = 500) -> None:
        self._images = images
        self._max_batch = max_batch
        self._waiting: dict[UUID, list[asyncio.Future[ImageContent | None]]] = {}
        self._draining: asyncio.Task[None] | None = None

    async def load(self, guid: UUID) -> ImageContent | None:
        """The facts, or None when there is no such image. Raises what
        `CachedContent.contents` raises (`RepositoryUnavailable`)."""
        cached = self._images.held(guid)
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ImageContent | None] = loop.create_future()
        self._waiting.setdefault(guid, []).append(future)
        if self._draining is None:
            self._draining = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                guids = list(self._waiting)[: self._max_batch]
                batch = {guid: self._waiting.pop(guid) for guid in guids}
                try:
                    found = await to_thread.run_sync(self._images.contents, guids)
                except Exception as e:
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(e)
                    continue
                for guid, futures in batch.items():
                    for future in futures:
                        if not future.done():  # the client may have gone
                            future.set_result(found.get(guid))
        finally:
            self._draining = None
