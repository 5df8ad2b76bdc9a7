"""The tables as revision 0001 creates them. History: never edit this module.

Revision 0001 creates these in an empty database; revision 0002 rebuilds a previous release's
SQLite tables into them. Spelled out here rather than taken from `tables`, which follows the
newest revision: a revision must keep doing what it did when it shipped.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import conv

from pixyproxy.adapters.driven.sql.column_types import (
    MYSQL_TABLE_OPTIONS,
    UtcDateTime,
    ascii_char,
    ascii_string,
    surrogate_id,
)


def tables() -> list[sa.Table]:
    """Parents first. Every name is final (`conv`), whatever naming convention applies."""
    metadata = sa.MetaData()
    images = sa.Table(
        "images",
        metadata,
        sa.Column("id", surrogate_id(), primary_key=True),
        sa.Column("guid", ascii_char(36), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("byte_size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("sha256", ascii_char(64), nullable=False),
        sa.Column("revised_prompt", sa.Text(), nullable=True),
        sa.Column("upstream_request_id", sa.String(255), nullable=True),
        sa.Column("usage_input_tokens", sa.Integer(), nullable=True),
        sa.Column("usage_output_tokens", sa.Integer(), nullable=True),
        sa.Column("usage_total_tokens", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("guid", name=conv("uq_images_guid")),
        sa.Index(conv("ix_images_newest"), "created_at", "guid"),
        sa.Index(conv("ix_images_author_newest"), "author", "created_at", "guid"),
        sa.Index(conv("ix_images_filename"), "filename"),
        **MYSQL_TABLE_OPTIONS,
    )
    image_tags = sa.Table(
        "image_tags",
        metadata,
        sa.Column("image_id", surrogate_id(), primary_key=True),
        sa.Column("tag", sa.String(32), primary_key=True),
        sa.Column("ordinal", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("guid", ascii_char(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=conv("fk_image_tags_image"), ondelete="CASCADE"
        ),
        sa.Index(conv("ix_image_tags_newest"), "tag", "created_at", "guid"),
        **MYSQL_TABLE_OPTIONS,
    )
    api_keys = sa.Table(
        "api_keys",
        metadata,
        sa.Column("id", surrogate_id(), primary_key=True),
        sa.Column("prefix", sa.String(64), nullable=False),
        sa.Column("key_hash", ascii_char(64), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("prefix", name=conv("uq_api_keys_prefix")),
        sa.UniqueConstraint("key_hash", name=conv("uq_api_keys_key_hash")),
        **MYSQL_TABLE_OPTIONS,
    )
    idempotency_keys = sa.Table(
        "idempotency_keys",
        metadata,
        sa.Column("author", sa.String(64), primary_key=True),
        sa.Column("idem_key", ascii_string(255), primary_key=True),
        sa.Column("request_hash", ascii_char(64), nullable=False),
        sa.Column("image_guid", ascii_char(36), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        **MYSQL_TABLE_OPTIONS,
    )
    return [images, image_tags, api_keys, idempotency_keys]


def sorted_constraints(table: sa.Table) -> list[sa.Constraint]:
    """`table.constraints` in a fixed order (it is a set, and the generated scripts must not
    change from one run to the next): the primary key, unique constraints, foreign keys, each
    kind by the position of its first column, as declared."""
    kinds = (sa.PrimaryKeyConstraint, sa.UniqueConstraint, sa.ForeignKeyConstraint)
    positions = {name: n for n, name in enumerate(table.columns.keys())}

    def key(constraint: sa.Constraint) -> tuple[int, list[int]]:
        kind = next(n for n, k in enumerate(kinds) if isinstance(constraint, k))
        columns = getattr(constraint, "columns", [])
        return kind, [positions[column.name] for column in columns]

    return sorted(table.constraints, key=key)


def sorted_indexes(table: sa.Table) -> list[sa.Index]:
    """`table.indexes` (a set too) in name order."""
    return sorted(table.indexes, key=lambda index: str(index.name))
