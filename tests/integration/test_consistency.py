"""Bytes first, row second, on the real blob stores: a failure between the two writes leaves
at most an orphan that `GarbageCollector` finds, never a row without its image."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pixyproxy.adapters.blob_store_local import LocalDiskBlobStore
from pixyproxy.adapters.blob_store_s3 import S3BlobStore
from pixyproxy.adapters.memory import ManualClock, MemoryImageRepository
from pixyproxy.app.garbage_collector import GarbageCollector
from pixyproxy.domain.exceptions import RepositoryUnavailable
from pixyproxy.domain.models import Image, ImageQuery
from pixyproxy.ports.blob_store import BlobStore
from tests.support.builders import make_private_images
from tests.support.s3 import create_bucket


class InsertFailsAfterBytes(MemoryImageRepository):
    """The database fails exactly between the two writes."""

    fail = False

    def add(self, image: Image) -> Image:
        if self.fail:
            raise RepositoryUnavailable("injected: the database went away")
        return super().add(image)


@pytest.fixture(
    params=[
        pytest.param("local", id="local-disk"),
        pytest.param("s3", marks=pytest.mark.s3, id="s3"),
    ]
)
def real_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalDiskBlobStore(tmp_path / "images")
        return
    endpoint = str(request.getfixturevalue("moto_s3_endpoint"))
    store = S3BlobStore(create_bucket(endpoint), prefix="images", endpoint_url=endpoint)
    yield store
    store.close()


async def test_failed_insert_removes_the_bytes(real_store: BlobStore) -> None:
    images = InsertFailsAfterBytes()
    use_case, _, blobs, _ = make_private_images(images=images, blobs=real_store)
    kept = await use_case.generate("alice", {"prompt": "kept"})
    images.fail = True
    with pytest.raises(RepositoryUnavailable):
        await use_case.generate("alice", {"prompt": "lost"})
    assert blobs.stored_keys() == {kept.blob_key}


async def test_gc_finds_and_removes_what_a_double_failure_left(real_store: BlobStore) -> None:
    images = InsertFailsAfterBytes()
    use_case, _, blobs, _ = make_private_images(images=images, blobs=real_store)
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
        images, real_store, ManualClock(datetime.now(UTC) + timedelta(days=1)), timedelta(hours=1)
    )
    assert sorted(collector.run(apply=False).orphan_blobs) == sorted(orphans)
    report = collector.run(apply=True)
    assert report.deleted_blobs == 3
    assert blobs.stored_keys() == {kept.blob_key}
    assert report.rows_without_blob == []


async def test_gc_reports_rows_whose_bytes_vanished(real_store: BlobStore) -> None:
    use_case, images, *_ = make_private_images(blobs=real_store)
    image = await use_case.generate("alice", {"prompt": "p"})
    real_store.delete(image.blob_key)
    collector = GarbageCollector(images, real_store, ManualClock(), timedelta(hours=1))
    assert collector.run(apply=True).rows_without_blob == [image.blob_key]
