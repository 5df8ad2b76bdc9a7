"""The worker's memory of content facts and bytes: bounds, expiry, forgetting."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from pixyproxy.adapters.driving.web.content.cache import ContentCache
from pixyproxy.domain.models import ImageContent
from pixyproxy.domain.renditions import Rendition, RenditionContent, RenditionSpec, rendition_key


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def facts(n: int) -> ImageContent:
    guid = UUID(int=n)
    return ImageContent(
        guid=guid,
        filename=f"{guid}.png",
        content_type="image/png",
        byte_size=3,
        sha256=f"{n:064x}",
        width=1,
        height=1,
    )


def cache(clock: FakeMonotonic | None = None, **bounds: float) -> ContentCache:
    settings: dict[str, float] = {
        "max_entries": 100,
        "ttl_s": 5,
        "max_bytes": 1000,
        "max_item_bytes": 400,
        **bounds,
    }
    return ContentCache(
        max_entries=int(settings["max_entries"]),
        ttl_s=settings["ttl_s"],
        max_bytes=int(settings["max_bytes"]),
        max_item_bytes=int(settings["max_item_bytes"]),
        monotonic=clock or FakeMonotonic(),
    )


def test_facts_are_kept_for_the_ttl_and_no_longer() -> None:
    clock = FakeMonotonic()
    c = cache(clock, ttl_s=5)
    c.keep(facts(1), c.epoch)
    clock.now += 4.9
    assert c.content(UUID(int=1)) == facts(1)
    clock.now += 0.1
    assert c.content(UUID(int=1)) is None
    assert c.content(UUID(int=2)) is None


def test_a_hit_does_not_extend_the_ttl() -> None:
    clock = FakeMonotonic()
    c = cache(clock, ttl_s=5)
    c.keep(facts(1), c.epoch)
    for _ in range(5):
        clock.now += 1
        c.content(UUID(int=1))
    assert c.content(UUID(int=1)) is None


def test_ttl_zero_keeps_nothing() -> None:
    c = cache(ttl_s=0)
    c.keep(facts(1), c.epoch)
    assert c.content(UUID(int=1)) is None


def test_entries_are_bounded_least_recently_used_first() -> None:
    c = cache(max_entries=3)
    for n in (1, 2, 3):
        c.keep(facts(n), c.epoch)
    assert c.content(UUID(int=1)) is not None  # now the most recently used
    c.keep(facts(4), c.epoch)
    kept = {n for n in (1, 2, 3, 4) if c.content(UUID(int=n)) is not None}
    assert kept == {1, 3, 4}


def asked(c: ContentCache, key: str, times: int = 1) -> None:
    for _ in range(times):
        c.data(key)


def test_bytes_stay_within_the_budget_least_recently_used_first() -> None:
    c = cache(max_bytes=1000, max_item_bytes=400)
    for key in ("a", "b", "c"):
        asked(c, key)
        c.keep_data(key, b"x" * 300, c.epoch)
    asked(c, "a")  # now the most recently used
    asked(c, "d", 2)  # more often than b, the least recently used
    c.keep_data("d", b"y" * 300, c.epoch)
    assert c.data_bytes == 900
    assert {k for k in "abcd" if c.data(k) is not None} == {"a", "c", "d"}


def test_a_scan_does_not_push_out_what_is_asked_for_more_often() -> None:
    c = cache(max_bytes=1000, max_item_bytes=400)
    for key, times in (("hot", 3), ("warm", 1), ("also", 1)):
        asked(c, key, times)
        c.keep_data(key, b"x" * 300, c.epoch)
    for n in range(50):  # each asked once, as a crawler or a round-robin would
        asked(c, f"scan-{n}")
        c.keep_data(f"scan-{n}", b"s" * 300, c.epoch)
    assert {k for k in ("hot", "warm", "also") if c.data(k, count=False)} == {
        "hot",
        "warm",
        "also",
    }
    assert c.data_bytes == 900


def test_old_asks_fade_so_a_new_favourite_gets_in() -> None:
    c = ContentCache(max_entries=100, ttl_s=5, max_bytes=300, max_item_bytes=300, age_every=4)
    asked(c, "old", 3)  # the 4th ask, below, halves every count: old 3 -> 1, new 1 -> 0
    c.keep_data("old", b"o" * 300, c.epoch)
    asked(c, "new")
    c.keep_data("new", b"n" * 300, c.epoch)
    assert c.data("new", count=False) is None  # 1 ask against old's 1: no
    asked(c, "new", 2)
    c.keep_data("new", b"n" * 300, c.epoch)
    assert c.data("new", count=False) is not None
    assert c.data("old", count=False) is None


def test_an_image_over_the_item_cap_is_not_kept() -> None:
    c = cache(max_bytes=1000, max_item_bytes=400)
    c.keep_data("big", b"x" * 401, c.epoch)
    c.keep_data("small", b"x" * 400, c.epoch)
    assert (c.data("big"), c.data_bytes) == (None, 400)


def test_forget_drops_facts_and_bytes_at_once() -> None:
    c = cache()
    c.keep(facts(1), c.epoch)
    c.keep_data(facts(1).blob_key, b"png", c.epoch)
    c.forget(facts(1))
    assert c.content(UUID(int=1)) is None
    assert (c.data(facts(1).blob_key), c.data_bytes) == (None, 0)


def test_a_lookup_that_began_before_a_forget_keeps_nothing() -> None:
    """A reader that read the row just before another thread deleted the image must not put
    it back after the delete's forget."""
    c = cache()
    epoch = c.epoch
    c.forget(facts(2))  # any delete in the meantime
    c.keep(facts(1), epoch)
    c.keep_data(facts(1).blob_key, b"png", epoch)
    assert c.content(UUID(int=1)) is None
    assert c.data(facts(1).blob_key) is None
    c.keep(facts(1), c.epoch)
    assert c.content(UUID(int=1)) == facts(1)


def test_off_keeps_nothing() -> None:
    c = ContentCache(max_entries=100, ttl_s=0, max_bytes=0, max_item_bytes=0)
    c.keep(facts(1), c.epoch)
    c.keep_data("k", b"png", c.epoch)
    assert (c.content(UUID(int=1)), c.data("k")) == (None, None)


def test_a_presigned_url_is_reused_while_half_its_lifetime_remains() -> None:
    clock = FakeMonotonic()
    c = cache(clock)
    c.keep_url("k", 300, "https://signed/1", signed_at=clock.now)
    clock.now += 149.9
    assert c.url("k", 300) == "https://signed/1"
    assert c.url("k", 60) is None  # signed for another lifetime
    c.keep_url("k", 300, "https://signed/1", signed_at=clock.now - 149.9)
    clock.now += 0.1
    assert c.url("k", 300) is None


def test_urls_are_bounded_and_forgotten_with_their_image() -> None:
    c = cache(max_entries=2)
    for key in ("a", "b", "c"):
        c.keep_url(key, 300, f"https://signed/{key}", signed_at=c.now())
    assert [c.url(k, 300) for k in "abc"] == [None, "https://signed/b", "https://signed/c"]
    c.forget(replace(facts(1), filename="c"))
    assert c.url("c", 300) is None


def rendition_of(original: ImageContent, width: int) -> RenditionContent:
    spec = RenditionSpec(width, "webp")
    key = rendition_key(original.blob_key, spec)
    return RenditionContent.of(original, Rendition(spec, key, width, width, 3, "f" * 64))


def test_rendition_facts_are_kept_with_their_image_and_expire_with_it() -> None:
    clock = FakeMonotonic()
    c = cache(clock, ttl_s=5)
    original = facts(1)
    thumbnail = rendition_of(original, 64)
    c.keep_rendition(thumbnail, c.epoch)  # the image's facts are not held: nothing kept
    assert c.rendition(original.guid, thumbnail.spec) is None

    c.keep(original, c.epoch)
    clock.now += 1
    c.keep_rendition(thumbnail, c.epoch)
    assert c.rendition(original.guid, thumbnail.spec) == thumbnail
    assert c.rendition(original.guid, RenditionSpec(64, "png")) is None
    clock.now += 4
    assert c.rendition(original.guid, thumbnail.spec) is None  # the image's 5 s are over


def test_forget_drops_every_rendition_held_even_after_the_facts_expired() -> None:
    clock = FakeMonotonic()
    c = cache(clock, ttl_s=5)
    original, other = facts(1), facts(2)
    small, large, others = (
        rendition_of(original, 64),
        rendition_of(original, 128),
        rendition_of(other, 64),
    )
    c.keep(original, c.epoch)
    c.keep_rendition(small, c.epoch)
    for held in (original, small, large, others):
        c.keep_data(held.blob_key, b"abc", c.epoch)
    c.keep_url(large.blob_key, 60, "https://x/large", c.now())
    clock.now += 10  # facts expired; bytes and URLs have no TTL of their own

    c.forget(original)

    assert [c.data(k.blob_key) for k in (original, small, large)] == [None, None, None]
    assert c.url(large.blob_key, 60) is None
    assert c.data(others.blob_key) == b"abc"
    assert c.data_bytes == 3


def test_evicted_rendition_bytes_leave_nothing_to_forget_behind() -> None:
    c = cache(max_bytes=6, max_item_bytes=6)
    original = facts(1)
    first, second = rendition_of(original, 64), rendition_of(original, 128)
    c.keep_data(first.blob_key, b"abc", c.epoch)
    c.keep_data(second.blob_key, b"abc", c.epoch)
    c.data(facts(9).blob_key)  # asked once: admitted over the least recently used
    c.keep_data(facts(9).blob_key, b"xyz", c.epoch)
    assert c.data(first.blob_key) is None

    c.forget(original)

    assert c.data(second.blob_key) is None
    assert c.data(facts(9).blob_key) == b"xyz"
    assert c.data_bytes == 3
