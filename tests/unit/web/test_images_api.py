"""The four endpoints through the ASGI app, over in-memory adapters."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from tests.support.fakes import TINY_PNG, ScriptedImageGenerator
from tests.unit.web.conftest import Api

DETAIL_FIELDS = {
    "guid",
    "prompt",
    "filename",
    "tags",
    "author",
    "content_type",
    "width",
    "height",
    "byte_size",
    "model",
    "revised_prompt",
    "created_at",
    "updated_at",
    "content_url",
    "thumbnail_url",
    "placeholder",
}


def assert_problem(response, status: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert {"type", "title", "status", "detail", "instance", "request_id"} <= body.keys()
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_generate_then_read_back_details_list_and_bytes(api: Api) -> None:
    created = api.client.post("/image", json={"prompt": "a fox", "tags": ["Fox"]}, headers=api.auth)
    assert created.status_code == 201, created.text
    detail = created.json()
    assert set(detail) == DETAIL_FIELDS
    assert "id" not in detail
    assert created.headers["location"] == f"/image/{detail['guid']}"
    assert detail["author"] == "alice"
    assert detail["tags"] == ["fox"]
    assert detail["content_url"] == f"/image/{detail['guid']}/content"
    assert datetime.fromisoformat(detail["created_at"]).utcoffset() == timedelta(0)

    fetched = api.client.get(created.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == detail

    listed = api.client.get("/image")
    assert listed.status_code == 200
    assert listed.json() == [detail]

    content = api.client.get(f"/image/{detail['guid']}/content")
    assert content.status_code == 200
    assert content.content == TINY_PNG
    assert content.headers["content-type"] == "image/png"
    assert content.headers["content-length"] == str(len(TINY_PNG))


def test_x_api_key_header_works_too(api: Api) -> None:
    response = api.client.post("/image", json={"prompt": "p"}, headers={"X-API-Key": api.key})
    assert response.status_code == 201


def test_listing_pages_with_link_headers_and_filters(api: Api) -> None:
    bob = api.key_for("bob")
    for n in range(7):
        api.client.post(
            "/image",
            json={"prompt": f"cat {n}", "tags": ["cat"] if n % 2 else []},
            headers=api.auth,
        )
    api.client.post("/image", json={"prompt": "dog", "tags": ["cat"]}, headers=bob)

    seen, url = [], "/image?limit=3"
    while url:
        response = api.client.get(url)
        assert response.status_code == 200
        seen += [d["prompt"] for d in response.json()]
        link = response.headers.get("link")
        match = re.fullmatch(r'<([^>]+)>; rel="next"', link or "")
        url = match.group(1) if match else ""
    assert seen == ["dog"] + [f"cat {n}" for n in reversed(range(7))]

    by_tag = api.client.get("/image", params={"tag": ["CAT"], "author": "alice"}).json()
    assert [d["prompt"] for d in by_tag] == ["cat 5", "cat 3", "cat 1"]
    assert [d["prompt"] for d in api.client.get("/image?q=DOG").json()] == ["dog"]
    assert api.client.get("/image?tag=cat&tag=nope").json() == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"prompt": ""}, 422),
        ({"prompt": "   "}, 422),
        ({"prompt": "x" * 4001}, 422),
        ({"prompt": "ok", "tags": ["bad tag"]}, 422),
        ({"prompt": "ok", "tags": [f"t{i}" for i in range(17)]}, 422),
        ({"prompt": "ok", "tags": "notalist"}, 422),
        ({"prompt": 5}, 422),
        ({}, 422),
        ({"prompt": "ok", "size": "3x3"}, 422),
    ],
)
def test_bad_generation_input_is_a_4xx_problem(
    api: Api, body: dict[str, object], status: int
) -> None:
    assert_problem(api.client.post("/image", json=body, headers=api.auth), status)
    assert isinstance(api.stack.generator, ScriptedImageGenerator)
    assert api.stack.generator.calls == []


def test_non_json_body_is_400(api: Api) -> None:
    response = api.client.post(
        "/image", content=b"{not json", headers={**api.auth, "content-type": "application/json"}
    )
    assert assert_problem(response, 400)["title"] == "Malformed JSON body"


def test_body_over_the_limit_is_413(api: Api) -> None:
    response = api.client.post(
        "/image",
        content=b"x" * (65 * 1024),
        headers={**api.auth, "content-type": "application/json"},
    )
    assert_problem(response, 413)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": ""},
    ],
)
def test_missing_or_wrong_key_is_401(api: Api, headers: dict[str, str]) -> None:
    response = api.client.post("/image", json={"prompt": "p"}, headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_revoked_key_stops_working(api: Api) -> None:
    api.stack.container.api_keys().revoke(api.key.split("_")[1])
    assert_problem(api.client.post("/image", json={"prompt": "p"}, headers=api.auth), 401)


@pytest.mark.parametrize("path", ["/image/not-a-guid", "/image/123/content", "/image/{}x"])
def test_malformed_guid_is_422(api: Api, path: str) -> None:
    assert_problem(api.client.get(path), 422)


@pytest.mark.parametrize("path", [f"/image/{UUID(int=7)}", f"/image/{UUID(int=7)}/content"])
def test_unknown_guid_is_404(api: Api, path: str) -> None:
    assert assert_problem(api.client.get(path), 404)["type"] == "/problems/image-not-found"


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "limit=abc", "cursor=garbage", "tag=bad%20tag", "q="]
)
def test_bad_listing_parameters_are_422(api: Api, query: str) -> None:
    assert_problem(api.client.get(f"/image?{query}"), 422)


def test_unknown_route_and_method_are_problems(api: Api) -> None:
    assert_problem(api.client.get("/nope"), 404)
    response = api.client.delete("/image")
    assert_problem(response, 405)


def test_request_id_is_echoed_when_sane_and_replaced_when_not(api: Api) -> None:
    assert (
        api.client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    replaced = api.client.get("/healthz", headers={"X-Request-ID": "bad id\twith stuff"}).headers[
        "x-request-id"
    ]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)


def test_security_headers_on_every_response(api: Api) -> None:
    for response in (api.client.get("/image"), api.client.get("/nope")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


def test_unexpected_error_is_a_500_problem_without_internals(api: Api) -> None:
    class Exploding(ScriptedImageGenerator):
        async def generate(self, request):  # type: ignore[no-untyped-def]
            raise RuntimeError("secret internal detail /etc/passwd")

    from dependency_injector import providers

    api.stack.container.image_generator.override(providers.Object(Exploding()))
    response = api.client.post("/image", json={"prompt": "p"}, headers=api.auth)
    body = assert_problem(response, 500)
    assert "secret" not in response.text
    assert body["title"] == "Internal server error"


def test_openapi_documents_routes_and_their_problems(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    post = spec["paths"]["/image"]["post"]
    assert {"201", "401", "422", "429", "502", "503", "504"} <= set(post["responses"])
    assert "application/problem+json" in post["responses"]["401"]["content"]
    assert "404" in spec["paths"]["/image/{guid}"]["get"]["responses"]
    assert api.client.get("/docs").status_code == 200
