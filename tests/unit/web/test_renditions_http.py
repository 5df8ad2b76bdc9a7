"""Renditions over HTTP: the asked size and format, Accept negotiation with Vary, the same
caching semantics as originals, and 422s naming the allowed values."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image as PILImage

from pixyproxy.domain.models import GeneratedImage
from tests.support.fakes import ScriptedImageGenerator
from tests.unit.web.conftest import Api


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    PILImage.linear_gradient("L").resize((width, height)).convert("RGB").save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def guid(api: Api) -> str:
    generator = api.stack.generator
    assert isinstance(generator, ScriptedImageGenerator)
    generator.picture = GeneratedImage(png(1536, 1024), "image/png", 1536, 1024, "fake-model")
    made = api.client.post("/image", json={"prompt": "p"}, headers=api.auth)
    assert made.status_code == 201, made.text
    detail = made.json()
    assert detail["content_url"] == f"/image/{detail['guid']}/content"
    assert detail["thumbnail_url"] == f"/image/{detail['guid']}/content?width=256&format=auto"
    assert 0 < len(detail["placeholder"]) <= 40
    return str(detail["guid"])


@pytest.mark.parametrize(
    ("query", "size", "pil_format", "content_type"),
    [
        ("width=64&format=webp", (64, 43), "WEBP", "image/webp"),
        ("width=512&format=jpeg", (512, 341), "JPEG", "image/jpeg"),
        ("width=128", (128, 85), "PNG", "image/png"),
        ("format=webp", (1536, 1024), "WEBP", "image/webp"),
    ],
)
def test_renditions_decode_to_the_asked_size_and_format(
    api: Api, guid: str, query: str, size: tuple[int, int], pil_format: str, content_type: str
) -> None:
    response = api.client.get(f"/image/{guid}/content?{query}")

    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    image = PILImage.open(io.BytesIO(response.content))
    assert (image.format, image.size) == (pil_format, size)
    assert response.headers["etag"] == f'"{hashlib.sha256(response.content).hexdigest()}"'
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "vary" not in response.headers


@pytest.mark.parametrize(
    ("accept", "pil_format"),
    [
        ("image/avif,image/webp,image/apng,image/*,*/*;q=0.8", "WEBP"),
        ("image/avif", "AVIF"),
        ("image/webp;q=0, image/avif;q=0.5", "AVIF"),
        ("*/*", "PNG"),
        (None, "PNG"),
    ],
)
def test_format_auto_negotiates_by_accept_and_says_so(
    api: Api, guid: str, accept: str | None, pil_format: str
) -> None:
    headers = {} if accept is None else {"Accept": accept}
    response = api.client.get(f"/image/{guid}/content?width=256&format=auto", headers=headers)

    assert response.status_code == 200
    assert response.headers["vary"] == "Accept"
    assert PILImage.open(io.BytesIO(response.content)).format == pil_format


def test_304_head_and_range_on_a_rendition(api: Api, guid: str) -> None:
    url = f"/image/{guid}/content?width=256&format=webp"
    full = api.client.get(url)
    etag = full.headers["etag"]

    assert api.client.get(url, headers={"If-None-Match": etag}).status_code == 304
    head = api.client.head(url)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(full.content))
    ranged = api.client.get(url, headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.content == full.content[:10]
    # A fitting name for a download, not the blob key (`<guid>.png.w256.webp`).
    assert full.headers["content-disposition"] == f'inline; filename="{guid}-256.webp"'


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("width=300", "64, 128, 256, 512, 1024"),
        ("width=-1", "64, 128, 256, 512, 1024"),
        ("width=256&format=gif", "webp, avif, jpeg, png, auto"),
    ],
)
def test_anything_else_is_a_422_naming_the_allowed_values(
    api: Api, guid: str, query: str, named: str
) -> None:
    response = api.client.get(f"/image/{guid}/content?{query}")

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert named in response.json()["detail"]


def test_deleting_an_image_deletes_its_renditions(api: Api, guid: str) -> None:
    api.client.get(f"/image/{guid}/content?width=64&format=jpeg")
    assert len(list(api.stack.blobs.iter_blobs())) == 3  # original, thumbnail, 64-px JPEG

    assert api.client.delete(f"/image/{guid}", headers=api.auth).status_code == 204

    assert list(api.stack.blobs.iter_blobs()) == []
    assert api.client.get(f"/image/{guid}/content?width=64&format=jpeg").status_code == 404


def test_capabilities_list_the_renditions_offered_and_each_is_served(api: Api, guid: str) -> None:
    offered = api.client.get("/capabilities").json()["renditions"]

    assert offered["widths"] == [64, 128, 256, 512, 1024]
    assert offered["formats"][-1] == "auto"
    assert {"webp", "jpeg", "png"} <= set(offered["formats"])
    for width in offered["widths"]:
        for format in offered["formats"]:
            response = api.client.head(f"/image/{guid}/content?width={width}&format={format}")
            assert response.status_code == 200, (width, format)
