"""Hand-written fakes of our own ports, for unit tests: scripted, counting, no libraries."""

from __future__ import annotations

import asyncio
import base64
from collections import deque
from collections.abc import Iterator

from pixyproxy.adapters.driven.memory import MemoryBlobStore
from pixyproxy.domain.exceptions import BlobNotFound, BlobStoreUnavailable, PixyProxyException
from pixyproxy.domain.models import (
    GeneratedImage,
    GenerationRequest,
    GeneratorCapabilities,
    StoredBlob,
)
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.blob_url_signer import BlobUrlSigner
from pixyproxy.ports.image_generator import ImageGenerator

# A valid 1x1 PNG, so tests need no image library.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class ScriptedImageGenerator(ImageGenerator):
    """Returns TINY_PNG (or `picture`), or raises the next scripted error; counts calls; can
    be made slow."""

    def __init__(self, delay_s: float = 0.0, picture: GeneratedImage | None = None) -> None:
        self.calls: list[GenerationRequest] = []
        self.failures: deque[PixyProxyException] = deque()
        self.delay_s = delay_s
        self.picture = picture

    def capabilities(self) -> GeneratorCapabilities:
        return GeneratorCapabilities(
            model="fake-model",
            sizes=frozenset({"1024x1024", "auto"}),
            qualities=frozenset({"low", "high", "auto"}),
            max_duration_s=60.0,
        )

    async def generate(self, request: GenerationRequest) -> GeneratedImage:
        self.calls.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.failures:
            raise self.failures.popleft()
        if self.picture is not None:
            return self.picture
        return GeneratedImage(
            data=TINY_PNG, content_type="image/png", width=1, height=1, model="fake-model"
        )


class FlakyBlobStore(BlobStore):
    """Any blob store (memory by default) whose `put`, `get`, `delete` or `ping` can be made
    to fail on demand, to inject faults between the writes of a use case."""

    def __init__(self, inner: BlobStore | None = None) -> None:
        self.inner = inner or MemoryBlobStore()
        self.fail_on: set[str] = set()

    def _maybe_fail(self, operation: str) -> None:
        if operation in self.fail_on:
            raise BlobStoreUnavailable(f"injected {operation} failure")

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._maybe_fail("put")
        self.inner.put(key, data, content_type)

    def get(self, key: str) -> bytes:
        self._maybe_fail("get")
        return self.inner.get(key)

    def delete(self, key: str) -> None:
        self._maybe_fail("delete")
        self.inner.delete(key)

    def size(self, key: str) -> int:
        self._maybe_fail("size")
        return self.inner.size(key)

    def iter_blobs(self) -> Iterator[StoredBlob]:
        return self.inner.iter_blobs()

    def ping(self) -> None:
        self._maybe_fail("ping")
        self.inner.ping()

    def stored_keys(self) -> set[str]:
        return {b.key for b in self.inner.iter_blobs()}


def holds(store: BlobStore, key: str) -> bool:
    """Whether `store` holds bytes under `key`."""
    try:
        store.size(key)
    except BlobNotFound:
        return False
    return True


class PresigningBlobStore(MemoryBlobStore, BlobUrlSigner):
    """The in-memory store with S3's presigned URLs, for the redirect delivery mode."""

    def presigned_url(self, key: str, content_type: str, expires_s: int) -> str:
        return f"https://blobs.example/{key}?type={content_type}&expires={expires_s}"
