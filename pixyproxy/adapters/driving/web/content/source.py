"""One worker's view of image content: the public use case behind, its `ContentCache` in front.

Every method that returns without I/O says so; the others block (database, image store) and
belong in the threadpool.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from pixyproxy.adapters.driving.web.content.cache import ContentCache
from pixyproxy.app.public_images import PublicImages
from pixyproxy.domain.exceptions import BlobNotFound, ImageNotFound
from pixyproxy.domain.models import ImageContent


class CachedContent:
    def __init__(self, images: PublicImages, cache: ContentCache) -> None:
        self._images = images
        self.cache = cache

    def held(self, guid: UUID) -> ImageContent | None:
        """The facts when this worker holds them: no I/O."""
        return self.cache.content(guid)

    def content(self, guid: UUID) -> ImageContent:
        """The facts, held or read (and then kept). Raises `ImageNotFound`."""
        held = self.cache.content(guid)
        if held is not None:
            return held
        epoch = self.cache.epoch
        content = self._images.content(guid)
        self.cache.keep(content, epoch)
        return content

    def contents(self, guids: Sequence[UUID]) -> dict[UUID, ImageContent]:
        """The facts of many images in one query, kept; unknown guids are left out."""
        epoch = self.cache.epoch
        found = self._images.contents(guids)
        for content in found.values():
            self.cache.keep(content, epoch)
        return found

    def bytes_at_hand(self, content: ImageContent) -> bytes | None:
        """The bytes when they need no waiting: held by this worker, or at hand in the store.
        No blocking I/O; None means `read_bytes`."""
        data = self.cache.data(content.blob_key)
        if data is not None:
            return data
        epoch = self.cache.epoch
        data = self._images.bytes_at_hand(content)
        if data is not None:
            self.cache.keep_data(content.blob_key, data, epoch)
        return data

    def read_bytes(self, content: ImageContent) -> bytes:
        """Raises `ImageNotFound` when the image was deleted since `content` was read (by
        another worker), `BlobNotFound` when its row outlived its bytes."""
        held = self.cache.data(content.blob_key, count=False)
        if held is not None:
            return held
        epoch = self.cache.epoch
        try:
            data = self._images.read_bytes(content)
        except (BlobNotFound, ImageNotFound):
            # Gone, or lost: either way nothing kept of it may be served any longer.
            self.cache.forget(content)
            raise
        self.cache.keep_data(content.blob_key, data, epoch)
        return data

    def holds_bytes(self, content: ImageContent) -> bool:
        """Whether this worker holds the bytes: no I/O."""
        return self.cache.data(content.blob_key, count=False) is not None

    def check_bytes(self, content: ImageContent) -> None:
        """Return when the bytes are stored (for HEAD, which must answer as GET would).
        Raises as `read_bytes` does."""
        if self.holds_bytes(content):
            return
        try:
            self._images.check_bytes(content)
        except (BlobNotFound, ImageNotFound):
            # Gone, or lost: either way nothing kept of it may be served any longer.
            self.cache.forget(content)
            raise

    def presigned_url(self, content: ImageContent, expires_s: int) -> str | None:
        """A short-lived URL serving the bytes without us, when the store offers one; one
        signed earlier while at least half of `expires_s` is left of it."""
        kept = self.cache.url(content.blob_key, expires_s)
        if kept is not None:
            return kept
        signed_at = self.cache.now()
        url = self._images.presigned_url(content, expires_s)
        if url is not None:
            self.cache.keep_url(content.blob_key, expires_s, url, signed_at)
        return url

    def held_presigned_url(self, content: ImageContent, expires_s: int) -> str | None:
        """`presigned_url` when this worker holds one: no signing, no I/O."""
        return self.cache.url(content.blob_key, expires_s)

    def forget(self, content: ImageContent) -> None:
        """The image is gone (deleted by this process)."""
        self.cache.forget(content)
