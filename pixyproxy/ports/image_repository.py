from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from uuid import UUID

from pixyproxy.domain.models import Image, ImageContent, ImageQuery
from pixyproxy.domain.renditions import Rendition, RenditionSpec


class ImageRepository(ABC):
    """Image details. Every method may raise `RepositoryUnavailable` when the store is down."""

    @abstractmethod
    def add(self, image: Image, renditions: Sequence[Rendition] = ()) -> Image:
        """Store a new image with its tags, its placeholder and the renditions already
        stored for it, all at once; return it with its `id` set.

        Raises `DuplicateImage` when the guid is taken.
        """

    @abstractmethod
    def get(self, guid: UUID) -> Image:
        """Raises `ImageNotFound`."""

    @abstractmethod
    def list(self, query: ImageQuery) -> list[Image]:
        """Newest first (`created_at`, then `guid`, both descending), strictly after
        `query.after`, at most `query.limit` images, every tag in `query.tags` present."""

    @abstractmethod
    def contents(self, guids: Iterable[UUID]) -> dict[UUID, ImageContent]:
        """What serving the bytes needs, of those of `guids` that exist (the others are left
        out): many at once, for content requests arriving together."""

    @abstractmethod
    def set_tags(self, guid: UUID, tags: tuple[str, ...], updated_at: datetime) -> Image:
        """Replace the tag list and move `updated_at`. Raises `ImageNotFound`."""

    @abstractmethod
    def delete(self, guid: UUID) -> None:
        """Raises `ImageNotFound`."""

    @abstractmethod
    def rendition(self, guid: UUID, spec: RenditionSpec) -> Rendition | None:
        """The recorded rendition, or None (none recorded, or no such image)."""

    @abstractmethod
    def add_rendition(self, guid: UUID, rendition: Rendition) -> Rendition:
        """Record a stored rendition. The first recorded for its spec wins: returns that one,
        which may not be `rendition`. Raises `ImageNotFound`."""

    @abstractmethod
    def replace_rendition(self, guid: UUID, rendition: Rendition) -> None:
        """Correct what is recorded of the rendition with `rendition.spec`, to what the blob
        store holds. Raises `ImageNotFound`."""

    @abstractmethod
    def renditions_of(self, guid: UUID) -> builtins.list[Rendition]:
        """Every rendition recorded for the image (none for an unknown guid). Deleting the
        image deletes their records."""

    @abstractmethod
    def set_placeholder(self, guid: UUID, placeholder: str) -> None:
        """Raises `ImageNotFound`. Leaves `updated_at` alone: a placeholder is derived, not
        an edit."""

    @abstractmethod
    def without_placeholder(self, after_id: int, limit: int) -> builtins.list[Image]:
        """Up to `limit` images that have no placeholder yet, by `id` ascending, strictly
        after `after_id`: the pages of a backfill."""

    @abstractmethod
    def count_without_placeholder(self) -> int: ...

    @abstractmethod
    def missing_blob_keys(self, keys: Iterable[str]) -> set[str]:
        """Of `keys`, those no image row refers to (for the garbage collector)."""

    @abstractmethod
    def iter_blob_keys(self) -> Iterator[str]:
        """Every blob key an image row refers to, in no particular order."""

    @abstractmethod
    def ping(self) -> None:
        """Return when the store answers; raises `RepositoryUnavailable` otherwise."""
