"""Public use cases: anyone may read image details and bytes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import Field

from pixyproxy.app.cursor import decode_cursor, encode_cursor
from pixyproxy.app.validation import UseCaseInput, revalidate
from pixyproxy.domain.exceptions import BlobNotFound
from pixyproxy.domain.models import Image, ImageContent, ImageQuery
from pixyproxy.domain.renditions import Representation
from pixyproxy.domain.values import PAGE_LIMIT_DEFAULT, Author, PageLimit, SearchText, TagList
from pixyproxy.ports.at_hand_blob_reader import AtHandBlobReader
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.blob_url_signer import BlobUrlSigner
from pixyproxy.ports.image_repository import ImageRepository

log = logging.getLogger(__name__)


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
        self._at_hand = blobs if isinstance(blobs, AtHandBlobReader) else None
        self._signer = blobs if isinstance(blobs, BlobUrlSigner) else None

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
        """What serving the bytes needs. Raises `ImageNotFound`."""
        return self._images.get(guid).content

    def contents(self, guids: Sequence[UUID]) -> dict[UUID, ImageContent]:
        """`content` of many images in one query; unknown guids are left out."""
        return self._images.contents(guids)

    def bytes_at_hand(self, content: Representation) -> bytes | None:
        """The bytes (of the original or a rendition) when the store has them at hand (local
        disk: in the page cache), without waiting: callable on an event loop. None means: ask
        `read_bytes`."""
        return None if self._at_hand is None else self._at_hand.get_at_hand(content.blob_key)

    def read_bytes(self, content: ImageContent) -> bytes:
        """Raises `ImageNotFound` when the image was deleted since `content` was read (by
        another worker), `BlobNotFound` when its row outlived its bytes."""
        try:
            return self._blobs.get(content.blob_key)
        except BlobNotFound:
            self._raise_why_missing(content)
            raise

    def check_bytes(self, content: ImageContent) -> None:
        """Return when the bytes are stored, without reading them (what a HEAD needs to answer
        as a GET would). Raises as `read_bytes` does."""
        try:
            self._blobs.size(content.blob_key)
        except BlobNotFound:
            self._raise_why_missing(content)
            raise

    def _raise_why_missing(self, content: ImageContent) -> None:
        """Raise `ImageNotFound` if the image is gone; else its bytes were lost, which an
        operator must hear of."""
        self._images.get(content.guid)
        log.error(
            "data loss: image %s has a row but its bytes (%s) are missing from the image store",
            content.guid,
            content.blob_key,
        )

    def presigned_url(self, content: Representation, expires_s: int) -> str | None:
        """A short-lived URL serving the bytes (of the original or a rendition) without us,
        when the store can sign one."""
        if self._signer is None:
            return None
        return self._signer.presigned_url(content.blob_key, content.content_type, expires_s)
