"""The column types pixyproxy's tables are made of, on SQLite and MySQL/MariaDB.

`tables` and the migrations both build columns from these, so that "a GUID column" or "a
timestamp" is spelled once. A migration that has shipped must go on producing the same DDL:
never change what one of these renders; add a new type (and a migration) instead. The schema
tests compare the result with the previous release's own DDL, so a change would show there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Dialect
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator, TypeEngine

_MYSQL = ("mysql", "mariadb")

# Table-level, so the schema does not depend on how the database was created. utf8mb4_bin:
# authors, tags and prefixes compare exactly, as the application compares them
# (sql/01_create_database.sql says why at length).
MYSQL_TABLE_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def surrogate_id() -> TypeEngine[int]:
    """An auto-assigned id: BIGINT AUTO_INCREMENT on MySQL; INTEGER on SQLite, where only an
    INTEGER PRIMARY KEY gets ids assigned (SQLite accepts AUTO_INCREMENT, then leaves the
    column NULL). Columns that refer to one use the same type."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def ascii_char(length: int) -> TypeEngine[str]:
    """Fixed-length hex or GUID text: on MySQL one byte a character, compared bytewise as
    Python compares strings, so ties sort the same in the database and in the application."""
    return sa.CHAR(length).with_variant(
        mysql.CHAR(length, charset="ascii", collation="ascii_bin"), *_MYSQL
    )


def ascii_string(length: int) -> TypeEngine[str]:
    """Variable-length ASCII text, compared bytewise (see `ascii_char`)."""
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), *_MYSQL
    )


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored as naive UTC (DATETIME(6) on MySQL, for the microseconds) and
    returned aware again.

    Declared on the binds and result columns of statements too: without it SQLite would get
    Python's default text form (which drops zero microseconds and breaks ordering) and give
    strings back.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in _MYSQL:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("naive datetimes are ambiguous; pass a timezone-aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)
