"""The schema, for SQLite and MySQL/MariaDB alike, and `init_schema` to create it.

`sql/03_create_tables.sql` is the MySQL rendering of the same tables for an administrator to
apply; a test asserts both produce identical schemas. The dialects differ only in the
fragments of `_DIALECTS`, and in where secondary indexes are declared: inside CREATE TABLE on
MySQL (which has no CREATE INDEX IF NOT EXISTS), as separate statements on SQLite (which has no
inline index syntax).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from pixyproxy.adapters.driven.sql.errors import translated_errors
from pixyproxy.adapters.driven.sql.rows import tags_column
from pixyproxy.domain.exceptions import RepositoryUnavailable


@dataclass(frozen=True)
class _Dialect:
    id_column: str
    id_type: str
    datetime: str
    ascii: str
    table_options: str
    inline_indexes: bool


_DIALECTS = {
    # Only INTEGER PRIMARY KEY makes SQLite assign ids (it accepts AUTO_INCREMENT, then
    # leaves the column NULL).
    "sqlite": _Dialect("id INTEGER PRIMARY KEY", "INTEGER", "DATETIME", "", "", False),
    "mysql": _Dialect(
        "id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
        "BIGINT",
        "DATETIME(6)",
        # GUIDs and hashes are hex: one byte a character, compared bytewise like Python does.
        " CHARACTER SET ascii COLLATE ascii_bin",
        # Table-level so the schema does not depend on how the database was created.
        " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        True,
    ),
}


@dataclass(frozen=True)
class _Table:
    name: str
    columns: str
    indexes: tuple[tuple[str, str], ...]


# `images.tags` repeats an image's tags as a JSON array in display order
# (`rows.tags_column`), so one row answers a read; `image_tags` is the index tag filters use.
_TABLES = (
    _Table(
        "images",
        """{d.id_column},
    guid CHAR(36){d.ascii} NOT NULL,
    filename VARCHAR(255) NOT NULL,
    prompt TEXT NOT NULL,
    tags TEXT NOT NULL,
    author VARCHAR(64) NOT NULL,
    content_type VARCHAR(100) NOT NULL,
    byte_size BIGINT NOT NULL,
    width INT NOT NULL,
    height INT NOT NULL,
    model VARCHAR(100) NOT NULL,
    sha256 CHAR(64){d.ascii} NOT NULL,
    revised_prompt TEXT NULL,
    upstream_request_id VARCHAR(255) NULL,
    usage_input_tokens INT NULL,
    usage_output_tokens INT NULL,
    usage_total_tokens INT NULL,
    placeholder VARCHAR(64) NULL,
    created_at {d.datetime} NOT NULL,
    updated_at {d.datetime} NOT NULL,
    CONSTRAINT uq_images_guid UNIQUE (guid)""",
        (
            # Newest-first pages, unfiltered and by author: a backward range scan of LIMIT rows.
            ("ix_images_newest", "created_at, guid"),
            ("ix_images_author_newest", "author, created_at, guid"),
            # The blob garbage collector asks which file names are still referenced.
            ("ix_images_filename", "filename"),
        ),
    ),
    _Table(
        "image_tags",
        """image_id {d.id_type} NOT NULL,
    tag VARCHAR(32) NOT NULL,
    ordinal SMALLINT NOT NULL,
    created_at {d.datetime} NOT NULL,
    guid CHAR(36){d.ascii} NOT NULL,
    PRIMARY KEY (image_id, tag),
    CONSTRAINT fk_image_tags_image FOREIGN KEY (image_id)
        REFERENCES images (id) ON DELETE CASCADE""",
        # created_at and guid repeat the image's (immutable) sort key so that a tag's pages
        # come straight off this index.
        (("ix_image_tags_newest", "tag, created_at, guid"),),
    ),
    _Table(
        "image_renditions",
        """image_id {d.id_type} NOT NULL,
    width INT NOT NULL,
    format VARCHAR(8) NOT NULL,
    blob_key VARCHAR(255) NOT NULL,
    height INT NOT NULL,
    byte_size BIGINT NOT NULL,
    sha256 CHAR(64){d.ascii} NOT NULL,
    PRIMARY KEY (image_id, width, format),
    CONSTRAINT fk_image_renditions_image FOREIGN KEY (image_id)
        REFERENCES images (id) ON DELETE CASCADE""",
        (),
    ),
    _Table(
        "api_keys",
        """{d.id_column},
    prefix VARCHAR(64) NOT NULL,
    key_hash CHAR(64){d.ascii} NOT NULL,
    author VARCHAR(64) NOT NULL,
    created_at {d.datetime} NOT NULL,
    revoked_at {d.datetime} NULL,
    CONSTRAINT uq_api_keys_prefix UNIQUE (prefix),
    CONSTRAINT uq_api_keys_key_hash UNIQUE (key_hash)""",
        (),
    ),
    _Table(
        "idempotency_keys",
        """author VARCHAR(64) NOT NULL,
    idem_key VARCHAR(255){d.ascii} NOT NULL,
    request_hash CHAR(64){d.ascii} NOT NULL,
    image_guid CHAR(36){d.ascii} NULL,
    created_at {d.datetime} NOT NULL,
    expires_at {d.datetime} NOT NULL,
    PRIMARY KEY (author, idem_key)""",
        (),
    ),
)

TABLE_NAMES = tuple(table.name for table in _TABLES)


def schema_statements(dialect_name: str) -> list[str]:
    """The DDL, in order, for `dialect_name` ("sqlite", "mysql" or "mariadb")."""
    d = _DIALECTS["mysql" if dialect_name == "mariadb" else dialect_name]
    statements = []
    for table in _TABLES:
        body = table.columns.format(d=d)
        if d.inline_indexes:
            body += "".join(f",\n    INDEX {name} ({cols})" for name, cols in table.indexes)
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {table.name} (\n    {body}\n){d.table_options}"
        )
        if not d.inline_indexes:
            statements.extend(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table.name} ({cols})"
                for name, cols in table.indexes
            )
    return statements


def init_schema(engine: sa.Engine) -> None:
    """Create whatever tables are missing. Safe to run again, and from two workers at once.

    When every table exists nothing is executed, so a least-privilege account (no CREATE)
    can run it against a schema an administrator applied from `sql/03_create_tables.sql`.
    Raises `RepositoryUnavailable` when the database is down or refuses the DDL.
    """
    with translated_errors("create the database schema"):
        existing = set(sa.inspect(engine).get_table_names())
        if existing.issuperset(TABLE_NAMES):
            if not _has_tags_column(engine):
                _add_tags_column(engine)
            return
        # MySQL commits each CREATE TABLE on its own; IF NOT EXISTS makes a concurrent
        # creator's win harmless on both dialects.
        with engine.begin() as connection:
            for statement in schema_statements(engine.dialect.name):
                connection.execute(sa.text(statement))


# Databases created before `images.tags` existed get it added and filled from `image_tags`, in
# display order; `sql/upgrade/01_add_image_tags.sql` is the same for an administrator. Each
# dialect does it under a lock, so workers starting together on such a database upgrade it once
# and none reads a half-filled column.
MYSQL_ADD_TAGS_COLUMN = (
    "ALTER TABLE images ADD COLUMN tags TEXT NULL AFTER prompt",
    """UPDATE images i SET i.tags = COALESCE(
        (SELECT CONCAT('[', GROUP_CONCAT(JSON_QUOTE(t.tag) ORDER BY t.ordinal SEPARATOR ','), ']')
         FROM image_tags t WHERE t.image_id = i.id), '[]')""",
    "ALTER TABLE images MODIFY tags TEXT NOT NULL",
)
_SCHEMA_LOCK_TIMEOUT_S = 300


def _has_tags_column(engine: sa.Engine) -> bool:
    return "tags" in {column["name"] for column in sa.inspect(engine).get_columns("images")}


def _add_tags_column(engine: sa.Engine) -> None:
    if engine.dialect.name == "sqlite":
        _add_tags_column_sqlite(engine)
        return
    with engine.connect() as connection:
        lock = sa.text("SELECT GET_LOCK('pixyproxy_schema', :timeout_s)")
        if connection.execute(lock, {"timeout_s": _SCHEMA_LOCK_TIMEOUT_S}).scalar() != 1:
            raise RepositoryUnavailable("another process has held the schema upgrade for too long")
        try:
            connection.commit()
            if not _has_tags_column(engine):
                for statement in MYSQL_ADD_TAGS_COLUMN:
                    connection.execute(sa.text(statement))
                    connection.commit()
        finally:
            connection.execute(sa.text("SELECT RELEASE_LOCK('pixyproxy_schema')"))


def _add_tags_column_sqlite(engine: sa.Engine) -> None:
    # One IMMEDIATE transaction (SQLite's DDL is transactional): a second worker waits for it,
    # then finds the column. JSON the same way `rows.tags_column` writes it.
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            names = {row[1] for row in cursor.execute("PRAGMA table_info(images)").fetchall()}
            if "tags" not in names:
                cursor.execute("ALTER TABLE images ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'")
                tags_of: dict[int, list[str]] = {}
                for image_id, tag in cursor.execute(
                    "SELECT image_id, tag FROM image_tags ORDER BY image_id, ordinal"
                ).fetchall():
                    tags_of.setdefault(image_id, []).append(tag)
                cursor.executemany(
                    "UPDATE images SET tags = ? WHERE id = ?",
                    [(tags_column(tags), image_id) for image_id, tags in tags_of.items()],
                )
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    finally:
        raw.close()
