from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from pixyproxy.adapters.driven.clock_system import SystemClock
from pixyproxy.adapters.driven.memory import (
    ManualClock,
    MemoryBlobStore,
    MemoryIdempotencyStore,
    MemoryImageRepository,
)
from pixyproxy.app.garbage_collector import GarbageCollector
from pixyproxy.domain.exceptions import RepositoryUnavailable
from pixyproxy.domain.models import IdempotencyRecord, Image
from pixyproxy.domain.renditions import THUMBNAIL, Rendition, rendition_key
from tests.support.builders import make_image, make_private_images
from tests.support.fakes import holds


class FailingInsertRepository(MemoryImageRepository):
    fail = False

    def add(self, image: Image, renditions: Sequence[Rendition] = ()) -> Image:
        if self.fail:
            raise RepositoryUnavailable("injected")
        return super().add(image)


async def test_gc_finds_and_removes_orphans_left_by_failed_inserts() -> None:
    images = FailingInsertRepository()
    use_case, _, blobs, _ = make_private_images(images=images)
    kept = await use_case.generate("alice", {"prompt": "kept"})
    images.fail, blobs.fail_on = True, {"delete"}
    with pytest.raises(RepositoryUnavailable):
        await use_case.generate("alice", {"prompt": "lost"})
    blobs.fail_on = set()
    (orphan,) = [k for k in blobs.stored_keys() if k != kept.blob_key]

    # The blob store stamps real time; a clock a day ahead makes every blob old enough.
    collector = GarbageCollector(
        images,
        blobs,
        MemoryIdempotencyStore(),
        ManualClock(datetime.now(UTC) + timedelta(days=1)),
        timedelta(hours=1),
    )
    dry = collector.run(apply=False)
    assert dry.orphan_blobs == [orphan]
    assert holds(blobs, orphan)
    applied = collector.run(apply=True)
    assert applied.deleted_blobs == 1
    assert not holds(blobs, orphan)
    assert holds(blobs, kept.blob_key)
    assert collector.run(apply=False).orphan_blobs == []


def test_gc_spares_young_blobs_and_reports_rows_without_bytes() -> None:
    images, blobs = MemoryImageRepository(), MemoryBlobStore()
    blobs.put("young.png", b"x", "image/png")
    lost = images.add(make_image(1))
    report = GarbageCollector(
        images, blobs, MemoryIdempotencyStore(), SystemClock(), timedelta(hours=1)
    ).run(apply=True)
    assert report.orphan_blobs == []
    assert holds(blobs, "young.png")
    assert report.rows_without_blob == [lost.blob_key]


def test_gc_purges_expired_idempotency_records_only_when_applying() -> None:
    clock = ManualClock()
    keys = MemoryIdempotencyStore()
    now = clock.now()
    for key, expires_in in (("old", timedelta(hours=-1)), ("live", timedelta(hours=23))):
        record = IdempotencyRecord("alice", key, "0" * 64, now, now + expires_in)
        assert keys.claim(record, stale_before=now) is None
    collector = GarbageCollector(
        MemoryImageRepository(), MemoryBlobStore(), keys, clock, timedelta(hours=1)
    )

    assert collector.run(apply=False).expired_idempotency_keys == 1
    assert keys.find("alice", "old") is not None
    assert collector.run(apply=True).expired_idempotency_keys == 1
    assert keys.find("alice", "old") is None
    assert keys.find("alice", "live") is not None


@pytest.mark.parametrize("lead", [0, 1], ids=["pairs-in-one-batch", "pairs-split-by-batches"])
def test_a_rendition_is_judged_by_its_original_whichever_batch_each_falls_in(lead: int) -> None:
    """More blobs than one batch of owner lookups: an original and its thumbnail may fall in
    different batches, and each is judged by the original's row alone."""
    images, blobs = MemoryImageRepository(), MemoryBlobStore()
    for n in range(lead):
        blobs.put(images.add(make_image(10_000 + n)).blob_key, b"png", "image/png")
    made = []
    for n in range(600):  # 1,200 blobs: two batches of 1,000
        image = images.add(make_image(n))
        blobs.put(image.blob_key, b"png", "image/png")
        blobs.put(rendition_key(image.blob_key, THUMBNAIL), b"webp", "image/webp")
        made.append(image)
    gone = made[::3]
    for image in gone:
        images.delete(image.guid)
    collector = GarbageCollector(
        images,
        blobs,
        MemoryIdempotencyStore(),
        ManualClock(datetime.now(UTC) + timedelta(days=1)),
        timedelta(hours=1),
    )

    report = collector.run(apply=False)

    assert set(report.orphan_blobs) == {
        key for image in gone for key in (image.blob_key, rendition_key(image.blob_key, THUMBNAIL))
    }
    assert report.rows_without_blob == []
