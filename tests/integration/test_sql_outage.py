"""A database that is down, silent, cut off mid-call or out of connections makes every call
raise `RepositoryUnavailable` within the configured timeouts, and the same repository works
again once the database is back."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa

from pixyproxy.adapters.driven.sql import (
    SqlApiKeyStore,
    SqlImageRepository,
    SqlSchemaMigrator,
    create_engine_from_url,
)
from pixyproxy.domain.exceptions import ImageNotFound, RepositoryUnavailable
from tests.integration.test_sql_image_repository_contract import T0, make_image
from tests.support.mysql import render_url
from tests.support.tcp_proxy import TcpProxy

SECRET = "hunter2-do-not-print"


def _elapsed(call: Callable[[], object]) -> tuple[float, RepositoryUnavailable]:
    started = time.monotonic()
    with pytest.raises(RepositoryUnavailable) as info:
        call()
    return time.monotonic() - started, info.value


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def _every_call(engine: sa.Engine) -> list[Callable[[], object]]:
    images, keys = SqlImageRepository(engine), SqlApiKeyStore(engine)
    return [
        images.ping,
        keys.ping,
        lambda: images.get(uuid4()),
        lambda: images.add(make_image()),
        lambda: list(images.iter_blob_keys()),
        keys.list,
        lambda: SqlSchemaMigrator(engine).ensure_current(auto_migrate=True),
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there now: connections are refused


def test_a_refused_connection_is_unavailable_and_never_shows_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"mysql+pymysql://app:{SECRET}@127.0.0.1:{_free_port()}/pixyproxy"
    engine = create_engine_from_url(url, connect_timeout_s=1)

    for call in _every_call(engine):
        elapsed, error = _elapsed(call)
        assert elapsed < 2
        assert not any(SECRET in f"{e} {e!r}" for e in _chain(error))
    assert SECRET not in caplog.text


def test_a_host_that_never_completes_the_handshake_is_given_up_on_in_time() -> None:
    # On Linux a listener whose one-slot accept queue is full drops further SYNs, so connect()
    # waits for its timeout; elsewhere it may be refused at once, which passes too.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            url = f"mysql+pymysql://app:{SECRET}@127.0.0.1:{port}/pixyproxy"
            engine = create_engine_from_url(url, connect_timeout_s=1)

            elapsed, _ = _elapsed(SqlImageRepository(engine).ping)

    assert elapsed < 2


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def test_an_exhausted_pool_fails_fast(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/pixyproxy.db"
    else:
        url = request.getfixturevalue("mysql_database_url")
    engine = create_engine_from_url(url, pool_size=1, max_overflow=0, pool_timeout_s=0.5)
    SqlSchemaMigrator(engine).upgrade()
    repo = SqlImageRepository(engine)

    with engine.connect() as held:
        held.execute(sa.text("SELECT 1"))
        elapsed, error = _elapsed(lambda: repo.get(uuid4()))

    assert elapsed < 1
    assert "no database connection became free" in str(error)
    with pytest.raises(ImageNotFound):
        repo.get(uuid4())
    engine.dispose()


# --- a network between pixyproxy and MariaDB that a test can break ------------------------------


@pytest.fixture
def proxy(mysql_server_url: str) -> Iterator[TcpProxy]:
    server = sa.make_url(mysql_server_url)
    with TcpProxy(server.host or "127.0.0.1", server.port or 3306) as proxy:
        yield proxy


@pytest.fixture
def behind_proxy(
    proxy: TcpProxy, mysql_database_url: str, clean_mysql_engine: sa.Engine
) -> Iterator[Callable[..., sa.Engine]]:
    """Makes engines whose every connection goes through `proxy`."""
    engines: list[sa.Engine] = []

    def make(**timeouts: Any) -> sa.Engine:
        url = sa.make_url(mysql_database_url).set(host="127.0.0.1", port=proxy.port)
        engines.append(create_engine_from_url(render_url(url), pool_size=2, **timeouts))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


def _wait_until_running(engine: sa.Engine, statement_start: str) -> None:
    # The process list, not innodb_trx: InnoDB refreshes that only after 0.1 s unread, which
    # two test runs polling at once can postpone indefinitely.
    query = sa.text(
        "SELECT COUNT(*) FROM information_schema.processlist"
        " WHERE db = DATABASE() AND info LIKE :statement"
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.execute(query, {"statement": f"{statement_start}%"}).scalar_one():
                return
        time.sleep(0.02)
    raise AssertionError("the call never reached the database")


@pytest.mark.mysql
def test_a_cut_mid_call_fails_at_once_and_the_repository_recovers(
    behind_proxy: Callable[..., sa.Engine], proxy: TcpProxy, clean_mysql_engine: sa.Engine
) -> None:
    # The query timeout is long, so a quick failure can only come from noticing the cut.
    repo = SqlImageRepository(behind_proxy(connect_timeout_s=1, query_timeout_s=10))
    image = repo.add(make_image(tags=("before",)))

    with clean_mysql_engine.connect() as blocker, ThreadPoolExecutor(1) as pool:
        # Another session holds the row, so set_tags waits inside the database: in flight.
        blocker.exec_driver_sql("START TRANSACTION")  # the engine's sessions autocommit
        blocker.execute(
            sa.text("SELECT id FROM images WHERE guid = :guid FOR UPDATE"),
            {"guid": str(image.guid)},
        )
        in_flight = pool.submit(repo.set_tags, image.guid, ("during",), T0)
        _wait_until_running(clean_mysql_engine, "UPDATE images SET tags")
        proxy.cut()
        elapsed, _ = _elapsed(lambda: in_flight.result(timeout=15))
        blocker.exec_driver_sql("ROLLBACK")
    assert elapsed < 2

    next_elapsed, _ = _elapsed(lambda: repo.get(image.guid))
    assert next_elapsed < 2

    proxy.restore()
    # Same repository, same engine: the pool drops its dead connections and reconnects.
    assert repo.get(image.guid).tags == ("before",)
    assert repo.set_tags(image.guid, ("after",), T0).tags == ("after",)


@pytest.mark.mysql
def test_a_silent_database_is_given_up_on_within_the_timeouts(
    behind_proxy: Callable[..., sa.Engine], proxy: TcpProxy
) -> None:
    engine = behind_proxy(connect_timeout_s=1, query_timeout_s=1)
    repo, keys = SqlImageRepository(engine), SqlApiKeyStore(engine)
    image = repo.add(make_image())

    proxy.stall()
    # At worst the pooled connection's ping times out, then so does a fresh handshake.
    for call in (lambda: repo.get(image.guid), keys.list):
        elapsed, _ = _elapsed(call)
        assert elapsed < 2 * (1 + 1) + 1

    proxy.restore()
    assert repo.get(image.guid) == image
    assert keys.list() == []


@pytest.mark.mysql
def test_connections_dropped_while_idle_are_replaced_without_a_failed_call(
    behind_proxy: Callable[..., sa.Engine], proxy: TcpProxy
) -> None:
    repo = SqlImageRepository(behind_proxy(connect_timeout_s=1, query_timeout_s=1))
    image = repo.add(make_image())

    # A blip between two calls: the pooled connection dies while nobody uses it.
    proxy.cut()
    proxy.restore()

    assert repo.get(image.guid) == image
