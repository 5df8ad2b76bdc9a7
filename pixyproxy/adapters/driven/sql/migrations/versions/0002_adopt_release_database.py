"""Adopt a database made by the release before schema revisions.

Brings it to 0001's schema exactly, with no data lost; changes nothing on a database that
0001 created. That release left three shapes behind, all with the same four tables and no
version table (the schema migrator records such a database as 0001, then runs this):
- its current schema, which on MySQL is 0001's already;
- one made before `images.tags` existed: the column is added after `prompt` and filled from
  `image_tags`, in display order, as the JSON array `rows.tags_column` writes;
- on SQLite, its own DDL (`id INTEGER PRIMARY KEY`, `INT`), with `tags` added last and a
  default by its in-place upgrade: each table that differs from 0001's is rebuilt as 0001's.

On MySQL the same SQL runs online and in the administrators' script (`make sql`), so it
checks the catalog itself rather than branching in Python.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context, op

from pixyproxy.adapters.driven.sql.migrations import schema_0001
from pixyproxy.adapters.driven.sql.rows import tags_column

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


_TAGS_COLUMN = """SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE()
        AND table_name = 'images' AND column_name = 'tags'"""


def _mysql_if(condition: str, statement: str) -> list[str]:
    """`statement` when `condition` holds, in plain SQL: MySQL has no IF outside stored
    programs, and MySQL 8 no ADD COLUMN IF NOT EXISTS."""
    return [
        f"SET @pixyproxy_ddl = IF({condition}, '{statement}', 'DO 0')",
        "PREPARE pixyproxy_ddl FROM @pixyproxy_ddl",
        "EXECUTE pixyproxy_ddl",
        "DEALLOCATE PREPARE pixyproxy_ddl",
    ]


_MYSQL_ADD_TAGS = [
    *_mysql_if(
        f"NOT EXISTS ({_TAGS_COLUMN})", "ALTER TABLE images ADD COLUMN tags TEXT NULL AFTER prompt"
    ),
    # GROUP_CONCAT stops at 1024 bytes by default, short of 64 tags.
    "SET SESSION group_concat_max_len = 1048576",
    """UPDATE images i SET i.tags = COALESCE(
        (SELECT CONCAT('[', GROUP_CONCAT(JSON_QUOTE(t.tag) ORDER BY t.ordinal SEPARATOR ','), ']')
         FROM image_tags t WHERE t.image_id = i.id), '[]')
    WHERE i.tags IS NULL""",
    *_mysql_if(
        f"EXISTS ({_TAGS_COLUMN} AND is_nullable = 'YES')",
        "ALTER TABLE images MODIFY tags TEXT NOT NULL",
    ),
]


def upgrade() -> None:
    if context.get_context().dialect.name == "sqlite":
        _adopt_sqlite(op.get_bind())
        return
    if context.is_offline_mode() and context.get_starting_revision_argument() is None:
        # A script that builds the schema from nothing (sql/03_create_tables.sql): 0001 has
        # just made it, so there is nothing to adopt.
        return
    for statement in _MYSQL_ADD_TAGS:
        op.execute(statement)


def downgrade() -> None:
    """Nothing to undo: a database at 0002 has 0001's schema."""


def _adopt_sqlite(connection: sa.Connection) -> None:
    if "tags" not in _columns(connection, "images"):
        op.add_column("images", sa.Column("tags", sa.Text(), nullable=False, server_default="[]"))
        _fill_tags(connection)
    expected = _shapes_of_0001()
    for table in schema_0001.tables():
        if _shape(connection, table.name) != expected[table.name]:
            with op.batch_alter_table(table.name, recreate="always", copy_from=table):
                pass


def _fill_tags(connection: sa.Connection) -> None:
    tags_of: dict[int, list[str]] = {}
    rows = connection.exec_driver_sql(
        "SELECT image_id, tag FROM image_tags ORDER BY image_id, ordinal"
    )
    for image_id, tag in rows:
        tags_of.setdefault(image_id, []).append(tag)
    if tags_of:
        connection.execute(
            sa.text("UPDATE images SET tags = :tags WHERE id = :id"),
            [{"tags": tags_column(tags), "id": image_id} for image_id, tags in tags_of.items()],
        )


def _columns(connection: sa.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.exec_driver_sql(f"PRAGMA table_info({table})")}


def _shape(connection: sa.Connection, table: str) -> dict[str, Any]:
    """What SQLite reports of a table: columns (type, NOT NULL, default, key), indexes (name,
    uniqueness, columns in order) and foreign keys."""

    def pragma(name: str, argument: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in connection.exec_driver_sql(f"PRAGMA {name}({argument})")]

    # SQLite names the indexes of UNIQUE and PRIMARY KEY constraints itself, numbered in
    # declaration order: those are told apart by their columns.
    indexes = sorted(
        (
            name if origin == "c" else origin,
            unique,
            [column for _, _, column in pragma("index_info", name)],
        )
        for _, name, unique, origin, _partial in pragma("index_list", table)
    )
    return {
        "columns": pragma("table_info", table),
        "indexes": indexes,
        "foreign_keys": pragma("foreign_key_list", table),
    }


def _shapes_of_0001() -> dict[str, dict[str, Any]]:
    """The shape of each table as 0001 creates it, read from a scratch in-memory database."""
    scratch = sa.create_engine("sqlite://")
    try:
        with scratch.begin() as connection:
            tables = schema_0001.tables()
            tables[0].metadata.create_all(connection)
            return {table.name: _shape(connection, table.name) for table in tables}
    finally:
        scratch.dispose()
