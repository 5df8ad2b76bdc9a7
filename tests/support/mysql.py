"""A real MySQL-protocol server for the tests, and throwaway databases on it.

Where the server comes from, in order:
1. `PIXYPROXY_TEST_MYSQL_URL` (e.g. `mysql+pymysql://root@127.0.0.1:3306`): used as given; if
   it does not answer the run fails, because a configured server that is down is a broken
   environment, not a reason to skip.
2. A throwaway container through testcontainers, when a Docker engine answers (the image is
   `PIXYPROXY_TEST_MYSQL_IMAGE`, by default `mysql:8.4`: see `tests/support/mysql_container.py`);
   if it cannot start, the run fails.
3. Otherwise every test that needs it is skipped, with a reason saying how to enable it.

Each test session works in databases named `pixyproxy_test_<random hex>` and drops them at the
end, so two runs against one server never collide. The account needs CREATE and DROP on them.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixyproxy.adapters.driven.sql import SqlSchemaMigrator, create_engine_from_url
from pixyproxy.adapters.driven.sql.tables import metadata
from tests.support.tcp_proxy import TcpProxy

URL_VARIABLE = "PIXYPROXY_TEST_MYSQL_URL"
_HOW_TO_ENABLE = (
    f"no MySQL server: set {URL_VARIABLE}=mysql+pymysql://root@127.0.0.1:3306 "
    "(any account that may create databases), or start Docker for a throwaway MySQL container "
    "(`make test-container` does both)"
)


@pytest.fixture(scope="session")
def mysql_server_url() -> Iterator[str]:
    """The server's URL, without a database (password included: do not print it)."""
    configured = os.environ.get(URL_VARIABLE)
    if configured:
        url = sa.make_url(configured).set(database=None)
        _fail_unless_reachable(url)
        yield render_url(url)
        return
    # Imported here: only a run without a URL needs Docker's client and testcontainers.
    from tests.support.containers import docker_engine
    from tests.support.mysql_container import throwaway_mysql_server

    client = docker_engine()
    if client is None:
        pytest.skip(_HOW_TO_ENABLE)
    with throwaway_mysql_server(client) as url:
        yield render_url(url)


@pytest.fixture(scope="session")
def make_mysql_database(mysql_server_url: str) -> Iterator[Callable[[], str]]:
    """Call it for the URL of a new, empty database; all are dropped at the end of the session."""
    server = sa.make_url(mysql_server_url)
    admin = sa.create_engine(server, poolclass=sa.NullPool)
    created: list[str] = []

    def make() -> str:
        name = f"pixyproxy_test_{secrets.token_hex(6)}"
        with admin.begin() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        created.append(name)
        return render_url(server.set(database=name))

    yield make
    with admin.begin() as connection:
        for name in created:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


@pytest.fixture(scope="session")
def mysql_database_url(make_mysql_database: Callable[[], str]) -> str:
    """A database of this session with pixyproxy's schema in it, made by the migrations."""
    url = make_mysql_database()
    engine = create_engine_from_url(url)
    try:
        SqlSchemaMigrator(engine).upgrade()
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def mysql_engine(mysql_database_url: str) -> Iterator[sa.Engine]:
    engine = create_engine_from_url(mysql_database_url, pool_size=4)
    yield engine
    engine.dispose()


@pytest.fixture
def clean_mysql_engine(mysql_engine: sa.Engine) -> sa.Engine:
    """The session database's engine, with every table emptied first."""
    with mysql_engine.begin() as connection:
        # Children first: DELETE honours the foreign key, TRUNCATE would refuse it.
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    return mysql_engine


def render_url(url: sa.URL) -> str:
    """The URL as a string a client can use: `str(url)` would mask the password."""
    return url.render_as_string(hide_password=False)


def _fail_unless_reachable(url: sa.URL) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return
    except sa.exc.DBAPIError as e:
        # The driver's message names host and user, never the password.
        reason = str(e.orig)
    finally:
        engine.dispose()
    masked = url.render_as_string(hide_password=True)
    pytest.fail(
        f"{URL_VARIABLE}={masked} is set, but that server does not answer: {reason}",
        pytrace=False,
    )


def run_sql_script(url: str, script: str) -> None:
    """Execute a file of `;`-terminated statements, as the mysql client would for ours (whose
    comments are whole lines and whose strings hold no `;`)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    # The raw DB-API cursor, without parameters: pymysql then sends '%' as it is.
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for statement in "\n".join(lines).split(";"):
            if statement.strip():
                cursor.execute(statement)
        connection.commit()
    finally:
        connection.close()
        engine.dispose()


# The backends every SQL contract suite runs over, next to the in-memory reference.
CONTRACT_BACKENDS = ["memory", "sqlite", pytest.param("mysql", marks=pytest.mark.mysql)]


@pytest.fixture(scope="session")
def sqlite_schema_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file the migrations brought to the head, once a session, for tests to copy."""
    path = tmp_path_factory.mktemp("schema") / "template.db"
    engine = create_engine_from_url(f"sqlite:///{path}")
    try:
        SqlSchemaMigrator(engine).upgrade()
    finally:
        engine.dispose()  # the last connection to close folds the WAL into the file
    return path


def contract_engine(request: pytest.FixtureRequest, tmp_path: Path) -> sa.Engine:
    """A clean engine with the schema (made by the migrations) for the `sqlite` or `mysql`
    contract param."""
    if request.param == "mysql":
        engine: sa.Engine = request.getfixturevalue("clean_mysql_engine")
        return engine
    path = tmp_path / "data" / "pixyproxy.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(request.getfixturevalue("sqlite_schema_template"), path)
    engine = create_engine_from_url(f"sqlite:///{path}")
    request.addfinalizer(engine.dispose)
    return engine


def url_with_address(url: str, host: str, port: int) -> str:
    """`url` pointed at another address, e.g. a `TcpProxy` in front of the same server."""
    return render_url(sa.make_url(url).set(host=host, port=port))


@pytest.fixture
def mysql_proxy(mysql_server_url: str) -> Iterator[TcpProxy]:
    """A `TcpProxy` in front of the MySQL server, forwarding until the test breaks it."""
    server = sa.make_url(mysql_server_url)
    with TcpProxy(server.host or "127.0.0.1", server.port or 3306) as proxy:
        yield proxy
