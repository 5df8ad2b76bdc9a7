"""Caching, conditional and range requests, idempotent POST and owner edits, over HTTP."""

from __future__ import annotations

import hashlib

import pytest

from tests.support.fakes import TINY_PNG, ScriptedImageGenerator, holds
from tests.unit.web.conftest import Api
from tests.unit.web.test_images_api import assert_problem


def created(api: Api, **body: object) -> dict[str, object]:
    response = api.client.post("/image", json={"prompt": "p", **body}, headers=api.auth)
    assert response.status_code == 201, response.text
    detail: dict[str, object] = response.json()
    return detail


def test_content_is_cacheable_forever_with_a_strong_etag(api: Api) -> None:
    guid = created(api)["guid"]
    response = api.client.get(f"/image/{guid}/content")
    assert response.headers["etag"] == f'"{hashlib.sha256(TINY_PNG).hexdigest()}"'
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == f'inline; filename="{guid}.png"'
    assert response.headers["accept-ranges"] == "bytes"


def test_if_none_match_gives_304_without_reading_the_bytes(api: Api) -> None:
    guid = created(api)["guid"]
    # HEAD, not GET: a GET would leave the bytes in the worker's memory, which serves them
    # (see test_content_cache_http) as long as the row exists.
    etag = api.client.head(f"/image/{guid}/content").headers["etag"]
    api.stack.blobs.delete(f"{guid}.png")  # the 304 must not need them
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = api.client.get(f"/image/{guid}/content", headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
    assert (
        api.client.get(f"/image/{guid}/content", headers={"If-None-Match": '"x"'}).status_code
        == 500
    )


def test_head_gives_headers_alone(api: Api) -> None:
    guid = created(api)["guid"]
    response = api.client.head(f"/image/{guid}/content")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(TINY_PNG))
    assert response.headers["content-type"] == "image/png"
    assert "etag" in response.headers


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, len(TINY_PNG) - 1),
        ("bytes=-5", len(TINY_PNG) - 5, len(TINY_PNG) - 1),
        ("bytes=3-100000", 3, len(TINY_PNG) - 1),
    ],
)
def test_single_range_gives_206(api: Api, range_header: str, start: int, end: int) -> None:
    guid = created(api)["guid"]
    response = api.client.get(f"/image/{guid}/content", headers={"Range": range_header})
    assert response.status_code == 206
    assert response.content == TINY_PNG[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(TINY_PNG)}"
    assert response.headers["content-length"] == str(end - start + 1)


@pytest.mark.parametrize("range_header", [f"bytes={len(TINY_PNG)}-", "bytes=-0"])
def test_unsatisfiable_range_gives_416(api: Api, range_header: str) -> None:
    guid = created(api)["guid"]
    response = api.client.get(f"/image/{guid}/content", headers={"Range": range_header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(TINY_PNG)}"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 416


HUGE = "9" * 4400  # past Python's 4300-digit limit for int()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    ("range_header", "status"),
    [
        (f"bytes={HUGE}-", 416),
        (f"bytes={HUGE}-{HUGE}", 416),
        (f"bytes=-{HUGE}", 206),  # a suffix longer than the image: all of it
        (f"bytes=0-{HUGE}", 206),
        (f"bytes=0{HUGE}-", 416),
    ],
)
def test_range_numbers_of_any_length_are_answered_not_a_500(
    api: Api, method: str, range_header: str, status: int
) -> None:
    guid = created(api)["guid"]
    response = api.client.request(method, f"/image/{guid}/content", headers={"Range": range_header})
    assert response.status_code == status
    if status == 206:
        assert response.headers["content-range"] == f"bytes 0-{len(TINY_PNG) - 1}/{len(TINY_PNG)}"
    else:
        assert response.headers["content-range"] == f"bytes */{len(TINY_PNG)}"


@pytest.mark.parametrize("range_header", ["bytes=0-1,3-4", "items=0-1", "bytes=5-1", "bytes=-"])
def test_ranges_we_do_not_serve_give_the_whole_image(api: Api, range_header: str) -> None:
    guid = created(api)["guid"]
    response = api.client.get(f"/image/{guid}/content", headers={"Range": range_header})
    assert response.status_code == 200
    assert response.content == TINY_PNG


def test_if_range_with_another_etag_gives_the_whole_image(api: Api) -> None:
    guid = created(api)["guid"]
    response = api.client.get(
        f"/image/{guid}/content", headers={"Range": "bytes=0-1", "If-Range": '"stale"'}
    )
    assert response.status_code == 200


def test_details_have_an_etag_that_changes_with_the_tags(api: Api) -> None:
    guid = created(api, tags=["a"])["guid"]
    first = api.client.get(f"/image/{guid}")
    etag = first.headers["etag"]
    assert api.client.get(f"/image/{guid}", headers={"If-None-Match": etag}).status_code == 304
    patched = api.client.patch(f"/image/{guid}", json={"tags": ["b"]}, headers=api.auth)
    assert patched.status_code == 200
    assert patched.json()["tags"] == ["b"]
    assert patched.json()["updated_at"] > first.json()["updated_at"]
    fresh = api.client.get(f"/image/{guid}", headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.headers["etag"] != etag


def test_only_the_author_may_patch_or_delete(api: Api) -> None:
    guid = created(api)["guid"]
    mallory = api.key_for("mallory")
    assert_problem(api.client.patch(f"/image/{guid}", json={"tags": []}, headers=mallory), 403)
    assert_problem(api.client.delete(f"/image/{guid}", headers=mallory), 403)
    assert_problem(api.client.delete(f"/image/{guid}"), 401)
    assert_problem(
        api.client.patch(f"/image/{guid}", json={"tags": ["bad tag"]}, headers=api.auth), 422
    )
    assert api.client.delete(f"/image/{guid}", headers=api.auth).status_code == 204
    assert_problem(api.client.get(f"/image/{guid}"), 404)
    assert_problem(api.client.get(f"/image/{guid}/content"), 404)
    assert not holds(api.stack.blobs, f"{guid}.png")
    assert_problem(api.client.delete(f"/image/{guid}", headers=api.auth), 404)


def test_idempotency_key_over_http(api: Api) -> None:
    headers = {**api.auth, "Idempotency-Key": "order-42"}
    first = api.client.post("/image", json={"prompt": "p"}, headers=headers)
    again = api.client.post("/image", json={"prompt": "p"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert first.headers["location"] == again.headers["location"]
    assert isinstance(api.stack.generator, ScriptedImageGenerator)
    assert len(api.stack.generator.calls) == 1
    assert_problem(api.client.post("/image", json={"prompt": "other"}, headers=headers), 422)
    long_key = {**api.auth, "Idempotency-Key": "x" * 256}
    assert_problem(api.client.post("/image", json={"prompt": "p"}, headers=long_key), 422)
