"""What a database's catalog says of its schema, to compare two databases built two ways, and
the previous release's own DDL (`tests/fixtures/release_schema/`) to build its databases."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import sqlalchemy as sa

from pixyproxy.adapters.driven.sql import (
    SqlApiKeyStore,
    SqlIdempotencyStore,
    SqlImageRepository,
    create_engine_from_url,
)
from pixyproxy.adapters.driven.sql.column_types import UtcDateTime
from pixyproxy.domain.models import ApiKey, IdempotencyRecord, Image, ImageQuery, Usage
from tests.support.mysql import run_sql_script

RELEASE_DDL = Path(__file__).resolve().parents[1] / "fixtures" / "release_schema"
SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
# The shapes of database the previous release left behind (`release_ddl`).
RELEASE_VARIANTS = ["current", "pre_tags", "pre_tags_upgraded"]
T0 = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)

_MYSQL_CATALOG = {
    "tables": """SELECT table_name, engine, table_collation, create_options
        FROM information_schema.tables WHERE table_schema = :db ORDER BY table_name""",
    "columns": """SELECT table_name, column_name, ordinal_position, column_type, is_nullable,
            column_default, character_set_name, collation_name, extra
        FROM information_schema.columns WHERE table_schema = :db
        ORDER BY table_name, ordinal_position""",
    "indexes": """SELECT table_name, index_name, non_unique, seq_in_index, column_name,
            collation, sub_part, index_type
        FROM information_schema.statistics WHERE table_schema = :db
        ORDER BY table_name, index_name, seq_in_index""",
    "foreign_keys": """SELECT r.table_name, r.constraint_name, k.column_name,
            k.referenced_table_name, k.referenced_column_name, r.update_rule, r.delete_rule
        FROM information_schema.referential_constraints r
        JOIN information_schema.key_column_usage k
            ON k.constraint_schema = r.constraint_schema
            AND k.constraint_name = r.constraint_name AND k.table_name = r.table_name
        WHERE r.constraint_schema = :db ORDER BY r.table_name, r.constraint_name""",
}


def mysql_schema(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Tables (engine, collation, options), columns (type, nullability, default, charset,
    collation), indexes (uniqueness, column order) and foreign keys, from information_schema."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            params = {"db": engine.url.database}
            return {
                name: [tuple(row) for row in connection.execute(sa.text(sql), params)]
                for name, sql in _MYSQL_CATALOG.items()
            }
    finally:
        engine.dispose()


def sqlite_schema(path: Path) -> dict[str, dict[str, Any]]:
    """Per table: columns (type, NOT NULL, default, key), indexes (uniqueness, columns in
    order) and foreign keys, from PRAGMA. SQLite names a UNIQUE or PRIMARY KEY constraint's
    index itself (`sqlite_autoindex_<table>_<n>`, numbered in declaration order): those are
    compared by their columns."""
    connection = sqlite3.connect(path)
    try:

        def pragma(name: str, argument: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in connection.execute(f"PRAGMA {name}({argument})")]

        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            table: {
                "columns": pragma("table_info", table),
                "indexes": sorted(
                    (
                        name if origin == "c" else origin,
                        unique,
                        partial,
                        [column for _, _, column in pragma("index_info", name)],
                    )
                    for _, name, unique, origin, partial in pragma("index_list", table)
                ),
                "foreign_keys": pragma("foreign_key_list", table),
            }
            for table in tables
        }
    finally:
        connection.close()


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


def run_sqlite_script(path: Path, script: str) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.executescript(script)
    finally:
        connection.close()


def release_ddl(backend: str, variant: str) -> list[str]:
    """The previous release's DDL for a `variant` of its databases, as scripts in order:
    `current`, `pre_tags` (made before `images.tags` existed) or `pre_tags_upgraded` (that,
    then upgraded in place by the release itself)."""
    scripts = {
        "current": [f"{backend}.sql"],
        "pre_tags": [f"{backend}_pre_tags.sql"],
        "pre_tags_upgraded": [f"{backend}_pre_tags.sql", f"{backend}_add_tags.sql"],
    }[variant]
    return [(RELEASE_DDL / name).read_text() for name in scripts]


@dataclass
class ReleaseData:
    images: list[Image]
    keys: list[ApiKey]
    claims: list[IdempotencyRecord]


def _image(n: int, tags: tuple[str, ...]) -> Image:
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


def _tags_column(tags: tuple[str, ...]) -> str:
    return json.dumps(list(tags), ensure_ascii=False, separators=(",", ":"))


def _fill(engine: sa.Engine, *, with_tags_column: bool) -> ReleaseData:
    """Rows as the release wrote them, in its own columns (history, like its DDL)."""
    # Tags in a display order that is not alphabetical, and more than GROUP_CONCAT's default
    # 1024 bytes hold, so that a backfill that sorted them or cut them short would show.
    many = tuple(f"tag-{n:02d}-{'x' * 24}" for n in range(40, 0, -1))
    data = ReleaseData(
        images=[
            _image(1, ("zebra", "apple", "mango")),
            _image(2, ()),
            _image(3, many),
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
                "tags": _tags_column(image.tags),
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


def release_database(database: Database, variant: str) -> ReleaseData:
    """Make `database` a database of the previous release, in `variant`'s shape, with rows
    in it as that release wrote them."""
    scripts = release_ddl(database.backend, variant)
    database.run_script(scripts[0])
    engine = database.engine()
    try:
        data = _fill(engine, with_tags_column=variant == "current")
    finally:
        engine.dispose()
    for script in scripts[1:]:
        database.run_script(script)
    if variant == "pre_tags_upgraded" and database.backend == "sqlite":
        # The release filled the column it added from image_tags, in Python.
        _sqlite_backfill(database, data)
    return data


def _sqlite_backfill(database: Database, data: ReleaseData) -> None:
    engine = database.engine()
    try:
        with engine.begin() as connection:
            for image in data.images:
                connection.execute(
                    sa.text("UPDATE images SET tags = :tags WHERE guid = :guid"),
                    {"tags": _tags_column(image.tags), "guid": str(image.guid)},
                )
    finally:
        engine.dispose()


def assert_nothing_lost(engine: sa.Engine, data: ReleaseData) -> None:
    """Every row of `data` reads back through today's repositories, tags in display order."""
    images = SqlImageRepository(engine)
    for expected in data.images:
        found = images.get(expected.guid)
        assert found.tags == expected.tags  # in display order
        assert found == replace(expected, id=found.id)
    tagged = images.list(ImageQuery(limit=10, tags=("apple",)))
    assert [image.guid for image in tagged] == [data.images[0].guid]
    assert SqlApiKeyStore(engine).list() == data.keys
    claims = SqlIdempotencyStore(engine)
    assert [claims.find(c.author, c.key) for c in data.claims] == data.claims
