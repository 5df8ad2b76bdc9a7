"""What one worker serves content with, built once when the app starts."""

from __future__ import annotations

from dataclasses import dataclass

from pixyproxy.adapters.driving.web.content.cache import ContentCache
from pixyproxy.adapters.driving.web.content.loader import ContentLoader
from pixyproxy.adapters.driving.web.content.source import CachedContent
from pixyproxy.app.public_images import PublicImages
from pixyproxy.app.settings import Settings


@dataclass(frozen=True, slots=True)
class ContentServing:
    """One worker's content source and lookup batcher, over one cache."""

    source: CachedContent
    loader: ContentLoader

    @classmethod
    def over(cls, images: PublicImages, cache: ContentCache) -> ContentServing:
        source = CachedContent(images, cache)
        return cls(source=source, loader=ContentLoader(source))


def content_cache_from(settings: Settings) -> ContentCache:
    return ContentCache(
        max_entries=settings.content_cache_entries,
        ttl_s=settings.content_cache_ttl_s,
        max_bytes=settings.content_cache_bytes,
        max_item_bytes=settings.content_cache_item_bytes,
    )
