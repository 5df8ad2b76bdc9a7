"""What an attacker and a careful client author tried (issue 12), over HTTP. Collected again in
tests/integration/web so it runs on SQLite and MySQL too."""

from __future__ import annotations

import base64
from typing import Any
from uuid import UUID

import pytest

from tests.unit.web.conftest import Api
from tests.unit.web.test_images_api import assert_problem

GUID = UUID("12345678-abcd-4678-9abc-def012345678")


def created(api: Api, **body: Any) -> dict[str, Any]:
    response = api.client.post("/image", json={"prompt": "p", **body}, headers=api.auth)
    assert response.status_code == 201, response.text
    detail: dict[str, Any] = response.json()
    return detail


def assert_invalid(response: Any, *locs: list[Any]) -> dict[str, Any]:
    """A 422 whose `errors[]` names each of `locs` (and each error has a message)."""
    body: dict[str, Any] = assert_problem(response, 422)
    assert body["errors"], body
    assert all(isinstance(e["msg"], str) and e["msg"] for e in body["errors"])
    named = [e["loc"] for e in body["errors"]]
    for loc in locs:
        assert loc in named, (loc, named)
    return body


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# --- item 3: cursors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of(f"1|0001-01-01T00:00:00+14:00|{GUID}"),
        cursor_of(f"1|9999-12-31T23:59:59-14:00|{GUID}"),
        cursor_of(f"1|0001-01-01T00:00:00+00:00|{GUID}"),
        cursor_of(f"1|9999-12-31T23:59:59.999999+00:00|{GUID}") + "\x00",
        cursor_of(f"1|2026-03-01T00:00:00+00:00|{GUID}") + "==",
        cursor_of(f"1|2026-03-01T00:00:00+00:00|{GUID}\x00"),
        "A" * 5000,
        "",
    ],
    ids=range(8),
)
def test_a_cursor_we_did_not_issue_is_422_invalid_cursor(api: Api, cursor: str) -> None:
    created(api)
    body = assert_invalid(api.client.get("/image", params={"cursor": cursor}), ["query", "cursor"])
    assert body["type"] == "/problems/invalid-cursor"


def test_the_extreme_times_a_cursor_may_carry_are_served(api: Api) -> None:
    for when in ("9999-12-31T23:59:59.999999+00:00", "1970-01-01T00:00:00+00:00"):
        cursor = cursor_of(f"1|{when}|{GUID}")
        response = api.client.get("/image", params={"cursor": cursor})
        assert response.status_code == 200, response.text


# --- item 5: a trailing slash, and the Host header ---------------------------------------------


def test_a_trailing_slash_is_served_in_place_not_redirected(api: Api) -> None:
    made = api.client.post("/image/", json={"prompt": "slash"}, headers=api.auth)
    assert made.status_code == 201, made.text
    listed = api.client.get("/image/", follow_redirects=False)
    assert listed.status_code == 200
    assert [d["guid"] for d in listed.json()] == [made.json()["guid"]]
    guid = made.json()["guid"]
    assert api.client.get(f"/image/{guid}/", follow_redirects=False).status_code == 200
    assert api.client.get(f"/image/{guid}/content/", follow_redirects=False).status_code == 200


def test_no_answer_names_the_host_header(api: Api) -> None:
    guid = created(api, tags=["a"])["guid"]
    created(api, tags=["a"])
    forged = {"Host": "evil.example"}
    for method, path in [
        ("GET", "/image/"),
        ("GET", "/image?limit=1"),
        ("GET", "/image?limit=1&tag=a&envelope=true"),
        ("GET", f"/image/{guid}"),
        ("GET", f"/image/{guid}/content"),
        ("GET", "/nope/"),
        ("DELETE", "/image"),
        ("GET", "/docs"),
        ("GET", "/docs/"),
        ("GET", "/redoc"),
        ("GET", "/openapi.json"),
    ]:
        response = api.client.request(method, path, headers=forged, follow_redirects=False)
        assert response.status_code < 300 or response.status_code >= 400, (path, response)
        assert "evil.example" not in str(response.headers), (path, response.headers)
        if "json" in response.headers.get("content-type", ""):
            assert "evil.example" not in response.text, path


# --- item 6: control characters in filters -----------------------------------------------------


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("q=%00", ["query", "q"]),
        ("q=a%00b", ["query", "q"]),
        ("q=%1b%5b31m", ["query", "q"]),
        ("author=al%00ice", ["query", "author"]),
        ("tag=a%00", ["query", "tag", 0]),
        ("tag=ok&tag=%0d%0a", ["query", "tag", 1]),
    ],
)
def test_control_characters_in_filters_are_422(api: Api, query: str, loc: list[Any]) -> None:
    created(api)
    assert_invalid(api.client.get(f"/image?{query}"), loc)


# --- item 7: HEAD, and Allow -------------------------------------------------------------------


def test_head_works_wherever_get_does(api: Api) -> None:
    guid = created(api)["guid"]
    for path in [
        f"/image/{guid}",
        "/image",
        "/image?limit=1",
        "/healthz",
        "/readyz",
        "/capabilities",
        "/problems/image-not-found",
        f"/image/{guid}/content",
        "/openapi.json",
        "/docs",
    ]:
        get, head = api.client.get(path), api.client.head(path)
        assert (head.status_code, get.status_code) == (200, 200), path
        assert head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path
        if "etag" in get.headers:
            assert head.headers["etag"] == get.headers["etag"], path
    missing = api.client.head(f"/image/{UUID(int=1)}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/image/{guid}", "GET, HEAD, PATCH, DELETE"),
        ("POST", "/image/{guid}", "GET, HEAD, PATCH, DELETE"),
        ("POST", "/image/{guid}/content", "GET, HEAD"),
        ("DELETE", "/image", "GET, HEAD, POST"),
        ("PUT", "/image/", "GET, HEAD, POST"),
        ("POST", "/healthz", "GET, HEAD"),
    ],
)
def test_405_allow_lists_every_method_of_the_path(
    api: Api, method: str, path: str, allowed: str
) -> None:
    guid = created(api)["guid"]
    response = api.client.request(method, path.format(guid=guid), headers=api.auth)
    body = assert_problem(response, 405)
    assert response.headers["allow"] == allowed
    assert body["type"] == "/problems/method-not-allowed"


# --- item 9: a prompt at the limit once trimmed ------------------------------------------------


def test_a_prompt_of_the_maximum_length_with_surrounding_spaces_is_accepted(api: Api) -> None:
    detail = created(api, prompt="  " + "x" * 4000 + " \n")
    assert detail["prompt"] == "x" * 4000
    assert_invalid(
        api.client.post("/image", json={"prompt": " " + "x" * 4001}, headers=api.auth),
        ["body", "prompt"],
    )


# --- item 12: what a 422 echoes ----------------------------------------------------------------


def test_a_422_does_not_echo_a_huge_value(api: Api) -> None:
    huge = "x" * 60_000
    for response in (
        api.client.post("/image", json={"prompt": "p", "tags": [huge]}, headers=api.auth),
        api.client.post("/image", json={"prompt": "p", "size": huge}, headers=api.auth),
        api.client.get("/image", params={"tag": huge[:30_000]}),
        api.client.get("/image", params={"q": huge[:30_000]}),
    ):
        assert response.status_code == 422, response.text
        assert len(response.content) < 3000, len(response.content)
        assert "x" * 100 not in response.text


# --- item 13: unknown query parameters ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "unknown"),
    [
        ("GET", "/image?tags=x", ["tags"]),
        ("GET", "/image?limit=5&Limit=6&colour=red", ["Limit", "colour"]),
        ("GET", "/image/{guid}?download=1", ["download"]),
        ("GET", "/image/{guid}/content?w=10", ["w"]),
        ("HEAD", "/image/{guid}/content?w=10", ["w"]),
        ("POST", "/image?dry_run=true", ["dry_run"]),
        ("DELETE", "/image/{guid}?force=1", ["force"]),
        ("GET", "/healthz?x=1", ["x"]),
    ],
)
def test_unknown_query_parameters_are_422_naming_them(
    api: Api, method: str, path: str, unknown: list[str]
) -> None:
    guid = created(api)["guid"]
    response = api.client.request(
        method, path.format(guid=guid), json={"prompt": "p"}, headers=api.auth
    )
    assert response.status_code == 422, response.text
    if method != "HEAD":
        body = assert_invalid(response, *(["query", name] for name in unknown))
        assert all(name in body["detail"] for name in unknown)
    assert api.client.get(f"/image/{guid}").status_code == 200  # nothing was deleted


# --- item 14: decisions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt", ["\u200b", "\u200b\u200c\u200d", " \u202e\u2066 \ufeff ", "\u2060\u00ad\u200f"]
)
def test_a_prompt_of_only_invisible_characters_is_refused(api: Api, prompt: str) -> None:
    response = api.client.post("/image", json={"prompt": prompt}, headers=api.auth)
    assert_invalid(response, ["body", "prompt"])


def test_invisible_characters_within_a_visible_prompt_are_kept(api: Api) -> None:
    assert created(api, prompt="a \u200d b")["prompt"] == "a \u200d b"


def test_two_different_keys_are_400_and_the_same_key_twice_is_fine(api: Api) -> None:
    other = api.key_for("bob")["Authorization"].removeprefix("Bearer ")
    both = {"Authorization": f"Bearer {api.key}", "X-API-Key": other}
    response = api.client.post("/image", json={"prompt": "p"}, headers=both)
    assert assert_problem(response, 400)["type"] == "/problems/conflicting-credentials"
    same = {"Authorization": f"Bearer {api.key}", "X-API-Key": api.key}
    assert api.client.post("/image", json={"prompt": "p"}, headers=same).status_code == 201


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_not_sent_as_json_is_415(api: Api, content_type: str | None) -> None:
    headers = {**api.auth, **({"Content-Type": content_type} if content_type else {})}
    response = api.client.post("/image", content=b'{"prompt": "p"}', headers=headers)
    body = assert_problem(response, 415)
    assert body["type"] == "/problems/unsupported-media-type"
    guid = created(api)["guid"]
    patch = api.client.patch(f"/image/{guid}", content=b'{"tags": []}', headers=headers)
    assert_problem(patch, 415)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"],
)
def test_json_media_types_are_accepted(api: Api, content_type: str) -> None:
    headers = {**api.auth, "Content-Type": content_type}
    assert api.client.post("/image", content=b'{"prompt": "p"}', headers=headers).status_code == 201


# --- one renderer: every 4xx the same shape; every 422 with errors[] ---------------------------


def test_both_kinds_of_oversized_body_are_the_same_problem(api: Api) -> None:
    declared = api.client.post(
        "/image",
        content=b"x" * (65 * 1024),
        headers={**api.auth, "content-type": "application/json"},
    )

    def chunks() -> Any:
        yield b"x" * (40 * 1024)
        yield b"x" * (40 * 1024)

    chunked = api.client.post(
        "/image", content=chunks(), headers={**api.auth, "content-type": "application/json"}
    )
    first, second = assert_problem(declared, 413), assert_problem(chunked, 413)
    assert first["type"] == second["type"] == "/problems/payload-too-large"
    assert first["title"] == second["title"]


@pytest.mark.parametrize(
    ("body", "locs"),
    [
        ({"prompt": "   "}, [["body", "prompt"]]),
        ({"prompt": "ok", "tags": ["bad tag"]}, [["body", "tags", 0]]),
        (
            {"prompt": "\u200b", "tags": ["ok", "bad tag", "-x"], "colour": 1},
            [["body", "prompt"], ["body", "tags", 1], ["body", "tags", 2], ["body", "colour"]],
        ),
        (
            {"prompt": "ok", "size": "3x3", "quality": "ultra"},
            [["body", "size"], ["body", "quality"]],
        ),
    ],
)
def test_every_422_lists_all_its_errors(
    api: Api, body: dict[str, Any], locs: list[list[Any]]
) -> None:
    assert_invalid(api.client.post("/image", json=body, headers=api.auth), *locs)


def test_domain_422s_say_where_the_bad_value_was(api: Api) -> None:
    guid = created(api)["guid"]
    assert_invalid(api.client.get("/image", params={"author": "bad author"}), ["query", "author"])
    assert_invalid(
        api.client.patch(f"/image/{guid}", json={"tags": ["bad tag"]}, headers=api.auth),
        ["body", "tags", 0],
    )
    headers = {**api.auth, "Idempotency-Key": "k1"}
    assert api.client.post("/image", json={"prompt": "a"}, headers=headers).status_code == 201
    reused = api.client.post("/image", json={"prompt": "b"}, headers=headers)
    assert_invalid(reused, ["header", "idempotency-key"])
    bad_key = [(k.encode(), v.encode()) for k, v in api.auth.items()]
    bad_key.append((b"Idempotency-Key", "\u00e9t\u00e9".encode("latin-1")))
    assert_invalid(
        api.client.post("/image", json={"prompt": "a"}, headers=bad_key),
        ["header", "idempotency-key"],
    )


def test_problem_types_resolve(api: Api) -> None:
    for path in ("/nope", f"/image/{UUID(int=5)}", "/image?cursor=x"):
        body = api.client.get(path).json()
        described = api.client.get(body["type"])
        assert described.status_code == 200, body["type"]
        assert described.json()["type"] == body["type"]
        assert described.json()["status"] == body["status"]
    assert_problem(api.client.get("/problems/no-such-problem"), 404)
