"""A worker's memory of what serving an image's bytes needs, so hot images skip the database
and the image store.

Three bounded least-recently-used maps, one lock:
- the content facts of an image (`ImageContent`) by guid, each kept for `ttl_s` after the row
  was read, with those of the renditions of it asked for since (`RenditionContent`), which
  expire with it. Facts never change while the image exists, so the only staleness is a
  delete: one made in this worker forgets the entry at once (`forget`); one made in another
  worker or process is seen when the entry expires, so for at most `ttl_s` such an image (or
  a rendition of it) is still served. Unknown guids are never kept: a new image is found at
  once.
- the bytes of small images and renditions by blob key, within a total budget. Bytes are
  served only after their facts (fresh from the row, or kept within the TTL), so they need no
  TTL of their own.
  Once the budget is full, new bytes take the place of the least recently used only if they
  were asked for more often lately (TinyLFU's admission, with plain counts halved every
  `age_every` asks): a scan over more images than fit (a crawler, a round robin) then leaves
  the kept ones in place, still served, instead of replacing each before it is asked again.
- presigned URLs by blob key (as many as facts), reused while at least half of their lifetime
  remains: signing costs more CPU than the rest of a redirect.

Bytes and URLs outlive the facts that led to them (they are served only after fresh facts), so
the blob keys of an image's renditions held in either are indexed by the original's key: a
delete forgets them with the original's, whether the image's facts are still held or not.

A lookup that started before a `forget` may not store what it read (the row may be gone
since): each store names the `epoch` it started in, and any forget moves the epoch on.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from uuid import UUID

from pixyproxy.app.settings import Settings
from pixyproxy.domain.models import ImageContent
from pixyproxy.domain.renditions import RenditionContent, RenditionSpec, rendition_owner


class _Held:
    """An image's facts, until `expires_at`, with those of its renditions asked for since."""

    __slots__ = ("content", "expires_at", "renditions")

    def __init__(self, content: ImageContent, expires_at: float) -> None:
        self.content = content
        self.expires_at = expires_at
        self.renditions: dict[RenditionSpec, RenditionContent] | None = None


class ContentCache:
    def __init__(
        self,
        *,
        max_entries: int,
        ttl_s: float,
        max_bytes: int,
        max_item_bytes: int,
        monotonic: Callable[[], float] = time.monotonic,
        age_every: int = 10_000,
    ) -> None:
        self._max_entries = max_entries if ttl_s > 0 else 0
        self._ttl_s = ttl_s
        self._max_bytes = max_bytes
        self._max_item_bytes = min(max_item_bytes, max_bytes)
        self._monotonic = monotonic
        self._facts: OrderedDict[UUID, _Held] = OrderedDict()
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._urls: OrderedDict[str, tuple[int, float, str]] = OrderedDict()
        # An original's blob key -> the keys of its renditions in `_data` or `_urls`.
        self._derived: dict[str, set[str]] = {}
        self._data_bytes = 0
        self._asked: dict[str, int] = {}
        self._asks = 0
        self._age_every = age_every
        self._epoch = 0
        # Threadpool threads and the event loop both use it; each critical section is a few
        # dict operations.
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> ContentCache:
        return cls(
            max_entries=settings.content_cache_entries,
            ttl_s=settings.content_cache_ttl_s,
            max_bytes=settings.content_cache_bytes,
            max_item_bytes=settings.content_cache_item_bytes,
        )

    @property
    def epoch(self) -> int:
        """Read before a lookup whose result is to be kept (see `keep`)."""
        return self._epoch

    @property
    def data_bytes(self) -> int:
        return self._data_bytes

    def content(self, guid: UUID) -> ImageContent | None:
        with self._lock:
            held = self._facts.get(guid)
            if held is None:
                return None
            if self._monotonic() >= held.expires_at:
                del self._facts[guid]
                return None
            self._facts.move_to_end(guid)
            return held.content

    def keep(self, content: ImageContent, epoch: int) -> None:
        if self._max_entries == 0:
            return
        with self._lock:
            if epoch != self._epoch:
                return
            self._facts[content.guid] = _Held(content, self._monotonic() + self._ttl_s)
            self._facts.move_to_end(content.guid)
            while len(self._facts) > self._max_entries:
                self._facts.popitem(last=False)

    def rendition(self, guid: UUID, spec: RenditionSpec) -> RenditionContent | None:
        """A rendition's facts, kept with its image's (which the caller has just looked up)."""
        with self._lock:
            held = self._facts.get(guid)
            if held is None or held.renditions is None or self._monotonic() >= held.expires_at:
                return None
            return held.renditions.get(spec)

    def keep_rendition(self, content: RenditionContent, epoch: int) -> None:
        """Keep a rendition's facts until its image's expire; not at all when the image's
        are not held."""
        with self._lock:
            held = self._facts.get(content.guid)
            if epoch != self._epoch or held is None:
                return
            if held.renditions is None:
                held.renditions = {}
            held.renditions[content.spec] = content

    def data(self, blob_key: str, *, count: bool = True) -> bytes | None:
        """`count`: this is a request for the bytes (not a second look during one)."""
        with self._lock:
            if count and self._max_bytes:
                self._count_ask(blob_key)
            data = self._data.get(blob_key)
            if data is not None:
                self._data.move_to_end(blob_key)
            return data

    def _count_ask(self, blob_key: str) -> None:
        self._asked[blob_key] = self._asked.get(blob_key, 0) + 1
        self._asks += 1
        if self._asks >= self._age_every:
            self._asks = 0
            self._asked = {k: n // 2 for k, n in self._asked.items() if n > 1}

    def keep_data(self, blob_key: str, data: bytes, epoch: int) -> None:
        if len(data) > self._max_item_bytes:
            return
        with self._lock:
            if epoch != self._epoch or blob_key in self._data:
                return
            if self._data_bytes + len(data) > self._max_bytes and self._data:
                victim = next(iter(self._data))
                if self._asked.get(blob_key, 0) <= self._asked.get(victim, 0):
                    return
            self._data[blob_key] = data
            self._data_bytes += len(data)
            self._index(blob_key)
            while self._data_bytes > self._max_bytes:
                key, evicted = self._data.popitem(last=False)
                self._data_bytes -= len(evicted)
                if key not in self._urls:
                    self._unindex(key)

    def url(self, blob_key: str, expires_s: int) -> str | None:
        """A URL kept for `blob_key`, signed for `expires_s`, with half of that left."""
        with self._lock:
            found = self._urls.get(blob_key)
            if found is None:
                return None
            signed_for, reuse_until, url = found
            if signed_for != expires_s or self._monotonic() >= reuse_until:
                del self._urls[blob_key]
                if blob_key not in self._data:
                    self._unindex(blob_key)
                return None
            self._urls.move_to_end(blob_key)
            return url

    def keep_url(self, blob_key: str, expires_s: int, url: str, signed_at: float) -> None:
        """`signed_at`: this cache's `now()` read before signing."""
        if self._max_entries == 0:
            return
        with self._lock:
            self._urls[blob_key] = (expires_s, signed_at + expires_s / 2, url)
            self._urls.move_to_end(blob_key)
            self._index(blob_key)
            while len(self._urls) > self._max_entries:
                key, _ = self._urls.popitem(last=False)
                if key not in self._data:
                    self._unindex(key)

    def _index(self, blob_key: str) -> None:
        owner = rendition_owner(blob_key)
        if owner is not None:
            self._derived.setdefault(owner, set()).add(blob_key)

    def _unindex(self, blob_key: str) -> None:
        owner = rendition_owner(blob_key)
        if owner is None or owner not in self._derived:
            return
        derived = self._derived[owner]
        derived.discard(blob_key)
        if not derived:
            del self._derived[owner]

    def now(self) -> float:
        return self._monotonic()

    def forget(self, content: ImageContent) -> None:
        """The image is gone: drop what is kept of it and of its renditions, and refuse what
        lookups already under way would keep."""
        with self._lock:
            self._epoch += 1
            self._facts.pop(content.guid, None)
            for blob_key in (content.blob_key, *self._derived.pop(content.blob_key, ())):
                self._urls.pop(blob_key, None)
                data = self._data.pop(blob_key, None)
                if data is not None:
                    self._data_bytes -= len(data)
