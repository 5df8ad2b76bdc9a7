"""The BlobStore contract, run against every adapter: memory, local disk and S3."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pixyproxy.adapters.driven.blob_store_local import LocalDiskBlobStore
from pixyproxy.adapters.driven.blob_store_s3 import S3BlobStore
from pixyproxy.adapters.driven.memory import MemoryBlobStore
from pixyproxy.domain.exceptions import BlobNotFound, InvalidInput
from pixyproxy.ports.blob_store import BlobStore
from tests.support.s3 import create_bucket


def _memory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    yield MemoryBlobStore()


def _local_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    yield LocalDiskBlobStore(tmp_path / "blobs")


def _s3_on(server_fixture: str) -> Callable[[pytest.FixtureRequest, Path], Iterator[BlobStore]]:
    def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
        endpoint = str(request.getfixturevalue(server_fixture))
        store = S3BlobStore(create_bucket(endpoint), prefix="images", endpoint_url=endpoint)
        yield store
        store.close()

    return make


@pytest.fixture(
    params=[
        pytest.param(_memory, id="memory"),
        pytest.param(_local_disk, id="local-disk"),
        pytest.param(_s3_on("moto_s3_endpoint"), marks=pytest.mark.s3, id="s3-moto"),
        pytest.param(_s3_on("minio_s3_endpoint"), id="s3-minio"),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    yield from request.param(request, tmp_path)


ONE_MEGABYTE = random.Random(7).randbytes(1 << 20)


@pytest.mark.parametrize(
    "data",
    [b"", bytes(range(256)), b"\x00" * 4096, ONE_MEGABYTE],
    ids=["empty", "every-byte", "zeros", "1MB"],
)
def test_get_returns_exactly_what_put_stored(store: BlobStore, data: bytes) -> None:
    store.put("a.png", data, "image/png")

    assert store.get("a.png") == data


def test_put_overwrites(store: BlobStore) -> None:
    store.put("a.png", b"first version", "image/png")
    store.put("a.png", b"second", "image/png")

    assert store.get("a.png") == b"second"


def test_get_of_a_missing_key_raises_blob_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.get("never-stored.png")


def test_size_follows_put_and_delete(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.size("a.png")
    store.put("a.png", b"xyz", "image/png")
    assert store.size("a.png") == 3
    store.put("a.png", b"x" * 1000, "image/png")
    assert store.size("a.png") == 1000
    store.delete("a.png")
    with pytest.raises(BlobNotFound):
        store.size("a.png")


def test_delete_is_idempotent(store: BlobStore) -> None:
    store.put("a.png", b"x", "image/png")
    store.delete("a.png")
    store.delete("a.png")
    store.delete("never-stored.png")

    with pytest.raises(BlobNotFound):
        store.get("a.png")


def test_iter_blobs_lists_exactly_the_stored_keys_with_recent_times(store: BlobStore) -> None:
    # S3 keeps whole seconds; the slack also covers a coarse file system clock.
    started = datetime.now(UTC) - timedelta(seconds=2)
    for key in ("one.png", "two.webp", "three.jpeg"):
        store.put(key, key.encode(), "image/png")
    store.delete("two.webp")

    blobs = list(store.iter_blobs())

    assert sorted(b.key for b in blobs) == ["one.png", "three.jpeg"]
    for blob in blobs:
        assert blob.modified_at.tzinfo is not None
        assert started <= blob.modified_at <= datetime.now(UTC) + timedelta(seconds=2)


def test_a_fresh_store_lists_nothing(store: BlobStore) -> None:
    assert list(store.iter_blobs()) == []


def test_a_healthy_store_answers_ping(store: BlobStore) -> None:
    store.ping()


ESCAPING_KEYS = [
    "../x",
    "/etc/passwd",
    "a/b",
    "a\\b",
    "..",
    ".",
    ".hidden",
    "",
    "a\x00b",
    "x" * 300,
]


@pytest.mark.parametrize("key", ESCAPING_KEYS)
def test_put_refuses_keys_that_are_not_plain_names(store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidInput):
        store.put(key, b"x", "image/png")

    assert list(store.iter_blobs()) == []


@pytest.mark.parametrize("key", ESCAPING_KEYS)
def test_other_operations_treat_such_keys_as_absent(store: BlobStore, key: str) -> None:
    with pytest.raises(BlobNotFound):
        store.get(key)
    with pytest.raises(BlobNotFound):
        store.size(key)
    store.delete(key)


def test_concurrent_puts_and_gets_stay_consistent(store: BlobStore) -> None:
    threads, rounds = 16, 6

    def version(worker: int, round_: int) -> bytes:
        return f"{worker}:{round_};".encode() * (50 + 37 * worker + round_)

    every_shared_version = {version(w, r) for w in range(threads) for r in range(rounds)}
    store.put("shared.png", version(0, 0), "image/png")

    def work(worker: int) -> None:
        own_key = f"worker-{worker}.png"
        for round_ in range(rounds):
            data = version(worker, round_)
            store.put(own_key, data, "image/png")
            store.put("shared.png", data, "image/png")
            assert store.get(own_key) == data
            assert store.get("shared.png") in every_shared_version

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for result in [pool.submit(work, w) for w in range(threads)]:
            result.result()

    for worker in range(threads):
        assert store.get(f"worker-{worker}.png") == version(worker, rounds - 1)
    assert store.get("shared.png") in every_shared_version
    assert len(list(store.iter_blobs())) == threads + 1
