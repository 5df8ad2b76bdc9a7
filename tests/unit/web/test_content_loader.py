"""Content facts of images a worker does not hold, looked up together."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from uuid import UUID, uuid4

import pytest

from pixyproxy.adapters.driven.memory import MemoryBlobStore, MemoryImageRepository
from pixyproxy.adapters.driving.web.content.cache import ContentCache
from pixyproxy.adapters.driving.web.content.loader import ContentLoader
from pixyproxy.adapters.driving.web.content.source import CachedContent
from pixyproxy.app.public_images import PublicImages
from pixyproxy.domain.exceptions import RepositoryUnavailable
from pixyproxy.domain.models import ImageContent
from tests.support.builders import make_image


class SlowCountingRepository(MemoryImageRepository):
    """Answers `contents` once released (so requests pile up meanwhile), counting queries."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[list[UUID]] = []
        self.release = threading.Event()
        self.down = False

    def contents(self, guids: Iterable[UUID]) -> dict[UUID, ImageContent]:
        asked = list(guids)
        self.queries.append(asked)
        self.release.wait(5)
        if self.down:
            raise RepositoryUnavailable("injected outage")
        return super().contents(asked)


def loader_over(repo: SlowCountingRepository, ttl_s: float = 5) -> ContentLoader:
    cache = ContentCache(max_entries=100, ttl_s=ttl_s, max_bytes=0, max_item_bytes=0)
    return ContentLoader(CachedContent(PublicImages(repo, MemoryBlobStore()), cache), max_batch=4)


async def test_requests_arriving_during_a_lookup_share_the_next_one() -> None:
    repo = SlowCountingRepository()
    images = [repo.add(make_image(n)) for n in range(6)]
    loader = loader_over(repo)
    first = asyncio.ensure_future(loader.load(images[0].guid))
    await asyncio.sleep(0.05)  # the first lookup is under way, holding the others back
    rest = [asyncio.ensure_future(loader.load(i.guid)) for i in images[1:]]
    again = asyncio.ensure_future(loader.load(images[1].guid))
    unknown = asyncio.ensure_future(loader.load(uuid4()))
    await asyncio.sleep(0.05)
    repo.release.set()

    assert await first == images[0].content
    assert [await r for r in rest] == [i.content for i in images[1:]]
    assert (await again, await unknown) == (images[1].content, None)
    # One for the first; the seven that waited, in batches of at most four.
    assert [len(q) for q in repo.queries] == [1, 4, 2]


async def test_what_was_found_is_kept_and_what_was_not_is_asked_again() -> None:
    repo = SlowCountingRepository()
    repo.release.set()
    image = repo.add(make_image(1))
    loader = loader_over(repo)
    stranger = uuid4()
    assert await loader.load(image.guid) == image.content
    assert await loader.load(stranger) is None
    assert await loader.load(image.guid) == image.content
    assert await loader.load(stranger) is None
    assert repo.queries == [[image.guid], [stranger], [stranger]]


async def test_an_outage_reaches_every_waiter_and_the_next_lookup_tries_again() -> None:
    repo = SlowCountingRepository()
    images = [repo.add(make_image(n)) for n in range(3)]
    loader = loader_over(repo)
    repo.down = True
    waiting = [asyncio.ensure_future(loader.load(i.guid)) for i in images]
    await asyncio.sleep(0.05)
    repo.release.set()
    for w in waiting:
        with pytest.raises(RepositoryUnavailable):
            await w
    repo.down = False
    assert await loader.load(images[0].guid) == images[0].content


async def test_a_waiter_that_gives_up_does_not_upset_the_others() -> None:
    repo = SlowCountingRepository()
    images = [repo.add(make_image(n)) for n in range(2)]
    loader = loader_over(repo)
    gone = asyncio.ensure_future(loader.load(images[0].guid))
    stays = asyncio.ensure_future(loader.load(images[1].guid))
    await asyncio.sleep(0.05)
    gone.cancel()
    repo.release.set()
    assert await stays == images[1].content
    assert await loader.load(images[0].guid) == images[0].content
