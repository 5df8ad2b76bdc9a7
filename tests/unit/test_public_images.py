"""Reading: details, newest-first pages with opaque keyset cursors, bytes."""

from __future__ import annotations

import logging
from uuid import UUID

import pytest

from pixyproxy.adapters.driven.memory import MemoryBlobStore, MemoryImageRepository
from pixyproxy.app.cursor import decode_cursor, encode_cursor
from pixyproxy.app.public_images import PublicImages
from pixyproxy.domain.exceptions import BlobNotFound, ImageNotFound, InvalidCursor, InvalidInput
from pixyproxy.domain.models import Image
from pixyproxy.ports.at_hand_blob_reader import AtHandBlobReader
from pixyproxy.ports.blob_url_signer import BlobUrlSigner
from tests.support.builders import make_image as image


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


def test_a_row_without_bytes_is_data_loss_to_get_and_head_alike(
    caplog: pytest.LogCaptureFixture,
) -> None:
    repo = MemoryImageRepository()
    img = repo.add(image(1))
    use_case = PublicImages(repo, MemoryBlobStore())
    with caplog.at_level(logging.ERROR):
        with pytest.raises(BlobNotFound):
            use_case.read_bytes(img.content)
        with pytest.raises(BlobNotFound):
            use_case.check_bytes(img.content)
    assert [r.getMessage().startswith("data loss") for r in caplog.records] == [True, True]


def test_bytes_gone_with_their_row_are_an_image_not_found() -> None:
    blobs = MemoryBlobStore()
    repo = MemoryImageRepository()
    img = repo.add(image(1))
    blobs.put(img.blob_key, b"png", "image/png")
    use_case = PublicImages(repo, blobs)
    use_case.check_bytes(img.content)
    repo.delete(img.guid)  # another process deletes the row, then the bytes
    blobs.delete(img.blob_key)
    with pytest.raises(ImageNotFound):
        use_case.read_bytes(img.content)
    with pytest.raises(ImageNotFound):
        use_case.check_bytes(img.content)


class Presigner(MemoryBlobStore, BlobUrlSigner):
    def presigned_url(self, key: str, content_type: str, expires_s: int) -> str:
        return f"https://blobs.example/{key}?type={content_type}&expires={expires_s}"


class AtHandReader(MemoryBlobStore, AtHandBlobReader):
    """Every blob is at hand, as a local disk's are once in the page cache."""

    def get_at_hand(self, key: str) -> bytes | None:
        try:
            return self.get(key)
        except BlobNotFound:
            return None


def test_optional_store_capabilities_are_used_when_the_store_has_them() -> None:
    repo = MemoryImageRepository()
    img = repo.add(image(1))
    plain, signing, at_hand = MemoryBlobStore(), Presigner(), AtHandReader()
    for store in (plain, signing, at_hand):
        store.put(img.blob_key, b"png", "image/png")
    assert PublicImages(repo, plain).presigned_url(img.content, 60) is None
    assert PublicImages(repo, plain).bytes_at_hand(img.content) is None
    url = PublicImages(repo, signing).presigned_url(img.content, 60)
    assert url == f"https://blobs.example/{img.blob_key}?type=image/png&expires=60"
    assert PublicImages(repo, at_hand).bytes_at_hand(img.content) == b"png"
