"""Bytes first, row second, on the real blob stores: a failure between the two writes leaves
at most an orphan that `GarbageCollector` finds, never a row without its image."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from pixyproxy.adapters.driven.memory import (
    ManualClock,
    MemoryIdempotencyStore,
    MemoryImageRepository,
)
from pixyproxy.app.garbage_collector import GarbageCollector
from pixyproxy.domain.exceptions import RepositoryUnavailable
from pixyproxy.domain.models import Image, ImageQuery
from pixyproxy.domain.renditions import Rendition
from pixyproxy.ports.blob_store import BlobStore
from tests.support.builders import make_private_images


class InsertFailsAfterBytes(MemoryImageRepository):
    """The database fails exactly between the two writes."""

    fail = False

    def add(self, image: Image, renditions: Sequence[Rendition] = ()) -> Image:
        if self.fail:
            raise RepositoryUnavailable("injected: the database went away")
        return super().add(image)


async def test_failed_insert_removes_the_bytes(real_blob_store: BlobStore) -> None:
    images = InsertFailsAfterBytes()
    use_case, _, blobs, _ = make_private_images(images=images, blobs=real_blob_store)
    kept = await use_case.generate("alice", {"prompt": "kept"})
    images.fail = True
    with pytest.raises(RepositoryUnavailable):
        await use_case.generate("alice", {"prompt": "lost"})
    assert blobs.stored_keys() == {kept.blob_key}


async def test_gc_finds_and_removes_what_a_double_failure_left(real_blob_store: BlobStore) -> None:
    images = InsertFailsAfterBytes()
    use_case, _, blobs, _ = make_private_images(images=images, blobs=real_blob_store)
    kept = await use_case.generate("alice", {"prompt": "kept"})
    images.fail = True
    blobs.fail_on.add("delete")  # the cleanup fails too, as a crash would leave it
    for n in range(3):
        with pytest.raises(RepositoryUnavailable):
            await use_case.generate("alice", {"prompt": f"lost {n}"})
    orphans = blobs.stored_keys() - {kept.blob_key}
    assert len(orphans) == 3
    assert images.list(ImageQuery(limit=10)) == [kept]

    collector = GarbageCollector(
        images,
        real_blob_store,
        MemoryIdempotencyStore(),
        ManualClock(datetime.now(UTC) + timedelta(days=1)),
        timedelta(hours=1),
    )
    assert sorted(collector.run(apply=False).orphan_blobs) == sorted(orphans)
    report = collector.run(apply=True)
    assert report.deleted_blobs == 3
    assert blobs.stored_keys() == {kept.blob_key}
    assert report.rows_without_blob == []


async def test_gc_reports_rows_whose_bytes_vanished(real_blob_store: BlobStore) -> None:
    use_case, images, *_ = make_private_images(blobs=real_blob_store)
    image = await use_case.generate("alice", {"prompt": "p"})
    real_blob_store.delete(image.blob_key)
    collector = GarbageCollector(
        images, real_blob_store, MemoryIdempotencyStore(), ManualClock(), timedelta(hours=1)
    )
    assert collector.run(apply=True).rows_without_blob == [image.blob_key]
