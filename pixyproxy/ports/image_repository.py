from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from datetime import datetime
from uuid import UUID

from pixyproxy.domain.models import Image, ImageContent, ImageQuery


class ImageRepository(ABC):
    """Image details. Every method may raise `RepositoryUnavailable` when the store is down."""

    @abstractmethod
    def add(self, image: Image) -> Image:
        """Store a new image with its tags; return it with its `id` set.

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
    def missing_blob_keys(self, keys: Iterable[str]) -> set[str]:
        """Of `keys`, those no image row refers to (for the garbage collector)."""

    @abstractmethod
    def iter_blob_keys(self) -> Iterator[str]:
        """Every blob key an image row refers to, in no particular order."""

    @abstractmethod
    def ping(self) -> None:
        """Return when the store answers; raises `RepositoryUnavailable` otherwise."""
