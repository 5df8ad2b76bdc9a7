"""`pixyproxy serve` and `pixyproxy db` against databases whose schema is not the code's:
empty, made by the previous release, behind with automatic migration off, ahead of the code,
and owned by an account that may not change it. Real processes, real MariaDB."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixyproxy.adapters.driven.sql import SqlSchemaMigrator, create_engine_from_url
from pixyproxy.adapters.driven.sql.schema_migrator import (
    VERSION_TABLE,
    admin_scripts,
    head_revision,
)
from pixyproxy.ports.schema_migrator import SchemaStatus
from tests.support.mysql import render_url, run_sql_script
from tests.support.schema import (
    SQL_DIR,
    Database,
    assert_nothing_lost,
    release_database,
)
from tests.support.service import ServiceProcess

pytestmark = pytest.mark.e2e

MIGRATING = "upgrading the database schema from"


def _mysql(make_mysql_database: Callable[[], str]) -> Database:
    return Database("mysql", make_mysql_database())


def _service(tmp_path: Path, database: Database, **env: str) -> ServiceProcess:
    data_dir = tmp_path / f"service-{secrets.token_hex(4)}"
    data_dir.mkdir()
    return ServiceProcess(data_dir, {"PIXYPROXY_DATABASE_URL": database.url, **env})


def _database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if backend == "sqlite":
        path = tmp_path / f"{secrets.token_hex(4)}.db"
        return Database("sqlite", f"sqlite:///{path}", path)
    return _mysql(request.getfixturevalue("make_mysql_database"))


@pytest.mark.parametrize("variant", ["empty", "release"])
@pytest.mark.parametrize("backend", [pytest.param("mysql", marks=pytest.mark.mysql), "sqlite"])
def test_two_instances_starting_together_migrate_the_database_once(
    backend: str, variant: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database = _database(backend, request, tmp_path)
    data = release_database(database, "pre_tags") if variant == "release" else None
    fresh = _database(backend, request, tmp_path)
    with ExitStack() as stack:
        services = [stack.enter_context(_service(tmp_path, database)) for _ in range(2)]
        # Launched together, and one of them with two workers of its own.
        services[0].launch()
        services[1].launch("--workers", "2")
        for service in services:
            service.wait_started()
            service.wait_ready()
        logs = [service.log() for service in services]

    assert sum(log.count(MIGRATING) for log in logs) == 1, logs
    engine = database.engine()
    try:
        assert SqlSchemaMigrator(engine).status().current
        if data is not None:
            assert_nothing_lost(engine, data)
    finally:
        engine.dispose()
    fresh_engine = fresh.engine()
    SqlSchemaMigrator(fresh_engine).upgrade()
    fresh_engine.dispose()
    assert database.schema() == fresh.schema()


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def release_era(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """A database of the previous release (made before images.tags existed), with rows."""
    database = _database(request.param, request, tmp_path)
    release_database(database, "pre_tags")
    return database


def test_with_auto_migrate_off_serve_refuses_a_database_behind_until_db_upgrade(
    tmp_path: Path, release_era: Database
) -> None:
    with _service(tmp_path, release_era, PIXYPROXY_AUTO_MIGRATE="false") as service:
        refused = service.cli("serve", "--port", str(service.port), check=False, timeout_s=30)
        assert refused.returncode == 1
        assert "pixyproxy db upgrade" in refused.stderr, refused.stderr
        assert "PIXYPROXY_AUTO_MIGRATE" in refused.stderr
        # Nor do the other commands migrate behind the operator's back.
        assert service.cli("keys", "list", check=False).returncode == 1
        assert "unversioned" in service.cli("db", "current").stdout

        upgraded = service.cli("db", "upgrade").stdout
        assert re.search(rf"from unversioned .* to {head_revision()}", upgraded), upgraded
        assert service.cli("db", "current").stdout.strip().endswith(f"{head_revision()} (head)")
        assert "nothing to do" in service.cli("db", "upgrade").stdout

        service.start()
        service.wait_ready()
        assert MIGRATING not in service.log()


def test_db_init_is_db_upgrade_and_serve_migrates_by_default(
    tmp_path: Path, release_era: Database
) -> None:
    with _service(tmp_path, release_era) as service:
        assert f"to {head_revision()} (head)" in service.cli("db", "init").stdout
        service.start()
        service.wait_ready()
    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    with ServiceProcess(fresh_dir) as fresh:  # an empty SQLite file of its own
        fresh.start()
        fresh.wait_ready()
        assert MIGRATING in fresh.log()
        assert f"{head_revision()} (head)" in fresh.cli("db", "current").stdout


def test_serve_refuses_a_database_migrated_by_a_newer_pixyproxy(
    tmp_path: Path, release_era: Database
) -> None:
    engine = release_era.engine()
    try:
        SqlSchemaMigrator(engine).upgrade()
        with engine.begin() as connection:
            connection.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    finally:
        engine.dispose()
    with _service(tmp_path, release_era) as service:
        refused = service.cli("serve", "--port", str(service.port), check=False, timeout_s=30)
        assert refused.returncode == 1
        assert "9999" in refused.stderr and "newer pixyproxy" in refused.stderr
        assert "unknown to this pixyproxy" in service.cli("db", "current").stdout
        assert service.cli("db", "upgrade", check=False).returncode == 1


def _substitute(script: str, name: str, password: str) -> str:
    script = re.sub(r"IDENTIFIED BY '[^']*'", f"IDENTIFIED BY '{password}'", script)
    return re.sub(r"\bpixyproxy\b", name, script)


@pytest.fixture
def least_privileged_database(
    make_mysql_database: Callable[[], str], mysql_server_url: str
) -> Iterator[tuple[Database, Database]]:
    """A database and account made by sql/01 and sql/02 (renamed, so that a test cannot touch
    a real pixyproxy): (as the administrator, as the application's account)."""
    target = sa.make_url(make_mysql_database())
    name, password = target.database or "", secrets.token_hex(12)
    run_sql_script(mysql_server_url, f"DROP DATABASE {name};")
    try:
        for script in ("01_create_database.sql", "02_create_user.sql"):
            renamed = _substitute((SQL_DIR / script).read_text(), name, password)
            run_sql_script(mysql_server_url, renamed)
        app = target.set(username=name, password=password)
        yield Database("mysql", render_url(target)), Database("mysql", render_url(app))
    finally:
        run_sql_script(mysql_server_url, f"DROP USER IF EXISTS '{name}'@'%';")


@pytest.mark.mysql
def test_the_least_privileged_account_serves_a_current_schema_and_is_told_what_to_apply(
    tmp_path: Path, least_privileged_database: tuple[Database, Database]
) -> None:
    admin, app = least_privileged_database
    data = release_database(admin, "pre_tags")

    scripts = admin_scripts(SchemaStatus(revision=None, head=head_revision(), unversioned=True))
    assert scripts[:2] == ["sql/upgrade/stamp-release-as-0001.sql", "sql/upgrade/0001-0002.sql"]
    with _service(tmp_path, app) as service:
        # Behind, and this account may not ALTER: serve names the administrator's scripts.
        refused = service.cli("serve", "--port", str(service.port), check=False, timeout_s=30)
        assert refused.returncode == 1
        assert ", then ".join(scripts) in refused.stderr, refused.stderr
        assert "may not change the schema" in refused.stderr

        for script in scripts:
            admin.run_script((SQL_DIR.parent / script).read_text())

        # Current: the account starts (it could not have run any DDL) and serves the rows.
        service.start()
        service.wait_ready()
        assert MIGRATING not in service.log()
        engine = create_engine_from_url(app.url)
        try:
            assert_nothing_lost(engine, data)
        finally:
            engine.dispose()
