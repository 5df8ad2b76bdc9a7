"""Several pixyproxy processes (and workers) sharing one database: what one of them learns,
every other one honours at once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.api_client import assert_problem, bearer
from tests.support.images_api import TEST_API_KEY, ImagesApiServer
from tests.support.service import ServiceProcess

pytestmark = pytest.mark.e2e

UPSTREAM_DELAY_S = 1.0


def _services(
    tmp_path: Path, count: int, env: dict[str, str], *serve_args: str
) -> Iterator[list[ServiceProcess]]:
    """`count` services on the same database and image directory, each with its own log."""
    shared = {"PIXYPROXY_LOCAL_DIR": str(tmp_path / "images"), **env}
    with ExitStack() as stack:
        services = []
        for n in range(count):
            data_dir = tmp_path / f"process-{n}"
            data_dir.mkdir()
            services.append(stack.enter_context(ServiceProcess(data_dir, shared)))
        for service in services:
            service.start(*serve_args)
        yield services


def _concurrently(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run every call on its own thread, released together."""
    barrier = threading.Barrier(len(calls))
    answers: list[httpx.Response | BaseException | None] = [None] * len(calls)

    def run(n: int) -> None:
        barrier.wait()
        try:
            answers[n] = calls[n]()
        except BaseException as e:  # reported below, with the others
            answers[n] = e

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    failed = [a for a in answers if not isinstance(a, httpx.Response)]
    assert failed == []
    return [a for a in answers if isinstance(a, httpx.Response)]


@pytest.fixture(
    params=[pytest.param("mysql-two-processes", marks=pytest.mark.mysql), "sqlite-two-workers"]
)
def idempotency_services(
    request: pytest.FixtureRequest, tmp_path: Path, images_api: ImagesApiServer
) -> Iterator[list[ServiceProcess]]:
    """Where concurrent retries land: two processes on MySQL, or one with two workers on
    SQLite (the kernel spreads the connections between the workers)."""
    images_api.delay_s = UPSTREAM_DELAY_S
    env = {
        "PIXYPROXY_GENERATOR": "openai",
        "OPENAI_API_KEY": TEST_API_KEY,
        "OPENAI_BASE_URL": images_api.base_url,
        # Long enough for every duplicate to outwait the first generation.
        "PIXYPROXY_IDEMPOTENCY_WAIT_S": "15",
    }
    if request.param == "mysql-two-processes":
        env["PIXYPROXY_DATABASE_URL"] = request.getfixturevalue("make_mysql_database")()
        yield from _services(tmp_path, 2, env)
    else:
        env["PIXYPROXY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'shared.db'}"
        yield from _services(tmp_path, 1, env, "--workers", "2")


def test_concurrent_retries_across_processes_generate_once(
    idempotency_services: list[ServiceProcess], images_api: ImagesApiServer
) -> None:
    key = idempotency_services[0].create_key("retrier")
    headers = {**bearer(key), "Idempotency-Key": f"order-{uuid.uuid4()}"}
    body = {"prompt": "a lighthouse, once", "tags": ["sea"]}

    def post(service: ServiceProcess, json: object = body) -> Callable[[], httpx.Response]:
        # A client of its own per call: a new connection, so workers share the load too.
        return lambda: httpx.post(
            f"{service.base_url}/image", json=json, headers=headers, timeout=30
        )

    retries = [post(idempotency_services[n % len(idempotency_services)]) for n in range(12)]
    answers = _concurrently(retries)

    assert [a.status_code for a in answers] == [201] * len(answers), [a.text for a in answers]
    assert len({a.json()["guid"] for a in answers}) == 1
    assert images_api.call_count == 1
    guid = answers[0].json()["guid"]
    for service in idempotency_services:
        assert post(service)().json()["guid"] == guid
        content = httpx.get(f"{service.base_url}/image/{guid}/content", timeout=10)
        assert len(content.content) == answers[0].json()["byte_size"]
        reused = post(service, {**body, "prompt": "another lighthouse"})()
        assert assert_problem(reused, 422)["type"] == "/problems/idempotency-key-reused"
    assert images_api.call_count == 1


@pytest.mark.mysql
def test_a_revoked_key_stops_working_at_once_in_every_process_and_worker(
    tmp_path: Path, make_mysql_database: Callable[[], str]
) -> None:
    env = {"PIXYPROXY_DATABASE_URL": make_mysql_database()}
    with ExitStack() as stack:
        two_workers = stack.enter_context(ServiceProcess(tmp_path / "a", env))
        one_worker = stack.enter_context(ServiceProcess(tmp_path / "b", env))
        for service in (two_workers, one_worker):
            service.data_dir.mkdir()
        doomed, spared = two_workers.create_key("doomed"), two_workers.create_key("spared")
        two_workers.start("--workers", "2")
        one_worker.start()
        # Deleting an unknown image answers 404 to a valid key and 401 to any other.
        probe = f"/image/{uuid.uuid4()}"
        kept_alive = [
            stack.enter_context(httpx.Client(base_url=s.base_url, timeout=10))
            for s in (two_workers, one_worker, two_workers)
        ]

        def fresh(service: ServiceProcess, key: str) -> int:
            return httpx.delete(
                service.base_url + probe, headers=bearer(key), timeout=10
            ).status_code

        for client in kept_alive:
            assert client.delete(probe, headers=bearer(doomed)).status_code == 404
        assert [fresh(two_workers, doomed) for _ in range(8)] == [404] * 8

        prefix = doomed.split("_")[1]
        assert "revoked 1 key" in two_workers.cli("keys", "revoke", prefix).stdout

        for client in kept_alive:
            assert_problem(client.delete(probe, headers=bearer(doomed)), 401)
        assert [fresh(two_workers, doomed) for _ in range(8)] == [401] * 8
        assert fresh(one_worker, doomed) == 401
        assert [fresh(s, spared) for s in (two_workers, one_worker)] == [404, 404]


CONTENT_TTL_S = 1.0


def test_a_delete_in_one_process_is_a_404_in_another_within_the_content_cache_ttl(
    tmp_path: Path,
) -> None:
    env = {
        "PIXYPROXY_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "PIXYPROXY_CONTENT_CACHE_TTL_S": str(CONTENT_TTL_S),
    }
    with ExitStack() as stack:
        deleter, other = stack.enter_context(contextmanager(_services)(tmp_path, 2, env))
        key = deleter.create_key("alice")
        http = stack.enter_context(httpx.Client(timeout=10))
        made = []
        for prompt in ("sent", "headed"):
            posted = http.post(
                f"{deleter.base_url}/image", json={"prompt": prompt}, headers=bearer(key)
            )
            assert posted.status_code == 201, posted.text
            made.append(posted.json())
        sent, headed = (f"/image/{m['guid']}/content" for m in made)
        # The other process holds both: the first with its bytes, the second without.
        assert http.get(other.base_url + sent).status_code == 200
        assert http.head(other.base_url + headed).status_code == 200
        for m in made:
            deleted = http.delete(f"{deleter.base_url}/image/{m['guid']}", headers=bearer(key))
            assert deleted.status_code == 204
        gone_at = time.monotonic()

        assert_problem(http.get(deleter.base_url + sent), 404)  # at once where deleted
        # Bytes the other process does not hold show the image gone at once: never a 500.
        assert_problem(http.get(other.base_url + headed), 404)
        statuses = []
        while True:
            status = http.get(other.base_url + sent).status_code
            statuses.append(status)
            if status == 404:
                break
            assert time.monotonic() - gone_at < CONTENT_TTL_S + 2, statuses
            time.sleep(0.05)
        assert set(statuses) <= {200, 404}, statuses
        assert http.head(other.base_url + headed).status_code == 404
