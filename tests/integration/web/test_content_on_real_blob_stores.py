"""Content caching, revalidation and ranges in proxy mode, with the bytes on local disk and on
S3 (moto), so both real blob stores serve exactly what the in-memory one does: cold (every
request reads the row and the bytes) and warm (all but the first answered from memory)."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from pixyproxy.app.settings import Settings
from pixyproxy.ports.blob_store import BlobStore
from tests.support.app import memory_app, memory_stack
from tests.support.fakes import TINY_PNG


@pytest.mark.parametrize("cache_ttl_s", [0, 60], ids=["cold", "warm"])
def test_content_semantics_hold_on_each_blob_store(
    real_blob_store: BlobStore, cache_ttl_s: float
) -> None:
    settings = Settings(generator="local", content_cache_ttl_s=cache_ttl_s)
    stack = memory_stack(settings, blobs=real_blob_store)
    _, key = stack.container.api_keys().create({"author": "alice"})
    with TestClient(memory_app(stack)) as client:
        made = client.post("/image", json={"prompt": "p"}, headers={"X-API-Key": key}).json()
        url = f"/image/{made['guid']}/content"

        full = client.get(url)
        etag = f'"{hashlib.sha256(TINY_PNG).hexdigest()}"'
        assert (full.status_code, full.content, full.headers["etag"]) == (200, TINY_PNG, etag)
        assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert full.headers["content-type"] == "image/png"

        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        head = client.head(url)
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-length"] == str(len(TINY_PNG))

        part = client.get(url, headers={"Range": "bytes=2-9"})
        assert (part.status_code, part.content) == (206, TINY_PNG[2:10])
        assert part.headers["content-range"] == f"bytes 2-9/{len(TINY_PNG)}"
        beyond = client.get(url, headers={"Range": f"bytes={len(TINY_PNG)}-"})
        assert beyond.status_code == 416
