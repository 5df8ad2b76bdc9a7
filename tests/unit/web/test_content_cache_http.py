"""Content answered from the worker's memory (the fast path) is the route's answer, byte for
byte, in every delivery mode, for originals and renditions alike; deletes are seen at once
here and within the TTL elsewhere."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from pixyproxy.adapters.driven.memory import MemoryBlobStore, MemoryImageRepository
from pixyproxy.adapters.driving.web.content.cache import ContentCache
from pixyproxy.adapters.driving.web.content.fast_path import check_route_has_no_dependencies
from pixyproxy.adapters.driving.web.deps import CurrentAuthor
from pixyproxy.app.settings import Settings
from pixyproxy.domain.models import GeneratedImage, Image
from pixyproxy.domain.renditions import RenditionSpec, rendition_key
from tests.support.app import MemoryStack, memory_app, memory_stack
from tests.support.builders import make_image
from tests.support.fakes import TINY_PNG, PresigningBlobStore, ScriptedImageGenerator
from tests.unit.web.test_images_api import assert_problem

ETAG = f'"{hashlib.sha256(TINY_PNG).hexdigest()}"'
SIZE = len(TINY_PNG)

MODES: dict[str, dict[str, Any]] = {
    "proxy": {},
    "proxy with CORS": {"cors_origins": ["https://app.example"]},
    "x-accel": {"content_delivery": "x-accel"},
    "redirect": {"blob_store": "s3", "s3_bucket": "b", "content_delivery": "redirect"},
}

# (method, headers, path suffix): the content requests the route's tests make, and more.
CASES: list[tuple[str, list[tuple[str, str]], str]] = [
    ("GET", [], ""),
    ("HEAD", [], ""),
    ("GET", [], "?download=1"),
    *(
        ("GET", [("If-None-Match", value)], "")
        for value in (ETAG, f"W/{ETAG}", f'"other", {ETAG}', "*", '"x"', "")
    ),
    ("HEAD", [("If-None-Match", ETAG)], ""),
    ("GET", [("If-None-Match", '"x"'), ("If-None-Match", ETAG)], ""),
    *(
        ("GET", [("Range", value)], "")
        for value in (
            "bytes=0-9",
            "bytes=10-",
            "bytes=-5",
            "bytes=3-100000",
            f"bytes={SIZE}-",
            "bytes=-0",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=5-1",
            "bytes=-",
        )
    ),
    ("GET", [("Range", "bytes=0-1"), ("If-Range", ETAG)], ""),
    ("GET", [("Range", "bytes=0-1"), ("If-Range", '"stale"')], ""),
    ("HEAD", [("Range", "bytes=0-9")], ""),
    ("HEAD", [("Range", f"bytes={SIZE}-")], ""),
    ("GET", [("Range", "bytes=0-1"), ("If-None-Match", ETAG)], ""),
    ("GET", [("Origin", "https://app.example")], ""),
    ("GET", [("Origin", "https://elsewhere.example"), ("If-None-Match", ETAG)], ""),
]


def stored_image(images: MemoryImageRepository, blobs: MemoryBlobStore) -> Image:
    made = replace(make_image(1), byte_size=SIZE, sha256=ETAG.strip('"'))
    blobs.put(made.blob_key, TINY_PNG, "image/png")
    return images.add(made)


def stack_for(
    mode: str, images: MemoryImageRepository, blobs: MemoryBlobStore, **more: Any
) -> MemoryStack:
    settings = Settings.model_validate({"generator": "local", **MODES[mode], **more})
    return memory_stack(settings, images=images, blobs=blobs)


class RoutingCounter:
    """Counts the requests that get past every middleware to FastAPI's routing: none does
    that the content fast path answers."""

    def __init__(self, app: FastAPI) -> None:
        self.reached = 0
        # Appended rather than added: add_middleware puts it outermost, this innermost.
        app.user_middleware.append(Middleware(self._count))

    def _count(self, inner: ASGIApp) -> ASGIApp:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                self.reached += 1
            await inner(scope, receive, send)

        return counted


def answer(client: TestClient, method: str, path: str, headers: list[tuple[str, str]]) -> Any:
    # A fixed request id: problem bodies carry it.
    response = client.request(method, path, headers=[*headers, ("X-Request-ID", "same")])
    return response.status_code, sorted(response.headers.multi_items()), response.content


@contextmanager
def client_of(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


@pytest.mark.parametrize("mode", MODES)
def test_a_warm_answer_is_the_cold_answer(mode: str) -> None:
    images, blobs = MemoryImageRepository(), PresigningBlobStore()
    image = stored_image(images, blobs)
    cold_stack = stack_for(mode, images, blobs, content_cache_ttl_s=0)
    cold_app = memory_app(cold_stack, content_fast_path=False)
    warm_app = memory_app(stack_for(mode, images, blobs))
    routed = RoutingCounter(warm_app)
    path = f"/image/{image.guid}/content"
    unknown = f"/image/{uuid4()}/content"
    with client_of(cold_app) as cold, client_of(warm_app) as warm:
        assert warm.get(path).status_code in (200, 307)  # now held by the warm worker
        for method, headers, suffix in CASES:
            for spelling in (
                path,
                unknown,
                path.upper().replace("/IMAGE/", "/image/").replace("/CONTENT", "/content"),
            ):
                routed_before = routed.reached
                expected = answer(cold, method, spelling + suffix, headers)
                got = answer(warm, method, spelling + suffix, headers)
                assert got == expected, (method, headers, spelling + suffix)
                # The fast path answers everything without a query string, errors included.
                assert routed.reached == routed_before + bool(suffix)


def test_a_guid_in_another_spelling_goes_to_the_route() -> None:
    images, blobs = MemoryImageRepository(), MemoryBlobStore()
    image = stored_image(images, blobs)
    with client_of(memory_app(stack_for("proxy", images, blobs))) as client:
        canonical = client.get(f"/image/{image.guid}/content")
        braced = client.get(f"/image/{image.guid.hex}/content")
    assert (braced.status_code, braced.content) == (200, TINY_PNG)
    assert braced.headers["etag"] == canonical.headers["etag"]


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def app_with_clock(stack: MemoryStack, ttl_s: float) -> tuple[FastAPI, FakeMonotonic]:
    clock = FakeMonotonic()
    cache = ContentCache(
        max_entries=100, ttl_s=ttl_s, max_bytes=1 << 20, max_item_bytes=1 << 20, monotonic=clock
    )
    return memory_app(stack, content_cache=cache), clock


def test_a_delete_here_is_a_404_at_once() -> None:
    stack = memory_stack()
    _, key = stack.container.api_keys().create({"author": "alice"})
    with client_of(memory_app(stack)) as client:
        made = client.post("/image", json={"prompt": "p"}, headers={"X-API-Key": key}).json()
        url = f"/image/{made['guid']}/content"
        assert client.get(url).content == TINY_PNG
        assert client.get(url, headers={"If-None-Match": ETAG}).status_code == 304
        deleted = client.delete(f"/image/{made['guid']}", headers={"X-API-Key": key})
        assert deleted.status_code == 204
        assert_problem(client.get(url), 404)
        assert_problem(client.get(url, headers={"If-None-Match": ETAG}), 404)
        assert client.head(url).status_code == 404


def test_a_delete_elsewhere_is_seen_within_the_ttl_and_never_as_a_500() -> None:
    images, blobs = MemoryImageRepository(), MemoryBlobStore()
    sent, headed = stored_image(images, blobs), stored_image(images, blobs)
    app, clock = app_with_clock(stack_for("proxy", images, blobs), ttl_s=5)
    with client_of(app) as client:
        assert client.get(f"/image/{sent.guid}/content").status_code == 200  # bytes kept
        assert client.head(f"/image/{headed.guid}/content").status_code == 200  # facts only
        for image in (sent, headed):  # another process deletes both, row then bytes
            images.delete(image.guid)
            blobs.delete(image.blob_key)

        clock.now += 4.9
        # Within the TTL: what this worker holds is still served, to GET and HEAD alike...
        assert client.get(f"/image/{sent.guid}/content").content == TINY_PNG
        assert client.head(f"/image/{sent.guid}/content").status_code == 200
        # ...but bytes it does not hold show the image gone: a 404, not a missing-bytes 500.
        assert_problem(client.get(f"/image/{headed.guid}/content"), 404)
        assert client.head(f"/image/{headed.guid}/content").status_code == 404

        clock.now += 0.1
        assert_problem(client.get(f"/image/{sent.guid}/content"), 404)
        assert client.head(f"/image/{sent.guid}/content").status_code == 404


def test_a_fast_answer_is_counted_and_logged_under_the_route_template(
    caplog: pytest.LogCaptureFixture,
) -> None:
    images, blobs = MemoryImageRepository(), MemoryBlobStore()
    image = stored_image(images, blobs)
    app = memory_app(stack_for("proxy", images, blobs))
    routed = RoutingCounter(app)
    path = f"/image/{image.guid}/content"
    with client_of(app) as client, caplog.at_level(logging.INFO, logger="pixyproxy.access"):
        client.get(path)
        assert client.get(path, headers={"If-None-Match": ETAG}).status_code == 304
        assert client.head(path).status_code == 200
        text = client.get("/metrics").text
    assert routed.reached == 1  # /metrics
    for method, status in (("GET", "304"), ("HEAD", "200")):
        assert (
            f'pixyproxy_http_requests_total{{method="{method}",'
            f'route="/image/{{guid}}/content",status="{status}"}} 1.0'
        ) in text
    ends = [r.getMessage() for r in caplog.records if r.getMessage().startswith("end ")]
    assert "end GET /image/{guid}/content 304" in " | ".join(ends)


def test_missing_bytes_are_the_same_problem_to_get_and_head_on_both_paths(
    caplog: pytest.LogCaptureFixture,
) -> None:
    images, blobs = MemoryImageRepository(), MemoryBlobStore()
    image = stored_image(images, blobs)
    blobs.delete(image.blob_key)  # the row outlived its bytes
    path = f"/image/{image.guid}/content"
    for fast_path in (True, False):
        app = memory_app(stack_for("proxy", images, blobs), content_fast_path=fast_path)
        with client_of(app) as client, caplog.at_level(logging.WARNING):
            caplog.clear()
            got, headed = client.get(path), client.head(path)
        assert_problem(got, 500)
        assert (headed.status_code, headed.headers["content-type"]) == (
            500,
            "application/problem+json",
        )
        assert headed.headers["content-length"] == got.headers["content-length"]
        lost = [r for r in caplog.records if "data loss" in r.getMessage()]
        assert len(lost) == 2 and len(caplog.records) == 2, caplog.records  # once a request


def test_the_fast_path_refuses_a_content_route_with_dependencies() -> None:
    app = memory_app(memory_stack())
    content_route = next(r for r in app.routes if getattr(r, "path", "") == "/image/{guid}/content")
    check_route_has_no_dependencies(content_route)
    guarded = FastAPI()

    @guarded.get("/image/{guid}/content")
    def content(guid: str, author: CurrentAuthor) -> None:
        return None

    with pytest.raises(RuntimeError, match="dependencies"):
        check_route_has_no_dependencies(guarded.routes[-1])


def picture_png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    PILImage.linear_gradient("L").resize((width, height)).convert("RGB").save(out, format="PNG")
    return out.getvalue()


def stored_picture(images: MemoryImageRepository, blobs: MemoryBlobStore) -> Image:
    """An image renditions can be made of: 300x200, so that 512 px is its own width."""
    data = picture_png(300, 200)
    made = replace(
        make_image(2),
        width=300,
        height=200,
        byte_size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    blobs.put(made.blob_key, data, "image/png")
    return images.add(made)


WEBP = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"
# (query, the fast path answers it): what renditions are asked with, well and badly, and what
# only looks like it. Those the fast path leaves go to the route, which refuses unknown names.
RENDITION_QUERIES: list[tuple[str, bool]] = [
    ("?width=256&format=webp", True),
    ("?format=webp&width=256", True),
    ("?width=64", True),
    ("?format=jpeg", True),
    ("?width=128&format=auto", True),
    ("?format=auto", True),
    ("?width=512&format=png", True),  # wider than the original, in its format: the original
    ("?width=300", True),
    ("?width=", True),
    ("?width=256&format=gif", True),
    ("?width=abc&format=xyz", True),
    ("?width=99999999999999999", False),
    ("?width=256&width=128", False),
    ("?width=256&download=1", False),
    ("?WIDTH=256", False),
    ("?format=%77ebp", False),
    ("?width=256&format=webp&", False),
]


@pytest.mark.parametrize("mode", MODES)
def test_a_warm_rendition_answer_is_the_cold_answer(mode: str) -> None:
    images, blobs = MemoryImageRepository(), PresigningBlobStore()
    image = stored_picture(images, blobs)
    cold_app = memory_app(
        stack_for(mode, images, blobs, content_cache_ttl_s=0), content_fast_path=False
    )
    warm_app = memory_app(stack_for(mode, images, blobs))
    routed = RoutingCounter(warm_app)
    path = f"/image/{image.guid}/content"
    unknown = f"/image/{uuid4()}/content"
    with client_of(cold_app) as cold, client_of(warm_app) as warm:
        cold.get(path + "?width=256&format=webp")
        recorded = images.rendition(image.guid, RenditionSpec(256, "webp"))
        assert recorded is not None
        etag = f'"{recorded.sha256}"'
        for query, _ in RENDITION_QUERIES:
            warm.get(path + query)  # rendered, or held by the warm worker now
        for query, fast in RENDITION_QUERIES:
            for method, headers in (
                ("GET", []),
                ("HEAD", []),
                ("GET", [("Accept", WEBP)]),
                ("GET", [("Accept", "image/jpeg"), ("Accept", WEBP)]),
                ("GET", [("If-None-Match", etag), ("Accept", "image/webp")]),
                ("GET", [("Range", "bytes=0-9"), ("Accept", "image/webp")]),
                ("GET", [("Range", "bytes=99999-")]),
                ("HEAD", [("Range", "bytes=2-")]),
            ):
                for spelling in (path, unknown):
                    routed_before = routed.reached
                    expected = answer(cold, method, spelling + query, headers)
                    got = answer(warm, method, spelling + query, headers)
                    assert got == expected, (method, headers, spelling + query)
                    assert routed.reached == routed_before + (not fast), (query, method)


def test_renditions_answer_from_memory_once_asked() -> None:
    images, blobs = MemoryImageRepository(), MemoryBlobStore()
    image = stored_picture(images, blobs)
    app, clock = app_with_clock(stack_for("proxy", images, blobs), ttl_s=5)
    url = f"/image/{image.guid}/content?width=128&format=webp"
    with client_of(app) as client:
        first = client.get(url)
        key = rendition_key(image.blob_key, RenditionSpec(128, "webp"))
        assert blobs.get(key) == first.content
        # Another process deletes the image, row then bytes: within the TTL this worker still
        # serves what it holds (facts and bytes), as it does for originals...
        images.delete(image.guid)
        for stored in (image.blob_key, key):
            blobs.delete(stored)
        clock.now += 4.9
        again = client.get(url)
        assert (again.status_code, again.content) == (200, first.content)
        # ...and once the facts expire, the image is gone to every rendition asked.
        clock.now += 0.1
        assert_problem(client.get(url), 404)
        assert_problem(client.get(f"/image/{image.guid}/content?width=64"), 404)


def test_a_delete_here_forgets_renditions_at_once_facts_bytes_and_all() -> None:
    stack = memory_stack()
    generator = stack.generator
    assert isinstance(generator, ScriptedImageGenerator)
    generator.picture = GeneratedImage(picture_png(300, 200), "image/png", 300, 200, "m")
    _, key = stack.container.api_keys().create({"author": "alice"})
    cache = ContentCache(max_entries=100, ttl_s=60, max_bytes=1 << 20, max_item_bytes=1 << 20)
    with client_of(memory_app(stack, content_cache=cache)) as client:
        made = client.post("/image", json={"prompt": "p"}, headers={"X-API-Key": key}).json()
        urls = [f"/image/{made['guid']}/content?width={w}&format=webp" for w in (64, 256)]
        kept = [client.get(url).content for url in urls]
        rendition_keys = [
            rendition_key(made["filename"], RenditionSpec(w, "webp")) for w in (64, 256)
        ]
        assert [cache.data(k, count=False) for k in rendition_keys] == kept

        deleted = client.delete(f"/image/{made['guid']}", headers={"X-API-Key": key})

        assert deleted.status_code == 204
        assert [cache.data(k, count=False) for k in rendition_keys] == [None, None]
        for url in urls:
            assert_problem(client.get(url), 404)
            assert client.head(url).status_code == 404
