"""The ImageRepository contract, held against every implementation: memory, SQLite, MySQL."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa

from pixyproxy.adapters.driven.memory import MemoryImageRepository
from pixyproxy.adapters.driven.sql import SqlImageRepository
from pixyproxy.domain.exceptions import DuplicateImage, ImageNotFound
from pixyproxy.domain.models import Image, ImageQuery, PageAnchor, Usage
from pixyproxy.domain.renditions import THUMBNAIL, Rendition, RenditionSpec, rendition_key
from pixyproxy.ports.image_repository import ImageRepository
from tests.support.mysql import CONTRACT_BACKENDS, contract_engine

T0 = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def make_image(
    *,
    created_at: datetime = T0,
    tags: tuple[str, ...] = (),
    author: str = "alice",
    prompt: str = "a red fox in the snow",
    **fields: Any,
) -> Image:
    guid = fields.pop("guid", None) or uuid4()
    return Image(
        guid=guid,
        prompt=prompt,
        filename=f"{guid}.png",
        tags=tags,
        author=author,
        content_type="image/png",
        width=1024,
        height=768,
        byte_size=123_456,
        model="gpt-image-1",
        sha256=hashlib.sha256(guid.bytes).hexdigest(),
        created_at=created_at,
        updated_at=created_at,
        **fields,
    )


def newest_first(images: Iterable[Image]) -> list[UUID]:
    ordered = sorted(images, key=lambda i: (i.created_at, str(i.guid)), reverse=True)
    return [i.guid for i in ordered]


def all_pages(repo: ImageRepository, page_size: int, **filters: Any) -> list[list[UUID]]:
    pages: list[list[UUID]] = []
    after = None
    for _ in range(100):
        page = repo.list(ImageQuery(limit=page_size, after=after, **filters))
        if page:
            pages.append([i.guid for i in page])
        if len(page) < page_size:
            return pages
        after = PageAnchor(page[-1].created_at, page[-1].guid)
    raise AssertionError("pagination did not end")


@pytest.fixture(params=CONTRACT_BACKENDS)
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> ImageRepository:
    if request.param == "memory":
        return MemoryImageRepository()
    # Tiny batches so that a handful of rows already crosses batch boundaries.
    return SqlImageRepository(contract_engine(request, tmp_path), batch_size=2)


def test_add_then_get_returns_every_field(repo: ImageRepository) -> None:
    image = make_image(
        tags=("fox", "snow"),
        revised_prompt="A red fox, standing in fresh snow",
        upstream_request_id="req_0123456789abcdef",
        usage=Usage(input_tokens=12, output_tokens=4160, total_tokens=4172),
    )
    image = replace(image, updated_at=T0 + timedelta(seconds=3, microseconds=7))

    added = repo.add(image)
    got = repo.get(image.guid)

    assert added.id is not None
    assert added == replace(image, id=added.id)
    assert got == added
    assert got.created_at.microsecond == 123456
    assert got.created_at.utcoffset() == timedelta(0)
    assert got.updated_at.utcoffset() == timedelta(0)


def test_optional_fields_come_back_empty(repo: ImageRepository) -> None:
    image = make_image()
    repo.add(image)

    got = repo.get(image.guid)

    assert got.tags == ()
    assert (got.revised_prompt, got.upstream_request_id) == (None, None)
    assert got.usage == Usage()


def test_a_datetime_in_another_zone_keeps_its_instant(repo: ImageRepository) -> None:
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    image = make_image(created_at=plus_two)
    repo.add(image)

    got = repo.get(image.guid)

    assert got.created_at == T0
    assert got.created_at.utcoffset() is not None


def test_each_image_gets_its_own_id(repo: ImageRepository) -> None:
    first, second = repo.add(make_image()), repo.add(make_image())

    assert first.id != second.id


HOSTILE = [
    ('it\'s a "quoted" `prompt`', "o'brien"),
    ("100% of 50_50 odds", "50%"),
    ("back\\slash \\' \\% \\_ \\\\", "back\\slash"),
    ("'; DROP TABLE images; --", "';drop table x;--"),
    ("Robert'); DELETE FROM image_tags WHERE ('1'='1", "snake_case"),
    ("emoji 🦊🎨, 漢字 and ÄÖÜ ß", "🦊"),
    ("tab\tnew\nline\r", "ÄÖÜ"),
    ("!escape! !% !_ !!", "!bang"),
]


@pytest.mark.parametrize(("prompt", "tag"), HOSTILE)
def test_hostile_text_is_stored_and_found_verbatim(
    repo: ImageRepository, prompt: str, tag: str
) -> None:
    image = make_image(prompt=prompt, tags=(tag, "plain"), author="o'hara")
    repo.add(image)
    repo.add(make_image(prompt="something else entirely", tags=("plain",)))

    got = repo.get(image.guid)

    assert (got.prompt, got.tags, got.author) == (prompt, (tag, "plain"), "o'hara")
    assert [i.guid for i in repo.list(ImageQuery(limit=10, text=prompt))] == [image.guid]
    assert [i.guid for i in repo.list(ImageQuery(limit=10, tags=(tag,)))] == [image.guid]
    assert [i.guid for i in repo.list(ImageQuery(limit=10, author="o'hara"))] == [image.guid]


def test_adding_a_taken_guid_raises_duplicate_image(repo: ImageRepository) -> None:
    original = make_image(prompt="the original", tags=("first",))
    repo.add(original)

    with pytest.raises(DuplicateImage):
        repo.add(make_image(guid=original.guid, prompt="an impostor", tags=("second",)))

    got = repo.get(original.guid)
    assert (got.prompt, got.tags) == ("the original", ("first",))


def test_get_of_an_unknown_guid_raises_image_not_found(repo: ImageRepository) -> None:
    with pytest.raises(ImageNotFound):
        repo.get(uuid4())


def test_list_is_newest_first_and_breaks_ties_by_guid_descending(repo: ImageRepository) -> None:
    images = [make_image(created_at=T0) for _ in range(3)]
    images += [make_image(created_at=T0 + MICROSECOND) for _ in range(2)]
    images += [make_image(created_at=T0 - timedelta(seconds=1))]
    for image in images:
        repo.add(image)

    listed = repo.list(ImageQuery(limit=10))

    assert [i.guid for i in listed] == newest_first(images)
    assert [i.guid for i in repo.list(ImageQuery(limit=4))] == newest_first(images)[:4]


def test_pages_cover_every_image_once_across_ties(repo: ImageRepository) -> None:
    # Five images share each timestamp, so page boundaries fall inside ties.
    images = [make_image(created_at=T0 + n // 5 * MICROSECOND) for n in range(23)]
    for image in images:
        repo.add(image)

    pages = all_pages(repo, page_size=4)

    assert [len(p) for p in pages] == [4, 4, 4, 4, 4, 3]
    assert [guid for page in pages for guid in page] == newest_first(images)


def test_a_page_after_the_last_image_is_empty(repo: ImageRepository) -> None:
    image = make_image()
    repo.add(image)

    assert repo.list(ImageQuery(limit=5, after=PageAnchor(image.created_at, image.guid))) == []


FILTERS = [
    {"tags": ("cat",)},
    {"tags": ("cat", "dog")},
    {"tags": ("dog", "cat", "dog")},
    {"author": "bob"},
    {"text": "FOX"},
    {"tags": ("cat",), "author": "alice", "text": "fox"},
    {"tags": ("dog",), "text": "whale"},
    {"tags": ("nobody-has-this",)},
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "-".join(map(str, f.values())))
def test_filters_combine_with_pagination(repo: ImageRepository, filters: dict[str, Any]) -> None:
    images = []
    for n in range(30):
        tags = tuple(t for t, every in (("cat", 2), ("dog", 3), ("bird", 5)) if n % every == 0)
        image = make_image(
            created_at=T0 + n // 4 * MICROSECOND,
            tags=tags,
            author=("alice", "bob", "carol")[n % 3],
            prompt=("A red Fox", "a blue whale")[n % 2] + f" number {n}",
        )
        images.append(repo.add(image))
    wanted = [
        i
        for i in images
        if set(filters.get("tags", ())) <= set(i.tags)
        and filters.get("author", i.author) == i.author
        and filters.get("text", "").lower() in i.prompt.lower()
    ]

    pages = all_pages(repo, page_size=3, **filters)

    assert [guid for page in pages for guid in page] == newest_first(wanted)


def test_text_search_ignores_case_and_reads_wildcards_literally(repo: ImageRepository) -> None:
    prompts = ["100% sure", "1000 sure", "a_b", "axb", "back\\slash", "backslash", "!%", "ÄPFEL"]
    by_prompt = {p: repo.add(make_image(prompt=p)).guid for p in prompts}

    def found(text: str) -> set[str]:
        hits = {i.guid for i in repo.list(ImageQuery(limit=20, text=text))}
        return {p for p, guid in by_prompt.items() if guid in hits}

    assert found("100%") == {"100% sure"}
    assert found("a_b") == {"a_b"}
    assert found("back\\slash") == {"back\\slash"}
    assert found("!%") == {"!%"}
    assert found("SURE") == {"100% sure", "1000 sure"}
    assert found("äpfel") == {"ÄPFEL"}


def test_set_tags_replaces_the_tags_and_moves_updated_at(repo: ImageRepository) -> None:
    image = repo.add(make_image(tags=("cat", "dog")))
    later = T0 + timedelta(minutes=5, microseconds=1)

    changed = repo.set_tags(image.guid, ("bird", "cat"), later)

    assert changed == replace(image, tags=("bird", "cat"), updated_at=later)
    assert repo.get(image.guid) == changed
    assert repo.list(ImageQuery(limit=5, tags=("dog",))) == []
    assert [i.guid for i in repo.list(ImageQuery(limit=5, tags=("bird",)))] == [image.guid]


def test_set_tags_can_remove_every_tag(repo: ImageRepository) -> None:
    image = repo.add(make_image(tags=("cat",)))

    assert repo.set_tags(image.guid, (), T0).tags == ()
    assert repo.list(ImageQuery(limit=5, tags=("cat",))) == []


def test_set_tags_of_an_unknown_guid_raises_image_not_found(repo: ImageRepository) -> None:
    with pytest.raises(ImageNotFound):
        repo.set_tags(uuid4(), ("cat",), T0)


def test_delete_removes_the_image_and_its_tags(repo: ImageRepository) -> None:
    doomed, kept = repo.add(make_image(tags=("cat",))), repo.add(make_image(tags=("cat",)))

    repo.delete(doomed.guid)

    with pytest.raises(ImageNotFound):
        repo.get(doomed.guid)
    assert [i.guid for i in repo.list(ImageQuery(limit=5, tags=("cat",)))] == [kept.guid]
    assert repo.missing_blob_keys([doomed.blob_key, kept.blob_key]) == {doomed.blob_key}
    # A new image must not inherit the tags of one deleted before it.
    newcomer = repo.add(make_image())
    assert repo.get(newcomer.guid).tags == ()


def test_delete_of_an_unknown_guid_raises_image_not_found(repo: ImageRepository) -> None:
    image = repo.add(make_image())
    repo.delete(image.guid)

    with pytest.raises(ImageNotFound):
        repo.delete(image.guid)


def test_of_racing_deletes_exactly_one_succeeds(repo: ImageRepository) -> None:
    image = repo.add(make_image(tags=("cat",)))
    start = threading.Barrier(4)

    def delete() -> str:
        start.wait()
        try:
            repo.delete(image.guid)
        except ImageNotFound:
            return "not found"
        return "deleted"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(lambda _: delete(), range(4)))

    assert outcomes == ["deleted", "not found", "not found", "not found"]


def test_blob_keys_are_those_of_stored_images(repo: ImageRepository) -> None:
    images = [repo.add(make_image()) for _ in range(5)]
    keys = [i.blob_key for i in images]
    strangers = [f"{uuid4()}.png" for _ in range(3)]

    assert sorted(repo.iter_blob_keys()) == sorted(keys)
    assert repo.missing_blob_keys(k for k in keys[:3] + strangers) == set(strangers)
    assert repo.missing_blob_keys([]) == set()


def test_contents_of_many_guids_at_once_leave_out_the_unknown(repo: ImageRepository) -> None:
    images = [repo.add(make_image(tags=("cat",))) for _ in range(5)]
    doomed = images.pop()
    repo.delete(doomed.guid)
    strangers = [uuid4() for _ in range(2)]
    asked = [images[0].guid, *strangers, *(i.guid for i in images), doomed.guid]

    found = repo.contents(asked)

    assert found == {i.guid: i.content for i in images}
    assert found[images[0].guid].blob_key == images[0].blob_key
    assert repo.contents([]) == {}


def test_an_empty_repository_has_no_blob_keys(repo: ImageRepository) -> None:
    assert list(repo.iter_blob_keys()) == []


def test_ping_answers(repo: ImageRepository) -> None:
    repo.ping()


# --- what only the SQL repositories promise -----------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def sql_engine(request: pytest.FixtureRequest, tmp_path: Path) -> sa.Engine:
    return contract_engine(request, tmp_path)


def test_datetimes_come_back_in_utc(sql_engine: sa.Engine) -> None:
    repo = SqlImageRepository(sql_engine)
    image = make_image(created_at=T0.astimezone(timezone(timedelta(hours=-7))))
    repo.add(image)

    got = repo.get(image.guid)

    assert got.created_at.tzinfo is UTC
    assert got.updated_at.tzinfo is UTC


def test_deleting_an_image_leaves_no_tag_rows(sql_engine: sa.Engine) -> None:
    repo = SqlImageRepository(sql_engine)
    image = repo.add(make_image(tags=("cat", "dog")))

    repo.delete(image.guid)

    with sql_engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM image_tags")).scalar_one() == 0


# --- renditions and placeholders ------------------------------------------------------------


def a_rendition(image: Image, spec: RenditionSpec, sha: str = "a") -> Rendition:
    return Rendition(
        spec=spec,
        blob_key=rendition_key(image.blob_key, spec),
        width=spec.width,
        height=spec.width // 2,
        byte_size=2048,
        sha256=sha * 64,
    )


def test_renditions_added_with_the_image_are_found(repo: ImageRepository) -> None:
    image = make_image(placeholder="1QcSHQRnh493V4dIh4eXh1h4kJUI")
    thumbnail = a_rendition(image, THUMBNAIL)
    repo.add(image, [thumbnail])

    assert repo.get(image.guid).placeholder == "1QcSHQRnh493V4dIh4eXh1h4kJUI"
    assert repo.rendition(image.guid, THUMBNAIL) == thumbnail
    assert repo.rendition(image.guid, RenditionSpec(256, "avif")) is None
    assert repo.rendition(uuid4(), THUMBNAIL) is None
    assert repo.renditions_of(image.guid) == [thumbnail]


def test_the_first_rendition_recorded_wins(repo: ImageRepository) -> None:
    image = make_image()
    repo.add(image)
    spec = RenditionSpec(512, "jpeg")
    first, second = a_rendition(image, spec, "a"), a_rendition(image, spec, "b")

    assert repo.add_rendition(image.guid, first) == first
    assert repo.add_rendition(image.guid, second) == first
    repo.replace_rendition(image.guid, second)
    assert repo.rendition(image.guid, spec) == second


def test_racing_records_of_one_rendition_agree_on_one(repo: ImageRepository) -> None:
    image = make_image()
    repo.add(image)
    candidates = [a_rendition(image, THUMBNAIL, sha) for sha in "abcdef"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        recorded = set(pool.map(lambda r: repo.add_rendition(image.guid, r), candidates))

    assert len(recorded) == 1
    assert repo.renditions_of(image.guid) == list(recorded)


def test_renditions_of_an_unknown_image_cannot_be_recorded(repo: ImageRepository) -> None:
    rendition = a_rendition(make_image(), THUMBNAIL)
    with pytest.raises(ImageNotFound):
        repo.add_rendition(uuid4(), rendition)
    with pytest.raises(ImageNotFound):
        repo.replace_rendition(uuid4(), rendition)
    with pytest.raises(ImageNotFound):
        repo.set_placeholder(uuid4(), "x")


def test_deleting_an_image_deletes_its_rendition_records(repo: ImageRepository) -> None:
    image = make_image()
    repo.add(image, [a_rendition(image, THUMBNAIL)])

    repo.delete(image.guid)

    assert repo.renditions_of(image.guid) == []
    assert repo.rendition(image.guid, THUMBNAIL) is None


def test_images_without_a_placeholder_come_by_id_page_after_page(repo: ImageRepository) -> None:
    added = [repo.add(make_image(created_at=T0 + n * MICROSECOND)) for n in range(5)]
    repo.add(make_image(placeholder="done"))
    repo.set_placeholder(added[1].guid, "now done")
    updated_at = repo.get(added[1].guid).updated_at

    assert repo.count_without_placeholder() == 4
    first = repo.without_placeholder(0, 2)
    rest = repo.without_placeholder(first[-1].id or 0, 10)
    assert [i.guid for i in first + rest] == [added[n].guid for n in (0, 2, 3, 4)]
    assert updated_at == added[1].updated_at
