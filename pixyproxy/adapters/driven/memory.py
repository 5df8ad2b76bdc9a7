"""In-memory adapters: first-class implementations of the ports, for tests and throwaway runs.

They follow the same contract suites as the real adapters, so a use case tested over them
behaves the same over SQL and disk.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from pixyproxy.domain.exceptions import (
    BlobNotFound,
    Conflict,
    DuplicateImage,
    ImageNotFound,
    InvalidInput,
    SchemaMismatch,
)
from pixyproxy.domain.models import (
    ApiKey,
    IdempotencyRecord,
    Image,
    ImageContent,
    ImageQuery,
    StoredBlob,
)
from pixyproxy.domain.renditions import Rendition, RenditionSpec
from pixyproxy.domain.values import is_plain_blob_key
from pixyproxy.ports.api_key_store import ApiKeyStore
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.clock import Clock
from pixyproxy.ports.idempotency_store import IdempotencyStore
from pixyproxy.ports.image_repository import ImageRepository
from pixyproxy.ports.schema_migrator import SchemaMigrator, SchemaStatus


def _newest_first(image: Image) -> tuple[datetime, str]:
    return (image.created_at, str(image.guid))


class MemoryImageRepository(ImageRepository):
    def __init__(self) -> None:
        self._images: dict[UUID, Image] = {}
        self._renditions: dict[UUID, dict[RenditionSpec, Rendition]] = {}
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, image: Image, renditions: Sequence[Rendition] = ()) -> Image:
        with self._lock:
            if image.guid in self._images:
                raise DuplicateImage(f"image {image.guid} already exists")
            stored = replace(image, id=self._next_id)
            self._next_id += 1
            self._images[image.guid] = stored
            self._renditions[image.guid] = {r.spec: r for r in renditions}
            return stored

    def get(self, guid: UUID) -> Image:
        try:
            return self._images[guid]
        except KeyError:
            raise ImageNotFound(f"no image with guid {guid}") from None

    def list(self, query: ImageQuery) -> list[Image]:
        with self._lock:
            images = sorted(self._images.values(), key=_newest_first, reverse=True)
        if query.after is not None:
            anchor = (query.after.created_at, str(query.after.guid))
            images = [i for i in images if _newest_first(i) < anchor]
        if query.tags:
            images = [i for i in images if set(query.tags) <= set(i.tags)]
        if query.author is not None:
            images = [i for i in images if i.author == query.author]
        if query.text is not None:
            needle = query.text.lower()
            images = [i for i in images if needle in i.prompt.lower()]
        return images[: query.limit]

    def set_tags(self, guid: UUID, tags: tuple[str, ...], updated_at: datetime) -> Image:
        with self._lock:
            image = self.get(guid)
            changed = replace(image, tags=tags, updated_at=updated_at)
            self._images[guid] = changed
            return changed

    def delete(self, guid: UUID) -> None:
        with self._lock:
            if self._images.pop(guid, None) is None:
                raise ImageNotFound(f"no image with guid {guid}")
            self._renditions.pop(guid, None)

    def rendition(self, guid: UUID, spec: RenditionSpec) -> Rendition | None:
        return self._renditions.get(guid, {}).get(spec)

    def add_rendition(self, guid: UUID, rendition: Rendition) -> Rendition:
        with self._lock:
            self.get(guid)
            return self._renditions[guid].setdefault(rendition.spec, rendition)

    def replace_rendition(self, guid: UUID, rendition: Rendition) -> None:
        with self._lock:
            self.get(guid)
            self._renditions[guid][rendition.spec] = rendition

    def renditions_of(self, guid: UUID) -> builtins.list[Rendition]:
        return list(self._renditions.get(guid, {}).values())

    def set_placeholder(self, guid: UUID, placeholder: str) -> None:
        with self._lock:
            self._images[guid] = replace(self.get(guid), placeholder=placeholder)

    def without_placeholder(self, after_id: int, limit: int) -> builtins.list[Image]:
        found = sorted(
            (i for i in list(self._images.values()) if i.placeholder is None and i.id),
            key=lambda i: i.id or 0,
        )
        return [i for i in found if (i.id or 0) > after_id][:limit]

    def count_without_placeholder(self) -> int:
        return sum(1 for i in list(self._images.values()) if i.placeholder is None)

    def contents(self, guids: Iterable[UUID]) -> dict[UUID, ImageContent]:
        found = (self._images.get(guid) for guid in guids)
        return {image.guid: image.content for image in found if image is not None}

    def missing_blob_keys(self, keys: Iterable[str]) -> set[str]:
        referenced = {i.blob_key for i in self._images.values()}
        return {k for k in keys if k not in referenced}

    def iter_blob_keys(self) -> Iterator[str]:
        return iter([i.blob_key for i in list(self._images.values())])

    def ping(self) -> None:
        return None


class MemoryApiKeyStore(ApiKeyStore):
    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}
        self._lock = threading.Lock()

    def add(self, key: ApiKey) -> None:
        with self._lock:
            if any(
                k.prefix == key.prefix or k.key_hash == key.key_hash for k in self._keys.values()
            ):
                raise Conflict("an API key with this prefix or hash already exists")
            self._keys[key.key_hash] = key

    def find_by_hash(self, key_hash: str) -> ApiKey | None:
        return self._keys.get(key_hash)

    def list(self) -> list[ApiKey]:
        return sorted(self._keys.values(), key=lambda k: (k.created_at, k.prefix))

    def revoke(self, prefix: str, revoked_at: datetime) -> int:
        with self._lock:
            hits = [k for k in self._keys.values() if k.active and k.prefix.startswith(prefix)]
            for k in hits:
                self._keys[k.key_hash] = replace(k, revoked_at=revoked_at)
            return len(hits)


class MemoryBlobStore(BlobStore):
    def __init__(self) -> None:
        self._blobs: dict[str, tuple[bytes, datetime]] = {}

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if not is_plain_blob_key(key):
            raise InvalidInput(f"blob key {key!r} is not a plain name")
        self._blobs[key] = (bytes(data), datetime.now(UTC))

    def get(self, key: str) -> bytes:
        try:
            return self._blobs[key][0]
        except KeyError:
            raise BlobNotFound(f"no blob {key!r}") from None

    def delete(self, key: str) -> None:
        self._blobs.pop(key, None)

    def size(self, key: str) -> int:
        return len(self.get(key))

    def iter_blobs(self) -> Iterator[StoredBlob]:
        return iter([StoredBlob(k, t) for k, (_, t) in list(self._blobs.items())])

    def ping(self) -> None:
        return None


class ManualClock(Clock):
    """A clock tests move by hand; each reading advances it a microsecond so that images
    created one after another never tie."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        self._now += timedelta(microseconds=1)
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class MemoryIdempotencyStore(IdempotencyStore):
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], IdempotencyRecord] = {}
        self._lock = threading.Lock()

    def claim(self, record: IdempotencyRecord, stale_before: datetime) -> IdempotencyRecord | None:
        with self._lock:
            held = self._records.get((record.author, record.key))
            if held is not None and not held.replaceable(record.created_at, stale_before):
                return held
            self._records[(record.author, record.key)] = record
            return None

    def complete(self, author: str, key: str, image_guid: UUID) -> None:
        with self._lock:
            held = self._records.get((author, key))
            if held is not None:
                self._records[(author, key)] = replace(held, image_guid=image_guid)

    def release(self, author: str, key: str) -> None:
        with self._lock:
            held = self._records.get((author, key))
            if held is not None and not held.done:
                del self._records[(author, key)]

    def find(self, author: str, key: str) -> IdempotencyRecord | None:
        return self._records.get((author, key))

    def purge_expired(self, now: datetime, *, apply: bool) -> int:
        with self._lock:
            expired = [k for k, record in self._records.items() if record.expires_at <= now]
            if apply:
                for k in expired:
                    del self._records[k]
            return len(expired)


class MemorySchemaMigrator(SchemaMigrator):
    """In-memory stores have no schema: this one is a revision, `head` unless told otherwise,
    with the same rules about moving it."""

    HEAD = "memory"

    def __init__(self, revision: str | None = HEAD, *, known: bool = True) -> None:
        self._status = SchemaStatus(revision=revision, head=self.HEAD, known=known)
        self.upgrades = 0

    def status(self) -> SchemaStatus:
        return self._status

    def upgrade(self) -> SchemaStatus:
        before = self._status
        if before.ahead:
            raise SchemaMismatch(f"the schema is at {before.revision}, unknown to this code")
        if before.behind:
            self._status = replace(before, revision=self.HEAD)
            self.upgrades += 1
        return before

    def ensure_current(self, *, auto_migrate: bool) -> None:
        if self._status.behind and not auto_migrate:
            raise SchemaMismatch("the schema is behind and automatic migration is off")
        self.upgrade()
