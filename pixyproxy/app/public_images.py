"""Public use cases: anyone may read image details and bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import Field

from pixyproxy.app.cursor import decode_cursor, encode_cursor
from pixyproxy.app.validation import UseCaseInput, revalidate
from pixyproxy.domain.models import Image, ImageQuery
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
    def __init__(self, images: ImageRepository, blobs: BlobStore) -> None:
        self._images = images
        self._blobs = blobs

    def get(self, guid: UUID) -> Image:
        """Raises `ImageNotFound`."""
        return self._images.get(guid)

    def list(self, raw: ListImagesInput | dict[str, Any]) -> ImagePage:
        """Newest first, one page; raises `InvalidInput` / `InvalidCursor`."""
        params = revalidate(ListImagesInput, raw)
        query = ImageQuery(
            limit=params.limit + 1,
            after=decode_cursor(params.cursor) if params.cursor else None,
            tags=tuple(params.tags),
            author=params.author,
            text=params.q,
        )
        found = self._images.list(query)
        page = found[: params.limit]
        more = len(found) > params.limit
        return ImagePage(images=page, next_cursor=encode_cursor(page[-1]) if more else None)

    def read_bytes(self, image: Image) -> bytes:
        """Raises `BlobNotFound` when the row outlived its bytes."""
        return self._blobs.get(image.blob_key)

    def presigned_url(self, image: Image, expires_s: int) -> str | None:
        """A short-lived URL serving the bytes without us, when the store offers one."""
        return self._blobs.presigned_url(image.blob_key, image.content_type, expires_s)
