"""pixyproxy as a process on MySQL: the four endpoints, and what hostile clients send it.

Hostile text must come back exactly as sent (the database never reads it as SQL or as a LIKE
pattern), path-shaped GUIDs must never reach the file system, and every response kind carries
the security headers.
"""

from __future__ import annotations

import http.client
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_service_process import exercise_four_endpoints
from tests.support.api_client import (
    PROBLEM_MEDIA_TYPE,
    SECURITY_HEADERS,
    all_images,
    assert_problem,
    assert_security_headers,
    bearer,
)
from tests.support.service import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.mysql]


def test_four_endpoints_on_mysql(tmp_path: Path, make_mysql_database: Callable[[], str]) -> None:
    with ServiceProcess(tmp_path, {"PIXYPROXY_DATABASE_URL": make_mysql_database()}) as service:
        service.start()
        service.wait_ready()
        exercise_four_endpoints(service)


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, make_mysql_database: Callable[[], str]
) -> Iterator[ServiceProcess]:
    """One service on a fresh MySQL database for the tests below; each uses its own author."""
    data_dir = tmp_path_factory.mktemp("hostile")
    with ServiceProcess(data_dir, {"PIXYPROXY_DATABASE_URL": make_mysql_database()}) as service:
        service.start()
        yield service


@pytest.fixture
def client(service: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        yield http


def _author(service: ServiceProcess) -> tuple[str, str]:
    """A new author and its key."""
    author = f"author-{secrets.token_hex(4)}"
    return author, service.create_key(author)


HOSTILE_PROMPTS = [
    """it's a "quoted" `thing` with 'single' quotes""",
    "100% of _all_ cats",
    "50%_off",
    "back\\slash \\\\ double, \\n not a newline, \\' \\% \\_",
    "'; DROP TABLE images; --",
    "Robert'); DELETE FROM api_keys WHERE ('1'='1",
    '" OR 1=1 -- x',
    "ünïcödé 中文 العربية עברית ﷽",
    "emoji 🦜🏳️‍🌈👩🏽‍💻 and fraktur "
    "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522, outside the BMP",
    "line one\nline two\ttabbed\r\nwindows",
    "🦜" * 4000,
    "x" * 3999 + "%",
]


def test_hostile_prompts_are_stored_verbatim_and_found_literally(
    service: ServiceProcess, client: httpx.Client
) -> None:
    author, key = _author(service)
    made: dict[str, str] = {}
    for prompt in HOSTILE_PROMPTS:
        response = client.post("/image", json={"prompt": prompt}, headers=bearer(key))
        assert response.status_code == 201, response.text
        assert response.json()["prompt"] == prompt
        made[response.json()["guid"]] = prompt

    for guid, prompt in made.items():
        assert client.get(f"/image/{guid}").json()["prompt"] == prompt
    listed = {d["guid"]: d["prompt"] for d in all_images(client, author=author)}
    assert listed == made

    # `%`, `_` and `\` are literal characters to the search, never LIKE wildcards or escapes.
    for needle in ["%", "_", "100%", "0%_", "\\", "\\%", "\\_", "'", '"', "; DROP", "--", "🦜"]:
        found = {d["guid"] for d in all_images(client, author=author, q=needle)}
        expected = {g for g, p in made.items() if needle.lower() in p.lower()}
        assert found == expected, needle
    assert all_images(client, author=author, q="🐧") == []


def test_tags_outside_the_rules_are_refused_and_tag_filters_match_exactly(
    service: ServiceProcess, client: httpx.Client
) -> None:
    author, key = _author(service)
    for tag in ["a'b", "%", "_x", "../etc", "a b", "drop;table", "🦜", "x" * 33, "a%", "UPPER'"]:
        refused = client.post("/image", json={"prompt": "p", "tags": [tag]}, headers=bearer(key))
        assert_problem(refused, 422)
        assert_problem(client.get("/image", params={"tag": tag}), 422)
    assert all_images(client, author=author) == []

    kept = client.post(
        "/image",
        json={"prompt": "p", "tags": ["under_score", "Da-Sh", "0lead"]},
        headers=bearer(key),
    )
    assert kept.json()["tags"] == ["under_score", "da-sh", "0lead"]
    lookalike = client.post(
        "/image", json={"prompt": "p", "tags": ["underxscore"]}, headers=bearer(key)
    )
    assert lookalike.status_code == 201
    matched = all_images(client, author=author, tag="under_score")
    assert [d["guid"] for d in matched] == [kept.json()["guid"]]


CANARY = f"CANARY-{secrets.token_hex(8)}"
TRAVERSALS = [
    "/image/..%2F..%2Fetc%2Fpasswd",
    "/image/..%2F..%2Fetc%2Fpasswd/content",
    "/image/..%2Fcanary.png/content",
    "/image/%2e%2e%2fcanary.png/content",
    "/image/%2E%2E%2F%2E%2E%2Fcanary.png",
    "/image/..%5Ccanary.png/content",
    "/image/../canary.png/content",
    "/image/../../canary.png",
    "/image/%252e%252e%252fcanary.png/content",
    "/image/canary.png/content",
    "/image/.%00./content",
    "/image/%2Fetc%2Fpasswd/content",
    "/image//etc/passwd/content",
    "/image/00000000-0000-0000-0000-000000000000%2F..%2F..%2Fcanary.png/content",
    "/image/00000000-0000-0000-0000-000000000000/../../canary.png",
]


def _raw_get(service: ServiceProcess, target: str) -> tuple[int, dict[str, str], bytes]:
    """GET `target` exactly as written: httpx would resolve the dot segments first."""
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("target", TRAVERSALS)
def test_path_shaped_guids_never_reach_the_file_system(
    service: ServiceProcess, target: str
) -> None:
    # A file where a traversal out of the image directory would land.
    (service.data_dir / "canary.png").write_text(CANARY)
    status, headers, body = _raw_get(service, target)
    assert status in (404, 422), (status, body)
    assert headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert CANARY.encode() not in body and b"root:" not in body
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value


def _every_kind_of_response(
    service: ServiceProcess, client: httpx.Client
) -> dict[str, httpx.Response]:
    _, key = _author(service)
    _, other_key = _author(service)
    made = client.post("/image", json={"prompt": "headers"}, headers=bearer(key))
    guid, content = made.json()["guid"], f"/image/{made.json()['guid']}/content"
    etag = client.get(content).headers["etag"]
    detail_etag = client.get(f"/image/{guid}").headers["etag"]
    doomed = client.post("/image", json={"prompt": "doomed"}, headers=bearer(key)).json()["guid"]

    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    responses: dict[str, Any] = {
        "201 created": made,
        "200 list": client.get("/image"),
        "200 details": client.get(f"/image/{guid}"),
        "200 content": client.get(content),
        "200 head": client.head(content),
        "200 healthz": client.get("/healthz"),
        "200 readyz": client.get("/readyz"),
        "206 range": client.get(content, headers={"Range": "bytes=0-9"}),
        "304 content": client.get(content, headers={"If-None-Match": etag}),
        "304 details": client.get(f"/image/{guid}", headers={"If-None-Match": detail_etag}),
        "400 malformed json": client.post(
            "/image",
            content=b"{not json",
            headers={**bearer(key), "Content-Type": "application/json"},
        ),
        "401 no key": client.post("/image", json={"prompt": "p"}),
        "401 bad key": client.post("/image", json={"prompt": "p"}, headers=bearer("pxp_nope")),
        "403 not the author": client.delete(f"/image/{guid}", headers=bearer(other_key)),
        "404 unknown guid": client.get("/image/00000000-0000-0000-0000-000000000000"),
        "404 no route": client.get("/nowhere"),
        "405 method": client.put(f"/image/{guid}"),
        "413 declared": client.post("/image", json={"prompt": "x" * 70_000}, headers=bearer(key)),
        "413 streamed": client.post(
            "/image",
            content=chunks(),
            headers={**bearer(key), "Content-Type": "application/json"},
        ),
        "416 range": client.get(content, headers={"Range": "bytes=999999-"}),
        "422 invalid": client.post("/image", json={"prompt": ""}, headers=bearer(key)),
        "204 deleted": client.delete(f"/image/{doomed}", headers=bearer(key)),
    }
    return responses


def test_every_kind_of_response_carries_the_security_headers(
    service: ServiceProcess, client: httpx.Client
) -> None:
    responses = _every_kind_of_response(service, client)
    for name, response in responses.items():
        expected_status = int(name.split()[0])
        assert response.status_code == expected_status, (name, response.text)
        assert_security_headers(response)
        if expected_status >= 400:
            assert_problem(response, expected_status)
