"""Public use cases: anyone may read image details and bytes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import Field

from pixyproxy.app.content_cache import ContentCache
from pixyproxy.app.cursor import decode_cursor, encode_cursor
from pixyproxy.app.validation import UseCaseInput, revalidate
from pixyproxy.domain.exceptions import BlobNotFound
from pixyproxy.domain.models import Image, ImageContent, ImageQuery
from pixyproxy.domain.values import PAGE_LIMIT_DEFAULT, Author, PageLimit, SearchText, TagList
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.image_repository import ImageRepository


class ListImagesInput(UseCaseInput):
    limit: PageLimit = PAGE_LIMIT_DEFAULT
    cursor: str | None = None
    tags: TagList = Field(default_factory=list)
    author: Author | None = None
    q: SearchText | None = None


@dataclass(frozen=True, slots=True)
class ImagePage:
    images: list[Image]
    next_cursor: str | None


class PublicImages:
    def __init__(
        self, images: ImageRepository, blobs: BlobStore, cache: ContentCache | None = None
    ) -> None:
        self._images = images
        self._blobs = blobs
        self._cache = cache or ContentCache.off()

    def get(self, guid: UUID) -> Image:
        """Raises `ImageNotFound`."""
        return self._images.get(guid)

    def list(self, raw: ListImagesInput | dict[str, Any]) -> ImagePage:
        """Newest first, one page; raises `InvalidInput` / `InvalidCursor`."""
        params = revalidate(ListImagesInput, raw)
        query = ImageQuery(
            limit=params.limit + 1,
            after=decode_cursor(params.cursor) if params.cursor is not None else None,
            tags=tuple(params.tags),
            author=params.author,
            text=params.q,
        )
        found = self._images.list(query)
        page = found[: params.limit]
        more = len(found) > params.limit
        return ImagePage(images=page, next_cursor=encode_cursor(page[-1]) if more else None)

    def content(self, guid: UUID) -> ImageContent:
        """What serving the bytes needs, kept by this worker for a while (see `ContentCache`).
        Raises `ImageNotFound`."""
        cached = self._cache.content(guid)
        if cached is not None:
            return cached
        epoch = self._cache.epoch
        content = self._images.get(guid).content
        self._cache.keep(content, epoch)
        return content

    def contents(self, guids: Sequence[UUID]) -> dict[UUID, ImageContent]:
        """`content` of many images in one query, kept likewise; unknown guids left out."""
        epoch = self._cache.epoch
        found = self._images.contents(guids)
        for content in found.values():
            self._cache.keep(content, epoch)
        return found

    def cached_content(self, guid: UUID) -> ImageContent | None:
        """`content` when this worker holds it: no I/O, so callable on the event loop."""
        return self._cache.content(guid)

    def bytes_at_hand(self, content: ImageContent) -> bytes | None:
        """The bytes when they need no waiting: held by this worker, or at hand in the store
        (local disk: in the page cache). Callable on the event loop; None means `read_bytes`."""
        data = self._cache.data(content.blob_key)
        if data is not None:
            return data
        epoch = self._cache.epoch
        data = self._blobs.get_at_hand(content.blob_key)
        if data is not None:
            self._cache.keep_data(content.blob_key, data, epoch)
        return data

    def read_bytes(self, content: ImageContent) -> bytes:
        """Raises `ImageNotFound` when the image was deleted since `content` was read (by
        another worker), `BlobNotFound` when its row outlived its bytes."""
        cached = self._cache.data(content.blob_key, count=False)
        if cached is not None:
            return cached
        epoch = self._cache.epoch
        try:
            data = self._blobs.get(content.blob_key)
        except BlobNotFound:
            self._cache.forget(content)
            self._images.get(content.guid)
            raise
        self._cache.keep_data(content.blob_key, data, epoch)
        return data

    def presigned_url(self, content: ImageContent, expires_s: int) -> str | None:
        """A short-lived URL serving the bytes without us, when the store offers one; one
        signed earlier while at least half of `expires_s` is left of it."""
        kept = self._cache.url(content.blob_key, expires_s)
        if kept is not None:
            return kept
        signed_at = self._cache.now()
        url = self._blobs.presigned_url(content.blob_key, content.content_type, expires_s)
        if url is not None:
            self._cache.keep_url(content.blob_key, expires_s, url, signed_at)
        return url

    def cached_presigned_url(self, content: ImageContent, expires_s: int) -> str | None:
        """`presigned_url` when this worker holds one: no signing, so callable on the loop."""
        return self._cache.url(content.blob_key, expires_s)
