"""pixyproxy's tables, defined once. The migrations (`migrations/versions/`) change the
database to match; a test upgrades an empty database and finds no difference from these.

Adding a column: add it here and in a new migration (`make sql` then regenerates the
administrators' scripts). A column named like a field of the domain record is read and
written by `rows` with no further change.
"""

from __future__ import annotations

import sqlalchemy as sa

from pixyproxy.adapters.driven.sql.column_types import (
    MYSQL_TABLE_OPTIONS,
    UtcDateTime,
    ascii_char,
    ascii_string,
    surrogate_id,
)

# Named indexes and foreign keys give the suffix: `sa.Index("newest", ...)` on images is
# `ix_images_newest`. Unique constraints are named after their first column.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(constraint_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(constraint_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

images = sa.Table(
    "images",
    metadata,
    sa.Column("id", surrogate_id(), primary_key=True),
    # CHAR(36) ASCII rather than BINARY(16): readable in the mysql client and in logs, the
    # same on SQLite, and its bytewise order is the order of the canonical string the
    # application sorts ties by. It costs 20 bytes more per index entry.
    sa.Column("guid", ascii_char(36), nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("prompt", sa.Text(), nullable=False),
    # The tags as a JSON array in display order (`rows.tags_column`), so that one row answers
    # a read; `image_tags` stays the index that tag filters page through.
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
    # A ThumbHash (base64, at most 40 characters) a client paints a blurred preview from;
    # NULL until one is made (images older than renditions get theirs from the backfill).
    sa.Column("placeholder", ascii_string(64), nullable=True),
    sa.UniqueConstraint("guid"),
    # Newest-first pages, unfiltered and by author: a backward range scan of LIMIT rows.
    sa.Index("newest", "created_at", "guid"),
    sa.Index("author_newest", "author", "created_at", "guid"),
    # The blob garbage collector asks which file names are still referenced.
    sa.Index("filename", "filename"),
    **MYSQL_TABLE_OPTIONS,
)

image_tags = sa.Table(
    "image_tags",
    metadata,
    sa.Column(
        "image_id",
        surrogate_id(),
        sa.ForeignKey("images.id", name="image", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("tag", sa.String(32), primary_key=True),
    sa.Column("ordinal", sa.SmallInteger(), nullable=False),
    # created_at and guid repeat the image's (immutable) sort key so that a tag's pages come
    # straight off this index.
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("guid", ascii_char(36), nullable=False),
    sa.Index("newest", "tag", "created_at", "guid"),
    **MYSQL_TABLE_OPTIONS,
)

# The renditions stored for an image, one per real width and format; their bytes live in the
# blob store under `blob_key` (`domain.renditions.rendition_key` of the image's filename).
image_renditions = sa.Table(
    "image_renditions",
    metadata,
    sa.Column(
        "image_id",
        surrogate_id(),
        sa.ForeignKey("images.id", name="image", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("width", sa.Integer(), primary_key=True),
    sa.Column("format", ascii_string(8), primary_key=True),
    sa.Column("blob_key", sa.String(255), nullable=False),
    sa.Column("height", sa.Integer(), nullable=False),
    sa.Column("byte_size", sa.BigInteger(), nullable=False),
    sa.Column("sha256", ascii_char(64), nullable=False),
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
    sa.UniqueConstraint("prefix"),
    sa.UniqueConstraint("key_hash"),
    **MYSQL_TABLE_OPTIONS,
)

# One row per (author, Idempotency-Key): the request's fingerprint, and the image once made.
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
