"""The schema: the administrator's scripts and `init_schema` agree, and creating it is safe to
repeat, to race, and to leave to an account that may not create tables."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa

from pixyproxy.adapters.driven.sql import (
    SqlApiKeyStore,
    SqlImageRepository,
    create_engine_from_url,
    init_schema,
)
from pixyproxy.adapters.driven.sql import statements as q
from pixyproxy.adapters.driven.sql.init import TABLE_NAMES, schema_statements
from pixyproxy.adapters.driven.sql.rows import UtcDateTime, image_to_row, tag_rows
from pixyproxy.domain.exceptions import RepositoryUnavailable
from pixyproxy.domain.models import ApiKey, Image, ImageQuery
from tests.support.builders import make_image
from tests.support.mysql import render_url, run_sql_script

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def _schema_of(url: str) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "tables": """SELECT table_name, engine, table_collation FROM information_schema.tables
            WHERE table_schema = :db ORDER BY table_name""",
        "columns": """SELECT table_name, column_name, ordinal_position, column_type,
                is_nullable, column_default, character_set_name, collation_name, extra
            FROM information_schema.columns WHERE table_schema = :db
            ORDER BY table_name, ordinal_position""",
        "indexes": """SELECT table_name, index_name, non_unique, seq_in_index, column_name,
                sub_part
            FROM information_schema.statistics WHERE table_schema = :db
            ORDER BY table_name, index_name, seq_in_index""",
        "foreign_keys": """SELECT table_name, constraint_name, referenced_table_name,
                update_rule, delete_rule
            FROM information_schema.referential_constraints WHERE constraint_schema = :db
            ORDER BY table_name, constraint_name""",
    }
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            params = {"db": engine.url.database}
            return {
                name: [tuple(row) for row in connection.execute(sa.text(sql), params)]
                for name, sql in queries.items()
            }
    finally:
        engine.dispose()


@pytest.mark.mysql
def test_the_admin_script_and_init_schema_build_the_same_schema(
    make_mysql_database: Callable[[], str],
) -> None:
    from_script, from_code = make_mysql_database(), make_mysql_database()
    run_sql_script(from_script, (SQL_DIR / "03_create_tables.sql").read_text())
    engine = create_engine_from_url(from_code)
    init_schema(engine)
    engine.dispose()

    scripted, coded = _schema_of(from_script), _schema_of(from_code)

    assert sorted(row[0] for row in scripted["tables"]) == sorted(TABLE_NAMES)
    assert scripted == coded


def _init_concurrently(make_engine: Callable[[], sa.Engine], workers: int = 2) -> None:
    engines = [make_engine() for _ in range(workers)]
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(engine: sa.Engine) -> None:
        start.wait()
        try:
            init_schema(engine)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for engine in engines:
        engine.dispose()
    assert errors == []


def _usable(engine: sa.Engine) -> None:
    key = ApiKey(prefix="pxy_t", key_hash="0" * 64, author="alice", created_at=datetime.now(UTC))
    SqlApiKeyStore(engine).add(key)
    assert SqlApiKeyStore(engine).list() == [key]
    assert list(SqlImageRepository(engine).iter_blob_keys()) == []


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def test_init_schema_is_safe_to_race_and_to_repeat(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/race.db"
    else:
        url = request.getfixturevalue("make_mysql_database")()

    _init_concurrently(lambda: create_engine_from_url(url))

    engine = create_engine_from_url(url)
    init_schema(engine)
    _usable(engine)
    engine.dispose()


def _substitute(script: str, name: str, password: str) -> str:
    script = re.sub(r"IDENTIFIED BY '[^']*'", f"IDENTIFIED BY '{password}'", script)
    return re.sub(r"\bpixyproxy\b", name, script)


@pytest.mark.mysql
def test_the_least_privileged_account_runs_pixyproxy_but_cannot_change_the_schema(
    make_mysql_database: Callable[[], str], mysql_server_url: str
) -> None:
    # The scripts, renamed so that this run cannot touch a real pixyproxy database or account.
    target = sa.make_url(make_mysql_database())
    name, password = target.database or "", secrets.token_hex(12)
    run_sql_script(mysql_server_url, f"DROP DATABASE {name};")
    try:
        for script in ("01_create_database.sql", "02_create_user.sql"):
            renamed = _substitute((SQL_DIR / script).read_text(), name, password)
            run_sql_script(mysql_server_url, renamed)
        run_sql_script(render_url(target), (SQL_DIR / "03_create_tables.sql").read_text())
        app_url = target.set(username=name, password=password)
        engine = create_engine_from_url(render_url(app_url))

        init_schema(engine)  # finds every table, so issues no DDL
        _usable(engine)
        with pytest.raises(sa.exc.OperationalError, match="denied"), engine.begin() as c:
            c.execute(sa.text("DROP TABLE api_keys"))
        engine.dispose()

        collation = _schema_of(render_url(target))["tables"][0][2]
        assert collation == "utf8mb4_bin"
    finally:
        run_sql_script(mysql_server_url, f"DROP USER IF EXISTS '{name}'@'%';")


@pytest.mark.mysql
def test_init_schema_without_create_rights_on_an_empty_database_is_unavailable(
    make_mysql_database: Callable[[], str], mysql_server_url: str
) -> None:
    target = sa.make_url(make_mysql_database())
    name, password = f"pxy_{uuid4().hex[:10]}", secrets.token_hex(12)
    run_sql_script(
        mysql_server_url,
        f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}';"
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {target.database}.* TO '{name}'@'%';",
    )
    try:
        engine = create_engine_from_url(render_url(target.set(username=name, password=password)))
        with pytest.raises(RepositoryUnavailable, match="create the database schema") as info:
            init_schema(engine)
        engine.dispose()
        assert password not in str(info.value)
    finally:
        run_sql_script(mysql_server_url, f"DROP USER IF EXISTS '{name}'@'%';")


def _create_pre_tags_schema(engine: sa.Engine) -> None:
    """The schema as pixyproxy created it before `images.tags` existed."""
    with engine.begin() as connection:
        for statement in schema_statements(engine.dialect.name):
            connection.execute(sa.text(statement.replace("    tags TEXT NOT NULL,\n", "")))


def _add_pre_tags_image(engine: sa.Engine, image: Image) -> None:
    row = image_to_row(image)
    del row["tags"]
    columns, values = ", ".join(row), ", ".join(f":{c}" for c in row)
    insert_image = sa.text(f"INSERT INTO images ({columns}) VALUES ({values})").bindparams(
        *(sa.bindparam(name, type_=UtcDateTime()) for name in ("created_at", "updated_at"))
    )
    with engine.begin() as connection:
        image_id = connection.execute(insert_image, row).lastrowid
        for tag_row in tag_rows(image_id, image.guid, image.created_at, image.tags):
            connection.execute(q.INSERT_TAG, tag_row)


def _pre_tags_database(url: str) -> tuple[Image, Image]:
    # The display order is not alphabetical, so a backfill that sorted by tag would show.
    tagged, untagged = make_image(1, tags=("zebra", "apple", "mango")), make_image(2)
    engine = create_engine_from_url(url)
    _create_pre_tags_schema(engine)
    _add_pre_tags_image(engine, tagged)
    _add_pre_tags_image(engine, untagged)
    engine.dispose()
    return tagged, untagged


def _assert_tags_read_back(url: str, tagged: Image, untagged: Image) -> None:
    engine = create_engine_from_url(url)
    repo = SqlImageRepository(engine)
    assert repo.get(tagged.guid).tags == ("zebra", "apple", "mango")
    assert repo.get(untagged.guid).tags == ()
    listed = repo.list(ImageQuery(limit=10, tags=("apple",)))
    assert [(i.guid, i.tags) for i in listed] == [(tagged.guid, tagged.tags)]
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def test_init_schema_adds_and_fills_the_tags_column_of_an_older_database(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        url, fresh_url = f"sqlite:///{tmp_path}/old.db", None
    else:
        make_database = request.getfixturevalue("make_mysql_database")
        url, fresh_url = make_database(), make_database()
    tagged, untagged = _pre_tags_database(url)

    # Two workers starting together on the old database: one upgrades, neither fails.
    _init_concurrently(lambda: create_engine_from_url(url))

    _assert_tags_read_back(url, tagged, untagged)
    if fresh_url is not None:
        fresh = create_engine_from_url(fresh_url)
        init_schema(fresh)
        fresh.dispose()
        assert _schema_of(url) == _schema_of(fresh_url)


@pytest.mark.mysql
def test_the_admin_upgrade_script_matches_a_fresh_schema(
    make_mysql_database: Callable[[], str],
) -> None:
    url, fresh_url = make_mysql_database(), make_mysql_database()
    tagged, untagged = _pre_tags_database(url)
    run_sql_script(url, (SQL_DIR / "upgrade" / "01_add_image_tags.sql").read_text())
    run_sql_script(fresh_url, (SQL_DIR / "03_create_tables.sql").read_text())

    _assert_tags_read_back(url, tagged, untagged)
    assert _schema_of(url) == _schema_of(fresh_url)
