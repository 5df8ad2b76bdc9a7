"""Reading: details, newest-first pages with opaque keyset cursors, bytes."""

from __future__ import annotations

from uuid import UUID

import pytest

from pixyproxy.adapters.memory import MemoryBlobStore, MemoryImageRepository
from pixyproxy.app.cursor import decode_cursor, encode_cursor
from pixyproxy.app.public_images import PublicImages
from pixyproxy.domain.exceptions import BlobNotFound, ImageNotFound, InvalidCursor, InvalidInput
from pixyproxy.domain.models import Image
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
    if cursor == "":
        assert len(use_case.list({"cursor": cursor}).images) == 25  # empty means first page
        return
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
    assert use_case.read_bytes(made[3]) == b"png"
    with pytest.raises(ImageNotFound):
        use_case.get(UUID(int=0))


def test_content_of_a_row_without_bytes_is_an_integrity_fault() -> None:
    repo = MemoryImageRepository()
    img = repo.add(image(1))
    with pytest.raises(BlobNotFound):
        PublicImages(repo, MemoryBlobStore()).read_bytes(img)
