"""What a database's catalog says of its schema, to compare two databases built two ways, and
the previous release's own DDL (`tests/fixtures/release_schema/`) to build its databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa

RELEASE_DDL = Path(__file__).resolve().parents[1] / "fixtures" / "release_schema"
SQL_DIR = Path(__file__).resolve().parents[2] / "sql"

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
