"""The schema: the migrations build what `tables` defines, bring the previous release's
databases (its own DDL, in every shape it left behind) to exactly that with nothing lost,
undo themselves, and are safe to race and to leave to an account that may not change the
schema."""

from __future__ import annotations

import functools
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pixyproxy.adapters.driven.sql import (
    SqlApiKeyStore,
    SqlSchemaMigrator,
    create_engine_from_url,
)
from pixyproxy.adapters.driven.sql.engine import create_migration_engine
from pixyproxy.adapters.driven.sql.schema_lock import schema_lock
from pixyproxy.adapters.driven.sql.schema_migrator import (
    VERSION_TABLE,
    admin_scripts,
    head_revision,
)
from pixyproxy.adapters.driven.sql.tables import metadata
from pixyproxy.domain.exceptions import RepositoryUnavailable, SchemaMismatch
from pixyproxy.domain.models import ApiKey
from tests.support.mysql import render_url, run_sql_script
from tests.support.schema import (
    RELEASE_VARIANTS,
    SQL_DIR,
    T0,
    Database,
    assert_nothing_lost,
    mysql_schema,
    release_database,
)

BACKENDS = ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)]


@pytest.fixture
def make_database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Database]:
    def make(backend: str) -> Database:
        if backend == "sqlite":
            path = tmp_path / f"{uuid4().hex}.db"
            return Database(backend, f"sqlite:///{path}", path)
        return Database(backend, request.getfixturevalue("make_mysql_database")())

    return make


@pytest.fixture
def engines() -> Iterator[Callable[[Database], sa.Engine]]:
    made: list[sa.Engine] = []

    def engine_of(database: Database) -> sa.Engine:
        made.append(database.engine())
        return made[-1]

    yield engine_of
    for engine in made:
        engine.dispose()


def _migrated(database: Database, engines: Callable[[Database], sa.Engine]) -> Database:
    SqlSchemaMigrator(engines(database)).upgrade()
    return database


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migrations_build_exactly_what_tables_defines(
    backend: str, make_database: Callable[[str], Database], engines: Callable[..., sa.Engine]
) -> None:
    engine = engines(_migrated(make_database(backend), engines))
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, metadata)
    assert differences == []
    assert SqlSchemaMigrator(engine).status().current


# --- the previous release's databases ----------------------------------------------------


@pytest.mark.parametrize("variant", RELEASE_VARIANTS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_release_database_is_upgraded_to_the_migrated_schema_with_nothing_lost(
    backend: str,
    variant: str,
    make_database: Callable[[str], Database],
    engines: Callable[[Database], sa.Engine],
) -> None:
    release = make_database(backend)
    data = release_database(release, variant)
    fresh = _migrated(make_database(backend), engines)
    migrator = SqlSchemaMigrator(engines(release))
    assert migrator.status().unversioned

    before = migrator.upgrade()

    assert before.unversioned and before.behind
    assert migrator.status().current
    assert release.schema() == fresh.schema()
    assert_nothing_lost(engines(release), data)


def _tables_in(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


@pytest.mark.parametrize("backend", BACKENDS)
def test_downgrading_to_nothing_and_upgrading_again_gives_the_same_schema(
    backend: str, make_database: Callable[[str], Database], engines: Callable[..., sa.Engine]
) -> None:
    database = _migrated(make_database(backend), engines)
    migrated = database.schema()
    engine = engines(database)

    for revision in ("0001", "base"):
        SqlSchemaMigrator(engine).downgrade(revision)
        assert SqlSchemaMigrator(engine).status().revision == (
            None if revision == "base" else revision
        )
    assert _tables_in(engine) == {VERSION_TABLE}

    SqlSchemaMigrator(engine).upgrade()
    assert database.schema() == migrated


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_head_revision_undone_and_redone_leaves_a_release_database_as_it_was(
    backend: str, make_database: Callable[[str], Database], engines: Callable[..., sa.Engine]
) -> None:
    database = make_database(backend)
    data = release_database(database, "pre_tags")
    engine = engines(database)
    SqlSchemaMigrator(engine).upgrade()
    upgraded = database.schema()

    SqlSchemaMigrator(engine).downgrade("-1")
    SqlSchemaMigrator(engine).upgrade()

    assert database.schema() == upgraded
    assert_nothing_lost(engine, data)


# --- who may migrate, and when -----------------------------------------------------------


def _race(calls: list[Callable[[], object]]) -> list[BaseException]:
    start = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        start.wait()
        try:
            call()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.parametrize("variant", ["empty", "pre_tags"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrading_is_safe_to_race_and_to_repeat(
    backend: str,
    variant: str,
    make_database: Callable[[str], Database],
    engines: Callable[[Database], sa.Engine],
) -> None:
    database = make_database(backend)
    data = release_database(database, variant) if variant != "empty" else None
    migrators = [SqlSchemaMigrator(engines(database)) for _ in range(3)]

    calls: list[Callable[[], object]] = [
        functools.partial(m.ensure_current, auto_migrate=True) for m in migrators
    ]
    assert _race(calls) == []

    engine = engines(database)
    assert SqlSchemaMigrator(engine).upgrade().current  # again: nothing to do
    assert database.schema() == _migrated(make_database(backend), engines).schema()
    if data is not None:
        assert_nothing_lost(engine, data)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_upgrade_waits_for_the_lock_another_holds_and_gives_up_clearly(
    backend: str, make_database: Callable[[str], Database], engines: Callable[..., sa.Engine]
) -> None:
    engine = engines(make_database(backend))
    other_process = create_migration_engine(engine.url)
    try:
        with schema_lock(other_process, timeout_s=5):
            with pytest.raises(RepositoryUnavailable, match="another process has been migrat"):
                SqlSchemaMigrator(engine, lock_timeout_s=0.5).upgrade()
            assert SqlSchemaMigrator(engine).status().revision is None  # nothing was done
        SqlSchemaMigrator(engine, lock_timeout_s=0.5).upgrade()
    finally:
        other_process.dispose()
    assert SqlSchemaMigrator(engine).status().current


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_schema_behind_is_refused_when_automatic_migration_is_off(
    backend: str, make_database: Callable[[str], Database], engines: Callable[..., sa.Engine]
) -> None:
    database = make_database(backend)
    release_database(database, "current")
    migrator = SqlSchemaMigrator(engines(database))

    with pytest.raises(SchemaMismatch, match="pixyproxy db upgrade") as info:
        migrator.ensure_current(auto_migrate=False)

    assert "sql/upgrade/0001-0002.sql" in info.value.detail
    assert migrator.status().unversioned  # nothing was changed
    assert VERSION_TABLE not in _tables_in(engines(database))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_ahead_of_the_code_is_refused_and_left_alone(
    backend: str, make_database: Callable[[str], Database], engines: Callable[..., sa.Engine]
) -> None:
    database = _migrated(make_database(backend), engines)
    engine = engines(database)
    with engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    migrator = SqlSchemaMigrator(engine)

    assert migrator.status().ahead
    for attempt in (lambda: migrator.ensure_current(auto_migrate=True), migrator.upgrade):
        with pytest.raises(SchemaMismatch, match=r"9999.*newer pixyproxy"):
            attempt()
    assert migrator.status().revision == "9999"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_with_only_some_of_the_tables_is_refused(
    backend: str, make_database: Callable[[str], Database], engines: Callable[..., sa.Engine]
) -> None:
    database = make_database(backend)
    release_database(database, "current")
    engine = engines(database)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE idempotency_keys"))

    migrator = SqlSchemaMigrator(engine)
    assert migrator.status().incomplete
    with pytest.raises(SchemaMismatch, match=r"some of pixyproxy.s tables .*but not all"):
        migrator.ensure_current(auto_migrate=True)
    assert VERSION_TABLE not in _tables_in(engine)


@dataclass
class Account:
    url: str
    name: str


@pytest.fixture
def least_privileged(
    make_mysql_database: Callable[[], str], mysql_server_url: str
) -> Iterator[Callable[[str], Account]]:
    """An account with the rights `sql/02_create_user.sql` grants (rows only) on a database."""
    names: list[str] = []

    def make(url: str) -> Account:
        target = sa.make_url(url)
        name, password = f"pxy_{uuid4().hex[:10]}", secrets.token_hex(12)
        run_sql_script(
            mysql_server_url,
            f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}';"
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {target.database}.* TO '{name}'@'%';",
        )
        names.append(name)
        return Account(render_url(target.set(username=name, password=password)), name)

    yield make
    for name in names:
        run_sql_script(mysql_server_url, f"DROP USER IF EXISTS '{name}'@'%';")


@pytest.mark.mysql
def test_the_least_privileged_account_runs_a_current_database_without_any_ddl(
    make_mysql_database: Callable[[], str], least_privileged: Callable[[str], Account]
) -> None:
    url = make_mysql_database()
    admin = create_engine_from_url(url)
    SqlSchemaMigrator(admin).upgrade()
    admin.dispose()
    engine = create_engine_from_url(least_privileged(url).url)
    try:
        # Any DDL, or the migration lock's connection, would be refused or show in the log.
        SqlSchemaMigrator(engine).ensure_current(auto_migrate=True)
        key = ApiKey("pxy_t", "0" * 64, "alice", T0)
        SqlApiKeyStore(engine).add(key)
        assert SqlApiKeyStore(engine).list() == [key]
        with pytest.raises(sa.exc.OperationalError, match="denied"), engine.begin() as c:
            c.execute(sa.text("DROP TABLE api_keys"))
    finally:
        engine.dispose()


@pytest.mark.mysql
@pytest.mark.parametrize(
    ("variant", "scripts"),
    [
        ("empty", ["sql/03_create_tables.sql"]),
        ("current", ["sql/upgrade/stamp-release-as-0001.sql", "sql/upgrade/0001-0002.sql"]),
    ],
)
def test_a_schema_behind_without_rights_to_change_it_names_the_admin_scripts(
    variant: str,
    scripts: list[str],
    make_database: Callable[[str], Database],
    least_privileged: Callable[[str], Account],
) -> None:
    database = make_database("mysql")
    if variant != "empty":
        release_database(database, variant)
    account = least_privileged(database.url)
    engine = create_engine_from_url(account.url)
    try:
        with pytest.raises(SchemaMismatch, match="may not change the schema") as info:
            SqlSchemaMigrator(engine).ensure_current(auto_migrate=True)
    finally:
        engine.dispose()
    assert ", then ".join(scripts) in info.value.detail
    assert str(sa.make_url(account.url).password) not in info.value.detail


def test_the_head_is_the_newest_revision() -> None:
    assert head_revision() == max(
        path.name[:4]
        for path in (Path(__file__).resolve().parents[2] / "pixyproxy").glob(
            "adapters/driven/sql/migrations/versions/[0-9]*.py"
        )
    )


# --- the administrators' scripts ---------------------------------------------------------


def _substitute(script: str, name: str, password: str) -> str:
    """A script for database and account `name` instead of `pixyproxy`, so that a test run
    cannot touch a real pixyproxy database or account."""
    script = re.sub(r"IDENTIFIED BY '[^']*'", f"IDENTIFIED BY '{password}'", script)
    return re.sub(r"\bpixyproxy\b", name, script)


@pytest.mark.mysql
def test_the_admin_scripts_build_the_migrated_schema_for_an_account_without_ddl_rights(
    make_database: Callable[[str], Database],
    mysql_server_url: str,
    engines: Callable[[Database], sa.Engine],
) -> None:
    target = sa.make_url(make_database("mysql").url)
    name, password = target.database or "", secrets.token_hex(12)
    run_sql_script(mysql_server_url, f"DROP DATABASE {name};")
    try:
        for script in ("01_create_database.sql", "02_create_user.sql"):
            renamed = _substitute((SQL_DIR / script).read_text(), name, password)
            run_sql_script(mysql_server_url, renamed)
        scripted = Database("mysql", render_url(target))
        scripted.run_script((SQL_DIR / "03_create_tables.sql").read_text())
        app = create_engine_from_url(render_url(target.set(username=name, password=password)))
        try:
            SqlSchemaMigrator(app).ensure_current(auto_migrate=True)  # no DDL: none allowed
            key = ApiKey("pxy_t", "0" * 64, "alice", T0)
            SqlApiKeyStore(app).add(key)
            assert SqlApiKeyStore(app).list() == [key]
        finally:
            app.dispose()
        # The migrated database's own collation is the test server's default; the scripts'
        # is utf8mb4_bin. The tables name theirs, so only alembic_version's differs.
        migrated = _migrated(make_database("mysql"), engines).schema()
        assert _without_version_table(scripted.schema()) == _without_version_table(migrated)
        assert mysql_schema(render_url(target))["tables"][0][2] == "utf8mb4_bin"
    finally:
        run_sql_script(mysql_server_url, f"DROP USER IF EXISTS '{name}'@'%';")


def _without_version_table(schema: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    return {part: [row for row in rows if row[0] != VERSION_TABLE] for part, rows in schema.items()}


@pytest.mark.mysql
@pytest.mark.parametrize("variant", RELEASE_VARIANTS)
def test_the_admin_upgrade_scripts_bring_a_release_database_to_the_head_with_nothing_lost(
    variant: str, make_database: Callable[[str], Database], engines: Callable[..., sa.Engine]
) -> None:
    release = make_database("mysql")
    data = release_database(release, variant)
    engine = engines(release)

    for script in admin_scripts(SqlSchemaMigrator(engine).status()):
        release.run_script((SQL_DIR.parent / script).read_text())

    assert SqlSchemaMigrator(engine).status().current
    assert release.schema() == _migrated(make_database("mysql"), engines).schema()
    assert_nothing_lost(engine, data)


@pytest.mark.mysql
def test_the_admin_upgrade_scripts_bring_a_migrated_database_to_the_head(
    make_database: Callable[[str], Database], engines: Callable[..., sa.Engine]
) -> None:
    """From revision 0001 (0002 is a no-op on it), one script per revision."""
    database = make_database("mysql")
    engine = engines(database)
    SqlSchemaMigrator(engine).upgrade()
    SqlSchemaMigrator(engine).downgrade("0001")

    for script in admin_scripts(SqlSchemaMigrator(engine).status()):
        database.run_script((SQL_DIR.parent / script).read_text())

    assert SqlSchemaMigrator(engine).status().current
    assert database.schema() == _migrated(make_database("mysql"), engines).schema()
