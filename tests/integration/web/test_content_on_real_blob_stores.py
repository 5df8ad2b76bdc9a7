"""Content caching, revalidation and ranges in proxy mode, with the bytes on local disk and on
S3 (moto), so both real blob stores serve exactly what the in-memory one does: cold (every
request reads the row and the bytes) and warm (all but the first answered from memory). The
same for renditions, and their redirect (S3) and x-accel (local disk) delivery."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage

from pixyproxy.adapters.driven.blob_store_local import LocalDiskBlobStore
from pixyproxy.adapters.driven.blob_store_s3 import S3BlobStore
from pixyproxy.app.settings import Settings
from pixyproxy.domain.models import GeneratedImage
from pixyproxy.domain.renditions import THUMBNAIL, RenditionSpec, rendition_key
from pixyproxy.ports.blob_store import BlobStore
from tests.support.app import MemoryStack, memory_app, memory_stack
from tests.support.fakes import TINY_PNG, ScriptedImageGenerator
from tests.support.s3 import create_bucket


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


def picture(width: int, height: int) -> bytes:
    out = io.BytesIO()
    PILImage.linear_gradient("L").resize((width, height)).convert("RGB").save(out, format="PNG")
    return out.getvalue()


def picture_stack(settings: Settings, blobs: BlobStore) -> tuple[MemoryStack, str]:
    """A stack whose model draws a 600x400 PNG, and an API key for it."""
    generator = ScriptedImageGenerator(
        picture=GeneratedImage(picture(600, 400), "image/png", 600, 400, "fake-model")
    )
    stack = memory_stack(settings, blobs=blobs, generator=generator)
    _, key = stack.container.api_keys().create({"author": "alice"})
    return stack, key


@pytest.mark.parametrize("cache_ttl_s", [0, 60], ids=["cold", "warm"])
def test_rendition_semantics_hold_on_each_blob_store(
    real_blob_store: BlobStore, cache_ttl_s: float
) -> None:
    stack, key = picture_stack(
        Settings(generator="local", content_cache_ttl_s=cache_ttl_s), real_blob_store
    )
    with TestClient(memory_app(stack)) as client:
        made = client.post("/image", json={"prompt": "p"}, headers={"X-API-Key": key}).json()
        guid, original = made["guid"], made["filename"]
        thumbnail_key = rendition_key(original, THUMBNAIL)
        eager = real_blob_store.get(thumbnail_key)  # stored with the image
        url = f"/image/{guid}/content?width=256&format=webp"

        for _ in range(2):  # rendered or read, then (warm) held
            full = client.get(url)
            etag = f'"{hashlib.sha256(full.content).hexdigest()}"'
            assert (full.status_code, full.content, full.headers["etag"]) == (200, eager, etag)
            assert full.headers["content-type"] == "image/webp"
            assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert full.headers["x-content-type-options"] == "nosniff"
            assert full.headers["content-disposition"] == f'inline; filename="{guid}-256.webp"'
            assert PILImage.open(io.BytesIO(full.content)).size == (256, 171)

            assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
            head = client.head(url)
            assert (head.status_code, head.content) == (200, b"")
            assert (head.headers["content-length"], head.headers["etag"]) == (
                str(len(eager)),
                etag,
            )
            part = client.get(url, headers={"Range": "bytes=2-9"})
            assert (part.status_code, part.content) == (206, eager[2:10])
            assert part.headers["content-range"] == f"bytes 2-9/{len(eager)}"
            beyond = client.get(url, headers={"Range": f"bytes={len(eager)}-"})
            assert beyond.status_code == 416

        # Made on its first request, into the same store, then answered like the thumbnail.
        lazy = client.get(f"/image/{guid}/content?width=128&format=jpeg")
        assert lazy.status_code == 200
        jpeg_key = rendition_key(original, RenditionSpec(128, "jpeg"))
        assert real_blob_store.get(jpeg_key) == lazy.content
        auto = client.get(
            f"/image/{guid}/content?width=256&format=auto", headers={"Accept": "image/webp"}
        )
        assert (auto.content, auto.headers["vary"]) == (eager, "Accept")

        deleted = client.delete(f"/image/{guid}", headers={"X-API-Key": key})
        assert deleted.status_code == 204
        assert list(real_blob_store.iter_blobs()) == []
        assert client.get(url).status_code == 404


@pytest.mark.s3
def test_a_rendition_redirects_to_its_own_presigned_url(moto_s3_endpoint: str) -> None:
    store = S3BlobStore(
        create_bucket(moto_s3_endpoint), prefix="images", endpoint_url=moto_s3_endpoint
    )
    settings = Settings(
        generator="local", blob_store="s3", s3_bucket="b", content_delivery="redirect"
    )
    stack, key = picture_stack(settings, store)
    with TestClient(memory_app(stack), follow_redirects=False) as client:
        made = client.post("/image", json={"prompt": "p"}, headers={"X-API-Key": key}).json()
        url = f"/image/{made['guid']}/content?width=128&format=webp"
        redirected = client.get(url)  # rendered now, then signed
        again = client.get(url)
    for response in (redirected, again):
        assert response.status_code == 307
        assert response.headers["cache-control"] == "no-store"
    fetched = httpx.get(redirected.headers["location"], timeout=10)
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "image/webp"
    assert PILImage.open(io.BytesIO(fetched.content)).size == (128, 85)
    key_of_rendition = rendition_key(made["filename"], RenditionSpec(128, "webp"))
    assert fetched.content == store.get(key_of_rendition)
    store.close()


def test_a_rendition_is_handed_to_nginx_by_its_file_name(tmp_path: Path) -> None:
    store = LocalDiskBlobStore(tmp_path / "images")
    settings = Settings(
        generator="local", local_dir=str(tmp_path / "images"), content_delivery="x-accel"
    )
    stack, key = picture_stack(settings, store)
    with TestClient(memory_app(stack)) as client:
        made = client.post("/image", json={"prompt": "p"}, headers={"X-API-Key": key}).json()
        url = f"/image/{made['guid']}/content?width=64&format=png"
        answers = [client.get(url), client.head(url)]
    rendition = rendition_key(made["filename"], RenditionSpec(64, "png"))
    on_disk = (tmp_path / "images" / rendition).read_bytes()
    for answer in answers:
        assert answer.status_code == 200 and answer.content == b""
        # What nginx serves from its internal location: the rendition's own file.
        assert answer.headers["x-accel-redirect"] == f"/_pixyproxy_images/{rendition}"
        assert answer.headers["content-type"] == "image/png"
        assert answer.headers["etag"] == f'"{hashlib.sha256(on_disk).hexdigest()}"'
    assert PILImage.open(io.BytesIO(on_disk)).size == (64, 43)
