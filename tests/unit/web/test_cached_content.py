"""A worker's cached view of image content: what it keeps, for how long, and what it forgets."""

from __future__ import annotations

import pytest

from pixyproxy.adapters.driven.memory import MemoryBlobStore, MemoryImageRepository
from pixyproxy.adapters.driving.web.content.cache import ContentCache
from pixyproxy.adapters.driving.web.content.source import CachedContent
from pixyproxy.app.public_images import PublicImages
from pixyproxy.domain.exceptions import ImageNotFound
from pixyproxy.domain.models import Image, ImageContent
from pixyproxy.ports.at_hand_blob_reader import AtHandBlobReader
from pixyproxy.ports.blob_url_signer import BlobUrlSigner
from tests.support.builders import make_image as image
from tests.support.builders import make_private_images, make_renditions
from tests.support.fakes import TINY_PNG


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def cached(
    repo: MemoryImageRepository, blobs: MemoryBlobStore, ttl_s: float = 5
) -> tuple[CachedContent, FakeMonotonic]:
    clock = FakeMonotonic()
    cache = ContentCache(
        max_entries=100, ttl_s=ttl_s, max_bytes=1000, max_item_bytes=100, monotonic=clock
    )
    return CachedContent(PublicImages(repo, blobs), make_renditions(repo, blobs), cache), clock


def test_content_deleted_elsewhere_is_served_until_the_ttl_ends() -> None:
    repo, blobs = MemoryImageRepository(), MemoryBlobStore()
    img = repo.add(image(1))
    source, clock = cached(repo, blobs, ttl_s=5)
    assert source.content(img.guid) == img.content
    repo.delete(img.guid)  # by another process: this worker's cache does not hear of it
    clock.now += 4.9
    assert source.content(img.guid) == img.content
    clock.now += 0.1
    with pytest.raises(ImageNotFound):
        source.content(img.guid)


def test_unknown_guids_are_not_remembered() -> None:
    repo = MemoryImageRepository()
    source, _ = cached(repo, MemoryBlobStore())
    img = image(1)
    with pytest.raises(ImageNotFound):
        source.content(img.guid)
    repo.add(img)
    assert source.content(img.guid).sha256 == img.sha256


def one_stored_image(
    blobs: MemoryBlobStore,
) -> tuple[CachedContent, MemoryImageRepository, Image, ImageContent]:
    """A cached source over one image whose bytes, in `blobs`, are b"png"."""
    repo = MemoryImageRepository()
    img = repo.add(image(1))
    blobs.put(img.blob_key, b"png", "image/png")
    source, _ = cached(repo, blobs)
    return source, repo, img, source.content(img.guid)


def test_bytes_read_once_are_served_from_memory() -> None:
    blobs = MemoryBlobStore()
    source, _, img, content = one_stored_image(blobs)
    assert source.bytes_at_hand(content) is None
    assert not source.holds_bytes(content)
    assert source.read_bytes(content) == b"png"
    blobs.delete(img.blob_key)
    assert source.holds_bytes(content)
    assert source.bytes_at_hand(content) == b"png"
    assert source.read_bytes(content) == b"png"
    source.check_bytes(content)  # held: no need to ask the store


def test_bytes_gone_with_the_row_elsewhere_is_not_found_not_an_integrity_fault() -> None:
    blobs = MemoryBlobStore()
    source, repo, img, content = one_stored_image(blobs)
    repo.delete(img.guid)  # another process deletes the row, then the bytes
    blobs.delete(img.blob_key)
    with pytest.raises(ImageNotFound):
        source.check_bytes(content)
    assert source.held(img.guid) is None
    with pytest.raises(ImageNotFound):
        source.read_bytes(content)
    with pytest.raises(ImageNotFound):
        source.content(img.guid)


async def test_a_delete_in_this_worker_is_seen_at_once() -> None:
    cache = ContentCache(max_entries=100, ttl_s=60, max_bytes=1000, max_item_bytes=1000)
    private, repo, blobs, _ = make_private_images(on_deleted=cache.forget)
    source = CachedContent(PublicImages(repo, blobs), make_renditions(repo, blobs), cache)
    made = await private.generate("alice", {"prompt": "p"})
    content = source.content(made.guid)
    assert source.read_bytes(content) == TINY_PNG
    private.delete("alice", made.guid)
    assert source.held(made.guid) is None
    assert source.bytes_at_hand(content) is None
    with pytest.raises(ImageNotFound):
        source.content(made.guid)


class CountingPresigner(MemoryBlobStore, BlobUrlSigner):
    def __init__(self) -> None:
        super().__init__()
        self.signed = 0

    def presigned_url(self, key: str, content_type: str, expires_s: int) -> str:
        self.signed += 1
        return f"https://blobs.example/{key}?n={self.signed}"


def test_a_presigned_url_is_reused_until_half_its_lifetime_is_gone() -> None:
    repo, blobs = MemoryImageRepository(), CountingPresigner()
    img = repo.add(image(1))
    source, clock = cached(repo, blobs)
    content = source.content(img.guid)
    assert source.held_presigned_url(content, 300) is None
    first = source.presigned_url(content, 300)
    clock.now += 149
    assert source.presigned_url(content, 300) == first
    assert source.held_presigned_url(content, 300) == first
    clock.now += 1
    assert source.held_presigned_url(content, 300) is None
    assert source.presigned_url(content, 300) != first
    assert blobs.signed == 2


class AtHandBlobStore(MemoryBlobStore, AtHandBlobReader):
    """Every blob is at hand, as a local disk's are once in the page cache."""

    def get_at_hand(self, key: str) -> bytes | None:
        return self.get(key)


def test_bytes_at_hand_in_the_store_are_read_without_a_thread_and_kept() -> None:
    blobs = AtHandBlobStore()
    source, _, img, content = one_stored_image(blobs)

    assert source.bytes_at_hand(content) == b"png"
    blobs.delete(img.blob_key)
    assert source.bytes_at_hand(content) == b"png"  # kept in memory
