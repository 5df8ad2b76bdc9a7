"""What `create_engine_from_url` promises before any repository runs on it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixyproxy.adapters.driven.sql import (
    SqlApiKeyStore,
    SqlImageRepository,
    SqlSchemaMigrator,
    create_engine_from_url,
)
from pixyproxy.adapters.driven.sql import statements as q
from pixyproxy.adapters.driven.sql.engine import create_migration_engine, transaction
from pixyproxy.adapters.driven.sql.rows import api_key_to_row
from pixyproxy.domain.models import ApiKey, ImageQuery
from tests.integration.test_sql_image_repository_contract import make_image

SECRET = "hunter2-do-not-print"


def test_a_sqlite_file_gets_its_directory_and_a_configured_connection(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there" / "pixyproxy.db"
    engine = create_engine_from_url(f"sqlite:///{path}", connect_timeout_s=2.5)

    with engine.connect() as connection:
        pragma = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        }
    engine.dispose()

    assert path.is_file()
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 2500}


def test_sqlite_serves_a_threadpool_writing_at_once(tmp_path: Path) -> None:
    engine = create_engine_from_url(f"sqlite:///{tmp_path}/pixyproxy.db", pool_size=3)
    SqlSchemaMigrator(engine).upgrade()
    repo = SqlImageRepository(engine)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                image = repo.add(make_image(tags=("busy",)))
                repo.get(image.guid)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(repo.list(ImageQuery(limit=100, tags=("busy",)))) == 60
    engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_sqlite_database_is_refused(url: str) -> None:
    # Every pooled connection would see its own empty database.
    with pytest.raises(ValueError, match="in-memory"):
        create_engine_from_url(url)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://app:{SECRET}@db.internal/pixyproxy",
        f"mysql://app:{SECRET}@db.internal/pixyproxy",
        f"mysql+mysqldb://app:{SECRET}@db.internal/pixyproxy",
        f"mysql+pymysql://app:{SECRET}@db.internal:3306",
        f"not a url, but it holds {SECRET}",
    ],
)
def test_an_unusable_url_is_refused_without_repeating_the_password(url: str) -> None:
    with pytest.raises(ValueError) as info:
        create_engine_from_url(url)

    assert SECRET not in str(info.value)


def test_the_engine_never_shows_the_password() -> None:
    engine = create_engine_from_url(f"mysql+pymysql://app:{SECRET}@127.0.0.1:1/pixyproxy")

    assert SECRET not in repr(engine)
    assert SECRET not in str(engine.url)


def _engine_for(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> sa.Engine:
    if backend == "sqlite":
        return create_engine_from_url(f"sqlite:///{tmp_path}/tx.db", pool_size=1)
    return create_engine_from_url(request.getfixturevalue("make_mysql_database")(), pool_size=1)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def test_a_transaction_commits_all_or_nothing(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    engine = _engine_for(backend, request, tmp_path)
    SqlSchemaMigrator(engine).upgrade()
    keys = SqlApiKeyStore(engine)
    with pytest.raises(RuntimeError), transaction(engine) as connection:
        connection.execute(q.INSERT_API_KEY, api_key_to_row(_key("pxy_lost", "1")))
        connection.execute(q.INSERT_API_KEY, api_key_to_row(_key("pxy_lost2", "2")))
        raise RuntimeError("after two inserts")
    with transaction(engine) as connection:
        connection.execute(q.INSERT_API_KEY, api_key_to_row(_key("pxy_kept", "3")))
    # A statement that fails inside: rolled back, and the one pooled connection is left
    # with no transaction open, so the next write commits for every session to see.
    with pytest.raises(sa.exc.IntegrityError), transaction(engine) as connection:
        connection.execute(q.INSERT_API_KEY, api_key_to_row(_key("pxy_lost3", "4")))
        connection.execute(q.INSERT_API_KEY, api_key_to_row(_key("pxy_kept", "5")))
    with transaction(engine) as connection:
        connection.execute(q.INSERT_API_KEY, api_key_to_row(_key("pxy_after", "6")))
    other = create_engine_from_url(str(engine.url.render_as_string(hide_password=False)))
    assert [k.prefix for k in SqlApiKeyStore(other).list()] == ["pxy_after", "pxy_kept"]
    assert [k.prefix for k in keys.list()] == ["pxy_after", "pxy_kept"]
    other.dispose()
    engine.dispose()


def _key(prefix: str, digit: str) -> ApiKey:
    return ApiKey(prefix, digit * 64, "alice", datetime(2026, 1, 1, tzinfo=UTC))


def _session_status(connection: sa.Connection, name: str) -> int:
    row = connection.exec_driver_sql(f"SHOW SESSION STATUS LIKE '{name}'").one()
    return int(row[1])


@pytest.mark.mysql
def test_reads_cost_no_rollback_and_writes_run_in_repeatable_read(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    engine = _engine_for("mysql", request, tmp_path)  # one pooled connection, reused
    SqlSchemaMigrator(engine).upgrade()
    repo = SqlImageRepository(engine)
    image = repo.add(make_image())
    with engine.connect() as connection:
        rollbacks = _session_status(connection, "Com_rollback")

    for _ in range(5):
        assert repo.get(image.guid).guid == image.guid
    with engine.connect() as connection:
        assert _session_status(connection, "Com_rollback") == rollbacks

    with transaction(engine) as connection:
        level = connection.get_isolation_level()  # asks the server
    assert level == "REPEATABLE READ"
    with engine.connect() as connection:  # back to autocommit once returned
        assert connection.exec_driver_sql("SELECT @@autocommit").scalar() == 1
    engine.dispose()


def test_the_sqlite_migration_engine_makes_ddl_transactional_and_leaves_foreign_keys_off(
    tmp_path: Path,
) -> None:
    engine = create_migration_engine(sa.make_url(f"sqlite:///{tmp_path}/m.db"))
    try:
        with pytest.raises(RuntimeError, match="half way"), engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            raise RuntimeError("a migration failing half way")
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
            tables = connection.exec_driver_sql("SELECT name FROM sqlite_master").all()
        assert tables == []  # the CREATE TABLE was rolled back with the rest
    finally:
        engine.dispose()
