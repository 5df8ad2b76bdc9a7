"""The schema: the migrations build what `tables` defines, bring the previous release's
databases (its own DDL, in every shape it left behind) to exactly that with nothing lost,
undo themselves, and are safe to race and to leave to an account that may not change the
schema."""

from __future__ import annotations

import functools
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pixyproxy.adapters.driven.sql import (
    SqlApiKeyStore,
    SqlIdempotencyStore,
    SqlImageRepository,
    SqlSchemaMigrator,
    create_engine_from_url,
)
from pixyproxy.adapters.driven.sql.column_types import UtcDateTime
from pixyproxy.adapters.driven.sql.schema_migrator import (
    VERSION_TABLE,
    admin_scripts,
    alembic_config,
    head_revision,
)
from pixyproxy.adapters.driven.sql.tables import metadata
from pixyproxy.domain.exceptions import SchemaMismatch
from pixyproxy.domain.models import ApiKey, IdempotencyRecord, Image, ImageQuery, Usage
from tests.support.mysql import render_url, run_sql_script
from tests.support.schema import (
    SQL_DIR,
    mysql_schema,
    release_ddl,
    run_sqlite_script,
    sqlite_schema,
)

BACKENDS = ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)]
RELEASE_VARIANTS = ["current", "pre_tags", "pre_tags_upgraded"]
T0 = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


@dataclass
class Database:
    """An empty database on one backend, and how to read its catalog and run scripts in it."""

    backend: str
    url: str
    path: Path | None = None

    def engine(self) -> sa.Engine:
        return create_engine_from_url(self.url)

    def schema(self) -> Any:
        if self.path is not None:
            return sqlite_schema(self.path)
        return mysql_schema(self.url)

    def run_script(self, script: str) -> None:
        if self.path is not None:
            run_sqlite_script(self.path, script)
        else:
            run_sql_script(self.url, script)


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


@dataclass
class ReleaseData:
    images: list[Image]
    keys: list[ApiKey]
    claims: list[IdempotencyRecord]


def _release_image(n: int, tags: tuple[str, ...]) -> Image:
    guid = uuid4()
    return Image(
        guid=guid,
        prompt=f"a lighthouse, study {n} ✓",
        filename=f"{guid}.png",
        tags=tags,
        author=f"author-{n % 2}",
        content_type="image/png",
        width=1024,
        height=768,
        byte_size=100_000 + n,
        model="gpt-image-1",
        sha256=f"{n:064x}",
        created_at=T0 + timedelta(seconds=n),
        updated_at=T0 + timedelta(seconds=n, microseconds=1),
        revised_prompt=None if n % 2 else f"revised {n}",
        upstream_request_id=f"req_{n}",
        usage=Usage(input_tokens=n, output_tokens=None, total_tokens=n + 1),
    )


def _release_tags_column(tags: tuple[str, ...]) -> str:
    return json.dumps(list(tags), ensure_ascii=False, separators=(",", ":"))


def _fill_release_database(engine: sa.Engine, *, with_tags_column: bool) -> ReleaseData:
    """Rows as the release wrote them, in its own columns (history, like its DDL)."""
    # Tags in a display order that is not alphabetical, and more than GROUP_CONCAT's default
    # 1024 bytes hold, so that a backfill that sorted them or cut them short would show.
    many = tuple(f"tag-{n:02d}-{'x' * 24}" for n in range(40, 0, -1))
    data = ReleaseData(
        images=[
            _release_image(1, ("zebra", "apple", "mango")),
            _release_image(2, ()),
            _release_image(3, many),
        ],
        keys=[
            ApiKey("pxy_aaaa", "a" * 64, "alice", T0),
            ApiKey("pxy_bbbb", "b" * 64, "bob", T0, revoked_at=T0 + timedelta(days=1)),
        ],
        claims=[
            IdempotencyRecord("alice", "k-1", "c" * 64, T0, T0 + timedelta(days=1), uuid4()),
            IdempotencyRecord("bob", "k-2", "d" * 64, T0, T0 + timedelta(days=1)),
        ],
    )
    at = UtcDateTime()

    def insert(table: str, row: dict[str, Any], *datetimes: str) -> Any:
        columns = ", ".join(row)
        values = ", ".join(f":{c}" for c in row)
        statement = sa.text(f"INSERT INTO {table} ({columns}) VALUES ({values})")
        return statement.bindparams(*(sa.bindparam(name, type_=at) for name in datetimes))

    with engine.begin() as connection:
        for image in data.images:
            row: dict[str, Any] = {
                "guid": str(image.guid),
                "filename": image.filename,
                "prompt": image.prompt,
                "tags": _release_tags_column(image.tags),
                "author": image.author,
                "content_type": image.content_type,
                "byte_size": image.byte_size,
                "width": image.width,
                "height": image.height,
                "model": image.model,
                "sha256": image.sha256,
                "revised_prompt": image.revised_prompt,
                "upstream_request_id": image.upstream_request_id,
                "usage_input_tokens": image.usage.input_tokens,
                "usage_output_tokens": image.usage.output_tokens,
                "usage_total_tokens": image.usage.total_tokens,
                "created_at": image.created_at,
                "updated_at": image.updated_at,
            }
            if not with_tags_column:
                del row["tags"]
            statement = insert("images", row, "created_at", "updated_at")
            image_id = connection.execute(statement, row).lastrowid
            for ordinal, tag in enumerate(image.tags):
                tag_row = {
                    "image_id": image_id,
                    "tag": tag,
                    "ordinal": ordinal,
                    "created_at": image.created_at,
                    "guid": str(image.guid),
                }
                connection.execute(insert("image_tags", tag_row, "created_at"), tag_row)
        for key in data.keys:
            key_row = {
                "prefix": key.prefix,
                "key_hash": key.key_hash,
                "author": key.author,
                "created_at": key.created_at,
                "revoked_at": key.revoked_at,
            }
            connection.execute(insert("api_keys", key_row, "created_at", "revoked_at"), key_row)
        for claim in data.claims:
            claim_row = {
                "author": claim.author,
                "idem_key": claim.key,
                "request_hash": claim.request_hash,
                "image_guid": None if claim.image_guid is None else str(claim.image_guid),
                "created_at": claim.created_at,
                "expires_at": claim.expires_at,
            }
            statement = insert("idempotency_keys", claim_row, "created_at", "expires_at")
            connection.execute(statement, claim_row)
    return data


def _release_database(database: Database, variant: str) -> ReleaseData:
    scripts = release_ddl(database.backend, variant)
    database.run_script(scripts[0])
    engine = database.engine()
    try:
        data = _fill_release_database(engine, with_tags_column=variant == "current")
    finally:
        engine.dispose()
    for script in scripts[1:]:
        database.run_script(script)
    if variant == "pre_tags_upgraded" and database.backend == "sqlite":
        # The release filled the column it added from image_tags, in Python.
        _release_sqlite_backfill(database, data)
    return data


def _release_sqlite_backfill(database: Database, data: ReleaseData) -> None:
    engine = database.engine()
    try:
        with engine.begin() as connection:
            for image in data.images:
                connection.execute(
                    sa.text("UPDATE images SET tags = :tags WHERE guid = :guid"),
                    {"tags": _release_tags_column(image.tags), "guid": str(image.guid)},
                )
    finally:
        engine.dispose()


def _assert_nothing_lost(engine: sa.Engine, data: ReleaseData) -> None:
    images = SqlImageRepository(engine)
    for expected in data.images:
        found = images.get(expected.guid)
        assert found.tags == expected.tags  # in display order
        assert found == Image(**{**vars_of(expected), "id": found.id})
    tagged = images.list(ImageQuery(limit=10, tags=("apple",)))
    assert [image.guid for image in tagged] == [data.images[0].guid]
    assert SqlApiKeyStore(engine).list() == data.keys
    claims = SqlIdempotencyStore(engine)
    assert [claims.find(c.author, c.key) for c in data.claims] == data.claims


def vars_of(image: Image) -> dict[str, Any]:
    return {name: getattr(image, name) for name in Image.__dataclass_fields__}


@pytest.mark.parametrize("variant", RELEASE_VARIANTS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_release_database_is_upgraded_to_the_migrated_schema_with_nothing_lost(
    backend: str,
    variant: str,
    make_database: Callable[[str], Database],
    engines: Callable[[Database], sa.Engine],
) -> None:
    release = make_database(backend)
    data = _release_database(release, variant)
    fresh = _migrated(make_database(backend), engines)
    migrator = SqlSchemaMigrator(engines(release))
    assert migrator.status().unversioned

    before = migrator.upgrade()

    assert before.unversioned and before.behind
    assert migrator.status().current
    assert release.schema() == fresh.schema()
    _assert_nothing_lost(engines(release), data)


def _tables_in(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


@pytest.mark.parametrize("backend", BACKENDS)
def test_downgrading_to_nothing_and_upgrading_again_gives_the_same_schema(
    backend: str, make_database: Callable[[str], Database], engines: Callable[..., sa.Engine]
) -> None:
    database = _migrated(make_database(backend), engines)
    migrated = database.schema()
    engine = engines(database)

    with engine.connect() as connection:
        config = alembic_config(connection=connection)
        for revision in ("0001", "base"):
            command.downgrade(config, revision)
            connection.commit()
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
    data = _release_database(database, "pre_tags")
    engine = engines(database)
    SqlSchemaMigrator(engine).upgrade()
    upgraded = database.schema()

    with engine.connect() as connection:
        command.downgrade(alembic_config(connection=connection), "-1")
        connection.commit()
    SqlSchemaMigrator(engine).upgrade()

    assert database.schema() == upgraded
    _assert_nothing_lost(engine, data)


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
    data = _release_database(database, variant) if variant != "empty" else None
    migrators = [SqlSchemaMigrator(engines(database)) for _ in range(3)]

    calls: list[Callable[[], object]] = [
        functools.partial(m.ensure_current, auto_migrate=True) for m in migrators
    ]
    assert _race(calls) == []

    engine = engines(database)
    assert SqlSchemaMigrator(engine).upgrade().current  # again: nothing to do
    assert database.schema() == _migrated(make_database(backend), engines).schema()
    if data is not None:
        _assert_nothing_lost(engine, data)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_schema_behind_is_refused_when_automatic_migration_is_off(
    backend: str, make_database: Callable[[str], Database], engines: Callable[..., sa.Engine]
) -> None:
    database = make_database(backend)
    _release_database(database, "current")
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
    _release_database(database, "current")
    engine = engines(database)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE idempotency_keys"))

    with pytest.raises(SchemaMismatch, match="not idempotency_keys"):
        SqlSchemaMigrator(engine).ensure_current(auto_migrate=True)


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
        _release_database(database, variant)
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
    data = _release_database(release, variant)
    engine = engines(release)

    for script in admin_scripts(SqlSchemaMigrator(engine).status()):
        release.run_script((SQL_DIR.parent / script).read_text())

    assert SqlSchemaMigrator(engine).status().current
    assert release.schema() == _migrated(make_database("mysql"), engines).schema()
    _assert_nothing_lost(engine, data)


@pytest.mark.mysql
def test_each_admin_upgrade_script_changes_nothing_on_a_database_the_migrations_made(
    make_database: Callable[[str], Database], engines: Callable[..., sa.Engine]
) -> None:
    database = make_database("mysql")
    engine = engines(database)
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection=connection), "0001")
        connection.commit()
    made = database.schema()

    for script in admin_scripts(SqlSchemaMigrator(engine).status()):
        database.run_script((SQL_DIR.parent / script).read_text())

    assert SqlSchemaMigrator(engine).status().current
    assert _without_version_table(database.schema()) == _without_version_table(made)
