"""Image bytes as files in one directory on local disk.

Every blob is a regular file named by its key directly under `root`; there are no
subdirectories. Writes go to a `.tmp-` file in the same directory and are renamed over the
key, so readers never see a half-written file and a crash leaves at most a stray temp file.
Keys can never start with a dot, so temp files and keys cannot collide, and `iter_blobs`
skips temp files (and anything else that is not a plain key); `sweep_unfinished_writes` finds
the stray temp files of crashed writes for the garbage collector.

Keys that are not plain names (`is_plain_blob_key`) are refused by `put` with `InvalidInput`;
`get`, `size` and `delete` treat them as absent (`BlobNotFound`, False, no-op), like the
in-memory store. Symlinks planted in the directory are never followed: reads open with
`O_NOFOLLOW`, and a write replaces the link itself rather than its target.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from datetime import UTC, datetime

from pixyproxy.domain.exceptions import BlobNotFound, BlobStoreUnavailable, InvalidInput
from pixyproxy.domain.models import StoredBlob
from pixyproxy.domain.values import is_plain_blob_key
from pixyproxy.ports.at_hand_blob_reader import AtHandBlobReader
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.unfinished_write_sweeper import UnfinishedWriteSweeper

TEMP_PREFIX = ".tmp-"
# O_NONBLOCK keeps a FIFO planted under a key's name from blocking a worker thread forever;
# it changes nothing for regular files.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# Linux only (4.14+); elsewhere every read goes through `get` on a worker thread.
_RWF_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)
# Subject to the process umask; readable by a fronting web server when the umask allows it.
_FILE_MODE = 0o644


def _unavailable(action: str, key: str, error: OSError) -> BlobStoreUnavailable:
    # strerror only: the directory layout of the server is nobody's business.
    return BlobStoreUnavailable(f"could not {action} blob {key!r}: {error.strerror or error}")


class LocalDiskBlobStore(BlobStore, AtHandBlobReader, UnfinishedWriteSweeper):
    """Blobs as files under `root`, which is created on first write when missing."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        # Resolved once, so an operator may point `root` through a symlink to another disk.
        self._root = os.path.realpath(root)

    @property
    def root(self) -> str:
        """The resolved directory holding the blobs."""
        return self._root

    def path_for(self, key: str) -> str:
        """The file that holds `key` (which may not exist). Raises `InvalidInput` for a key
        that is not a plain name. Not part of the port: for serving files by path."""
        if not is_plain_blob_key(key):
            raise InvalidInput(f"blob key {key!r} is not a plain name")
        path = os.path.join(self._root, key)
        # Holds for every plain key; checked again so a looser key rule can never escape.
        if os.path.dirname(path) != self._root:
            raise InvalidInput(f"blob key {key!r} is not a plain name")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write atomically and durably: temp file, fsync, rename, fsync of the directory.
        Raises `InvalidInput` or `BlobStoreUnavailable`."""
        path = self.path_for(key)
        temp_path = os.path.join(self._root, f"{TEMP_PREFIX}{secrets.token_hex(8)}-{key}")
        try:
            self._ensure_root()
            fd = os.open(temp_path, _CREATE_FLAGS, _FILE_MODE)
            try:
                with os.fdopen(fd, "wb") as temp_file:
                    temp_file.write(data)
                    temp_file.flush()
                    os.fsync(temp_file.fileno())
                # rename(2) replaces whatever sits at `path`, a symlink included, and never
                # writes through it.
                os.replace(temp_path, path)
            except BaseException:
                self._discard(temp_path)
                raise
            self._fsync_root()
        except OSError as e:
            raise _unavailable("store", key, e) from e

    def get(self, key: str) -> bytes:
        """The blob's bytes. Raises `BlobNotFound` or `BlobStoreUnavailable`."""
        if not is_plain_blob_key(key):
            raise BlobNotFound(f"no blob {key!r}")
        try:
            fd = os.open(self.path_for(key), _READ_FLAGS)
        except FileNotFoundError as e:
            raise BlobNotFound(f"no blob {key!r}") from e
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise BlobNotFound(f"blob {key!r} is a symlink, not a stored blob") from e
            raise _unavailable("read", key, e) from e
        try:
            with os.fdopen(fd, "rb") as blob_file:
                if not stat.S_ISREG(os.fstat(blob_file.fileno()).st_mode):
                    raise BlobNotFound(f"blob {key!r} is not a regular file")
                return blob_file.read()
        except OSError as e:
            raise _unavailable("read", key, e) from e

    def get_at_hand(self, key: str) -> bytes | None:
        """The file's bytes when all of them are in the page cache: `preadv` with RWF_NOWAIT
        refuses to wait for the disk. A hot image is then read on the event loop in ~10 us
        instead of a threadpool round trip that costs several times the read. The open itself
        can still touch the disk for a name not in the dentry cache; a hot image's is."""
        if _RWF_NOWAIT is None or not is_plain_blob_key(key):
            return None
        try:
            fd = os.open(self.path_for(key), _READ_FLAGS)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None
            data = bytearray(info.st_size)
            view, done = memoryview(data), 0
            while done < info.st_size:
                # Short reads happen at readahead boundaries; EAGAIN means "on the disk".
                read = os.preadv(fd, [view[done:]], done, _RWF_NOWAIT)
                if read == 0:
                    return None  # truncated under us: let `get` see what is there
                done += read
            return bytes(data)
        except OSError:
            return None
        finally:
            os.close(fd)

    def delete(self, key: str) -> None:
        """Remove the file (a symlink in its place is removed, its target left alone)."""
        if not is_plain_blob_key(key):
            return
        try:
            os.unlink(self.path_for(key))
        except FileNotFoundError:
            return
        except OSError as e:
            raise _unavailable("delete", key, e) from e

    def size(self, key: str) -> int:
        """The size of the regular file holding `key`. Raises `BlobNotFound` or
        `BlobStoreUnavailable`."""
        if not is_plain_blob_key(key):
            raise BlobNotFound(f"no blob {key!r}")
        try:
            info = os.lstat(self.path_for(key))
        except FileNotFoundError as e:
            raise BlobNotFound(f"no blob {key!r}") from e
        except OSError as e:
            raise _unavailable("check", key, e) from e
        if not stat.S_ISREG(info.st_mode):
            raise BlobNotFound(f"blob {key!r} is not a regular file")
        return info.st_size

    def iter_blobs(self) -> Iterator[StoredBlob]:
        """Every regular file named by a plain key, lazily; temp files and anything else in
        the directory are skipped. A missing directory holds no blobs."""
        try:
            with os.scandir(self._root) as entries:
                for entry in entries:
                    blob = self._stored_blob(entry)
                    if blob is not None:
                        yield blob
        except FileNotFoundError:
            return
        except OSError as e:
            raise BlobStoreUnavailable(f"could not list blobs: {e.strerror or e}") from e

    def sweep_unfinished_writes(self, older_than: datetime, *, apply: bool) -> list[str]:
        """Temp files (a crash between create and rename leaves one) not modified since
        `older_than`; younger ones may be writes in progress. Symlinks and directories that
        merely carry the prefix are left alone."""
        found: list[str] = []
        cutoff = older_than.timestamp()
        try:
            with os.scandir(self._root) as entries:
                for entry in entries:
                    if not entry.name.startswith(TEMP_PREFIX):
                        continue
                    try:
                        if not entry.is_file(follow_symlinks=False):
                            continue
                        if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                            continue
                        if apply:
                            os.unlink(entry.path)
                    except FileNotFoundError:
                        continue  # finished (renamed) or removed while we looked
                    found.append(entry.name)
        except FileNotFoundError:
            return []
        except OSError as e:
            raise BlobStoreUnavailable(f"could not sweep temp files: {e.strerror or e}") from e
        return sorted(found)

    def ping(self) -> None:
        """Create and remove a probe file, so a full or read-only disk or a lost permission
        shows up here before a user's upload finds it."""
        probe_path = os.path.join(self._root, f"{TEMP_PREFIX}ping-{secrets.token_hex(8)}")
        try:
            self._ensure_root()
            os.close(os.open(probe_path, _CREATE_FLAGS, _FILE_MODE))
            os.unlink(probe_path)
        except OSError as e:
            raise BlobStoreUnavailable(f"blob directory is not writable: {e.strerror or e}") from e

    def _stored_blob(self, entry: os.DirEntry[str]) -> StoredBlob | None:
        if not is_plain_blob_key(entry.name):
            return None
        try:
            if not entry.is_file(follow_symlinks=False):
                return None
            modified = entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            return None  # deleted while we were listing
        return StoredBlob(entry.name, datetime.fromtimestamp(modified, UTC))

    def _ensure_root(self) -> None:
        os.makedirs(self._root, exist_ok=True)

    def _fsync_root(self) -> None:
        # Makes the rename itself durable; without it a power loss can forget the new name.
        fd = os.open(self._root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _discard(temp_path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_path)
