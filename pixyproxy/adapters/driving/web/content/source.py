"""One worker's view of image content: the public use cases behind (images and their
renditions), its `ContentCache` in front.

Every method that returns without I/O says so; `asked` is a coroutine; the others block
(database, image store) and belong in the threadpool. The methods about bytes take either
representation of an image (`Representation`): the original's facts or a rendition's.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from pixyproxy.adapters.driving.web.content.cache import ContentCache
from pixyproxy.app.public_images import PublicImages
from pixyproxy.app.renditions import Renditions
from pixyproxy.domain.exceptions import BlobNotFound, ImageNotFound
from pixyproxy.domain.models import ImageContent
from pixyproxy.domain.renditions import RenditionContent, Representation


class CachedContent:
    def __init__(self, images: PublicImages, renditions: Renditions, cache: ContentCache) -> None:
        self._images = images
        self._renditions = renditions
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

    async def asked(
        self, original: ImageContent, width: str | None, format: str | None, accept: str | None
    ) -> tuple[Representation, bool]:
        """What `?width=&format=` asks of `original`, given the request's `Accept`: the
        original itself or a rendition's facts (held, recorded, or rendered now: its bytes
        are then kept too), and whether the answer varies by `Accept`. Raises
        `UnsupportedRendition`, and what `Renditions.rendition` raises."""
        choice = self._renditions.choose(original, width, format, accept)
        if choice.spec is None:
            return original, choice.varies_by_accept
        held = self.cache.rendition(original.guid, choice.spec)
        if held is not None:
            return held, choice.varies_by_accept
        epoch = self.cache.epoch
        try:
            stored = await self._renditions.rendition(original, choice.spec)
        except ImageNotFound:
            self.cache.forget(original)
            raise
        made = RenditionContent.of(original, stored.rendition)
        self.cache.keep_rendition(made, epoch)
        if stored.data is not None:
            self.cache.keep_data(made.blob_key, stored.data, epoch)
        return made, choice.varies_by_accept

    def bytes_at_hand(self, content: Representation) -> bytes | None:
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

    def read_bytes(self, content: Representation) -> bytes:
        """Raises `ImageNotFound` when the image was deleted since `content` was read (by
        another worker), `BlobNotFound` when its row outlived its bytes (a rendition's lost
        bytes are rendered again)."""
        held = self.cache.data(content.blob_key, count=False)
        if held is not None:
            return held
        epoch = self.cache.epoch
        try:
            if isinstance(content, RenditionContent):
                data = self._renditions.read_bytes(content)
            else:
                data = self._images.read_bytes(content)
        except (BlobNotFound, ImageNotFound):
            # Gone, or lost: either way nothing kept of it may be served any longer.
            self.cache.forget(_original(content))
            raise
        self.cache.keep_data(content.blob_key, data, epoch)
        return data

    def holds_bytes(self, content: Representation) -> bool:
        """Whether this worker holds the bytes: no I/O."""
        return self.cache.data(content.blob_key, count=False) is not None

    def check_bytes(self, content: Representation) -> None:
        """Return when the bytes are stored (for HEAD, which must answer as GET would).
        Raises as `read_bytes` does."""
        if self.holds_bytes(content):
            return
        try:
            if isinstance(content, RenditionContent):
                self._renditions.check_bytes(content)
            else:
                self._images.check_bytes(content)
        except (BlobNotFound, ImageNotFound):
            # Gone, or lost: either way nothing kept of it may be served any longer.
            self.cache.forget(_original(content))
            raise

    def presigned_url(self, content: Representation, expires_s: int) -> str | None:
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

    def held_presigned_url(self, content: Representation, expires_s: int) -> str | None:
        """`presigned_url` when this worker holds one: no signing, no I/O."""
        return self.cache.url(content.blob_key, expires_s)

    def forget(self, content: ImageContent) -> None:
        """The image is gone (deleted by this process)."""
        self.cache.forget(content)


def _original(content: Representation) -> ImageContent:
    return content.original if isinstance(content, RenditionContent) else content
