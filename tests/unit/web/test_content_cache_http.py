"""Content answered from the worker's memory (the fast path) is the route's answer, byte for
byte, in every delivery mode; deletes are seen at once here and within the TTL elsewhere."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from pixyproxy.adapters.driven.memory import MemoryBlobStore, MemoryImageRepository
from pixyproxy.adapters.driving.web.content.cache import ContentCache
from pixyproxy.adapters.driving.web.content.fast_path import check_route_has_no_dependencies
from pixyproxy.adapters.driving.web.deps import CurrentAuthor
from pixyproxy.app.settings import Settings
from pixyproxy.domain.models import Image
from tests.support.app import MemoryStack, memory_app, memory_stack
from tests.support.builders import make_image
from tests.support.fakes import TINY_PNG, PresigningBlobStore
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
