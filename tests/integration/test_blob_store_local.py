"""What the local-disk store promises beyond the contract: atomic files, no symlink escapes,
honest failures when the directory cannot be written."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pixyproxy.adapters.driven.blob_store_local import LocalDiskBlobStore
from pixyproxy.domain.exceptions import BlobNotFound, BlobStoreUnavailable, InvalidInput
from tests.support.fakes import holds


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def store(root: Path) -> LocalDiskBlobStore:
    return LocalDiskBlobStore(root)


def test_a_reader_never_sees_a_partly_written_file(store: LocalDiskBlobStore) -> None:
    size, versions = 5 * 1024 * 1024, 12
    store.put("big.png", bytes([0]) * size, "image/png")
    torn_reads: list[int] = []
    reads = 0
    writer_done = threading.Event()

    def write_versions() -> None:
        try:
            for version in range(1, versions + 1):
                store.put("big.png", bytes([version]) * size, "image/png")
        finally:
            writer_done.set()

    writer = threading.Thread(target=write_versions)
    writer.start()
    while not writer_done.is_set() or reads == 0:
        data = store.get("big.png")
        reads += 1
        # A complete version is `size` copies of one byte; anything else was torn.
        if len(data) != size or data.count(data[:1]) != size:
            torn_reads.append(len(data))
    writer.join()

    assert torn_reads == []
    assert store.get("big.png") == bytes([versions]) * size


def test_put_leaves_only_the_blob_in_the_directory(store: LocalDiskBlobStore, root: Path) -> None:
    store.put("a.png", b"x", "image/png")
    store.put("a.png", b"y", "image/png")

    assert os.listdir(root) == ["a.png"]


def test_the_root_directory_is_created_on_first_write(tmp_path: Path) -> None:
    store = LocalDiskBlobStore(tmp_path / "not" / "yet" / "there")
    assert list(store.iter_blobs()) == []

    store.put("a.png", b"x", "image/png")

    assert (tmp_path / "not" / "yet" / "there" / "a.png").read_bytes() == b"x"


def test_leftover_temp_files_and_foreign_entries_are_not_listed(
    store: LocalDiskBlobStore, root: Path
) -> None:
    store.put("kept.png", b"x", "image/png")
    (root / ".tmp-0123456789abcdef-crashed.png").write_bytes(b"half")
    (root / "subdir").mkdir()
    (root / "has space.png").write_bytes(b"not a key")

    assert [b.key for b in store.iter_blobs()] == ["kept.png"]


@pytest.mark.skipif(not hasattr(os, "RWF_NOWAIT"), reason="RWF_NOWAIT is Linux only")
def test_get_at_hand_reads_only_what_the_page_cache_holds(
    store: LocalDiskBlobStore, root: Path, outside_file: Path
) -> None:
    data = os.urandom(300_000)  # spans several readahead windows
    store.put("hot.png", data, "image/png")
    assert store.get_at_hand("hot.png") == data

    with open(root / "hot.png", "rb") as f:  # evict its clean pages
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    assert store.get_at_hand("hot.png") is None
    assert store.get("hot.png") == data  # a blocking read brings it back
    assert store.get_at_hand("hot.png") == data

    (root / "link.png").symlink_to(outside_file)
    assert [store.get_at_hand(k) for k in ("missing.png", "link.png", "../hot.png")] == [
        None,
        None,
        None,
    ]


def test_only_temp_files_older_than_the_cutoff_are_swept(
    store: LocalDiskBlobStore, root: Path, tmp_path: Path
) -> None:
    store.put("kept.png", b"x", "image/png")
    old, young = root / ".tmp-00-crashed.png", root / ".tmp-01-in-progress.png"
    old.write_bytes(b"half")
    young.write_bytes(b"half")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    os.utime(root / "kept.png", (hour_ago, hour_ago))
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"not ours")
    os.utime(outside, (hour_ago, hour_ago))
    (root / ".tmp-02-link.png").symlink_to(outside)
    cutoff = datetime.now(UTC) - timedelta(minutes=10)

    assert store.sweep_unfinished_writes(cutoff, apply=False) == [old.name]
    assert old.exists()
    assert store.sweep_unfinished_writes(cutoff, apply=True) == [old.name]
    assert not old.exists()
    assert young.exists() and outside.exists() and holds(store, "kept.png")
    assert (
        LocalDiskBlobStore(tmp_path / "never-created").sweep_unfinished_writes(cutoff, apply=True)
        == []
    )


@pytest.fixture
def outside_file(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_bytes(b"not yours")
    return secret


@pytest.fixture
def planted_link(store: LocalDiskBlobStore, root: Path, outside_file: Path) -> str:
    store.put("real.png", b"x", "image/png")  # creates the directory
    (root / "evil.png").symlink_to(outside_file)
    return "evil.png"


def test_reads_do_not_follow_a_planted_symlink(
    store: LocalDiskBlobStore, planted_link: str
) -> None:
    with pytest.raises(BlobNotFound):
        store.get(planted_link)
    assert not holds(store, planted_link)
    assert [b.key for b in store.iter_blobs()] == ["real.png"]


def test_writes_replace_a_planted_symlink_instead_of_following_it(
    store: LocalDiskBlobStore, root: Path, planted_link: str, outside_file: Path
) -> None:
    store.put(planted_link, b"new image", "image/png")

    assert outside_file.read_bytes() == b"not yours"
    assert not (root / planted_link).is_symlink()
    assert store.get(planted_link) == b"new image"


def test_delete_removes_a_planted_symlink_not_its_target(
    store: LocalDiskBlobStore, root: Path, planted_link: str, outside_file: Path
) -> None:
    store.delete(planted_link)

    assert not (root / planted_link).is_symlink()
    assert outside_file.read_bytes() == b"not yours"


def test_path_for_stays_inside_the_root(store: LocalDiskBlobStore, root: Path) -> None:
    assert store.path_for("a.png") == str(root / "a.png")
    with pytest.raises(InvalidInput):
        store.path_for("../a.png")


def _try_to_make_unwritable(directory: Path) -> bool:
    directory.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if not os.access(directory, os.W_OK):
        return True
    # Running as root, permission bits do not bind; the immutable attribute does.
    chattr = shutil.which("chattr")
    return chattr is not None and subprocess.run([chattr, "+i", str(directory)]).returncode == 0


@pytest.fixture
def unwritable_root(root: Path) -> Iterator[Path]:
    root.mkdir()
    made = _try_to_make_unwritable(root)
    try:
        probe = root / "probe"
        if not made or _can_create(probe):
            pytest.skip("cannot make a directory unwritable for this user")
        yield root
    finally:
        if shutil.which("chattr"):
            subprocess.run(["chattr", "-i", str(root)], capture_output=True)
        root.chmod(stat.S_IRWXU)


def _can_create(path: Path) -> bool:
    try:
        path.touch()
    except PermissionError:
        return False
    path.unlink()
    return True


@pytest.fixture
def root_under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_bytes(b"")
    return tmp_path / "a-file" / "blobs"


@pytest.mark.parametrize("bad_root", ["unwritable_root", "root_under_a_file"])
def test_an_unusable_root_makes_put_and_ping_unavailable(
    request: pytest.FixtureRequest, bad_root: str
) -> None:
    store = LocalDiskBlobStore(request.getfixturevalue(bad_root))

    with pytest.raises(BlobStoreUnavailable):
        store.ping()
    with pytest.raises(BlobStoreUnavailable):
        store.put("a.png", b"x", "image/png")
