"""Reading: details, newest-first pages with opaque keyset cursors, bytes."""

from __future__ import annotations

from uuid import UUID

import pytest

from pixyproxy.adapters.driven.memory import MemoryBlobStore, MemoryImageRepository
from pixyproxy.app.content_cache import ContentCache
from pixyproxy.app.cursor import decode_cursor, encode_cursor
from pixyproxy.app.public_images import PublicImages
from pixyproxy.domain.exceptions import BlobNotFound, ImageNotFound, InvalidCursor, InvalidInput
from pixyproxy.domain.models import Image, ImageContent
from tests.support.builders import make_image as image
from tests.support.builders import make_private_images
from tests.support.fakes import TINY_PNG


@pytest.fixture
def stocked() -> tuple[PublicImages, list[Image]]:
    repo, blobs = MemoryImageRepository(), MemoryBlobStore()
    made = []
    for n in range(25):
        img = image(n, tags=("even",) if n % 2 == 0 else ("odd",), author=f"a{n % 3}")
        made.append(repo.add(img))
        blobs.put(img.blob_key, b"png", "image/png")
    return PublicImages(repo, blobs), made


def walk(use_case: PublicImages, **params: object) -> list[list[Image]]:
    pages, cursor = [], None
    while True:
        page = use_case.list({**params, "cursor": cursor})
        pages.append(page.images)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_pages_are_newest_first_without_gaps_or_repeats(
    stocked: tuple[PublicImages, list[Image]],
) -> None:
    use_case, made = stocked
    pages = walk(use_case, limit=10)
    assert [len(p) for p in pages] == [10, 10, 5]
    flat = [i.guid for p in pages for i in p]
    assert flat == [i.guid for i in reversed(made)]


def test_exact_multiple_has_no_empty_trailing_page(
    stocked: tuple[PublicImages, list[Image]],
) -> None:
    use_case, _ = stocked
    assert [len(p) for p in walk(use_case, limit=5)] == [5, 5, 5, 5, 5]


def test_filters_combine_with_pagination(stocked: tuple[PublicImages, list[Image]]) -> None:
    use_case, made = stocked
    expected = [i.guid for i in reversed(made) if "even" in i.tags and i.author == "a0"]
    got = [i.guid for p in walk(use_case, limit=2, tags=["EVEN"], author="a0") for i in p]
    assert got == expected
    assert [i.prompt for i in use_case.list({"q": "number 1"}).images][-1] == "prompt number 1"
    assert use_case.list({"tags": ["even", "odd"]}).images == []


def test_ties_on_created_at_page_by_guid() -> None:
    repo = MemoryImageRepository()
    made = [repo.add(image(n, same_time=True)) for n in range(7)]
    use_case = PublicImages(repo, MemoryBlobStore())
    got = [i.guid for p in walk(use_case, limit=3) for i in p]
    assert got == sorted((i.guid for i in made), key=str, reverse=True)


@pytest.mark.parametrize("cursor", ["", "garbage", "!!!!", "MXx4fHk", encode_cursor(image(1))[:-3]])
def test_bad_cursor_is_invalid_cursor(
    stocked: tuple[PublicImages, list[Image]], cursor: str
) -> None:
    use_case, _ = stocked
    with pytest.raises(InvalidCursor):
        use_case.list({"cursor": cursor})


def test_cursor_roundtrip_keeps_microseconds() -> None:
    img = image(1)
    anchor = decode_cursor(encode_cursor(img))
    assert (anchor.created_at, anchor.guid) == (img.created_at, img.guid)


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 501}, {"tags": ["bad tag"]}, {"author": "no spaces"}, {"q": ""}],
)
def test_bad_list_params(
    stocked: tuple[PublicImages, list[Image]], params: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput):
        stocked[0].list(params)


def test_get_and_content(stocked: tuple[PublicImages, list[Image]]) -> None:
    use_case, made = stocked
    assert use_case.get(made[3].guid) == made[3]
    assert use_case.read_bytes(made[3].content) == b"png"
    with pytest.raises(ImageNotFound):
        use_case.get(UUID(int=0))


def test_content_of_a_row_without_bytes_is_an_integrity_fault() -> None:
    repo = MemoryImageRepository()
    img = repo.add(image(1))
    with pytest.raises(BlobNotFound):
        PublicImages(repo, MemoryBlobStore()).read_bytes(img.content)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def cached(
    repo: MemoryImageRepository, blobs: MemoryBlobStore, ttl_s: float = 5
) -> tuple[PublicImages, ContentCache, FakeMonotonic]:
    clock = FakeMonotonic()
    cache = ContentCache(
        max_entries=100, ttl_s=ttl_s, max_bytes=1000, max_item_bytes=100, monotonic=clock
    )
    return PublicImages(repo, blobs, cache), cache, clock


def test_content_deleted_elsewhere_is_served_until_the_ttl_ends() -> None:
    repo, blobs = MemoryImageRepository(), MemoryBlobStore()
    img = repo.add(image(1))
    use_case, _, clock = cached(repo, blobs, ttl_s=5)
    assert use_case.content(img.guid) == img.content
    repo.delete(img.guid)  # by another process: this worker's cache does not hear of it
    clock.now += 4.9
    assert use_case.content(img.guid) == img.content
    clock.now += 0.1
    with pytest.raises(ImageNotFound):
        use_case.content(img.guid)


def test_unknown_guids_are_not_remembered() -> None:
    repo = MemoryImageRepository()
    use_case, _, _ = cached(repo, MemoryBlobStore())
    img = image(1)
    with pytest.raises(ImageNotFound):
        use_case.content(img.guid)
    repo.add(img)
    assert use_case.content(img.guid).sha256 == img.sha256


def one_stored_image(
    blobs: MemoryBlobStore,
) -> tuple[PublicImages, MemoryImageRepository, Image, ImageContent]:
    """A cached use case over one image whose bytes, in `blobs`, are b"png"."""
    repo = MemoryImageRepository()
    img = repo.add(image(1))
    blobs.put(img.blob_key, b"png", "image/png")
    use_case, _, _ = cached(repo, blobs)
    return use_case, repo, img, use_case.content(img.guid)


def test_bytes_read_once_are_served_from_memory() -> None:
    blobs = MemoryBlobStore()
    use_case, _, img, content = one_stored_image(blobs)
    assert use_case.bytes_at_hand(content) is None
    assert use_case.read_bytes(content) == b"png"
    blobs.delete(img.blob_key)
    assert use_case.bytes_at_hand(content) == b"png"
    assert use_case.read_bytes(content) == b"png"


def test_bytes_gone_with_the_row_elsewhere_is_not_found_not_an_integrity_fault() -> None:
    blobs = MemoryBlobStore()
    use_case, repo, img, content = one_stored_image(blobs)
    repo.delete(img.guid)  # another process deletes the row, then the bytes
    blobs.delete(img.blob_key)
    with pytest.raises(ImageNotFound):
        use_case.read_bytes(content)
    assert use_case.cached_content(img.guid) is None
    with pytest.raises(ImageNotFound):
        use_case.content(img.guid)


async def test_a_delete_in_this_worker_is_seen_at_once() -> None:
    cache = ContentCache(max_entries=100, ttl_s=60, max_bytes=1000, max_item_bytes=1000)
    private, repo, blobs, _ = make_private_images(content_cache=cache)
    public = PublicImages(repo, blobs, cache)
    made = await private.generate("alice", {"prompt": "p"})
    content = public.content(made.guid)
    assert public.read_bytes(content) == TINY_PNG
    private.delete("alice", made.guid)
    assert public.cached_content(made.guid) is None
    assert public.bytes_at_hand(content) is None
    with pytest.raises(ImageNotFound):
        public.content(made.guid)


class CountingPresigner(MemoryBlobStore):
    def __init__(self) -> None:
        super().__init__()
        self.signed = 0

    def presigned_url(self, key: str, content_type: str, expires_s: int) -> str | None:
        self.signed += 1
        return f"https://blobs.example/{key}?n={self.signed}"


def test_a_presigned_url_is_reused_until_half_its_lifetime_is_gone() -> None:
    repo, blobs = MemoryImageRepository(), CountingPresigner()
    img = repo.add(image(1))
    use_case, _, clock = cached(repo, blobs)
    content = use_case.content(img.guid)
    assert use_case.cached_presigned_url(content, 300) is None
    first = use_case.presigned_url(content, 300)
    clock.now += 149
    assert use_case.presigned_url(content, 300) == first
    assert use_case.cached_presigned_url(content, 300) == first
    clock.now += 1
    assert use_case.cached_presigned_url(content, 300) is None
    assert use_case.presigned_url(content, 300) != first


class AtHandBlobStore(MemoryBlobStore):
    """Every blob is at hand, as a local disk's are once in the page cache."""

    def get_at_hand(self, key: str) -> bytes | None:
        return self.get(key) if self.exists(key) else None


def test_bytes_at_hand_in_the_store_are_read_without_a_thread_and_kept() -> None:
    blobs = AtHandBlobStore()
    use_case, _, img, content = one_stored_image(blobs)

    assert use_case.bytes_at_hand(content) == b"png"
    blobs.delete(img.blob_key)
    assert use_case.bytes_at_hand(content) == b"png"  # kept in memory
