"""Renditions: `image_renditions` records each stored rendition of an image, and
`images.placeholder` holds its ThumbHash.

Images made before this revision have neither; `pixyproxy renditions backfill` gives them their
thumbnail and placeholder (their other renditions are made on first request).

Downgrading drops both. The renditions' bytes stay in the blob store, where the previous
version's garbage collector finds them as orphans (no row names their keys).

Revision ID: 0004
Revises: 0002 (the lead rechains it after 0003 at merge)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.sql.elements import conv

from pixyproxy.adapters.driven.sql.column_types import (
    MYSQL_TABLE_OPTIONS,
    ascii_char,
    ascii_string,
    surrogate_id,
)

revision = "0004"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("images", sa.Column("placeholder", ascii_string(64), nullable=True))
    op.create_table(
        "image_renditions",
        sa.Column("image_id", surrogate_id(), primary_key=True),
        sa.Column("width", sa.Integer(), primary_key=True),
        sa.Column("format", ascii_string(8), primary_key=True),
        sa.Column("blob_key", sa.String(255), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("byte_size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", ascii_char(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=conv("fk_image_renditions_image"), ondelete="CASCADE"
        ),
        **MYSQL_TABLE_OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("image_renditions")
    # SQLite cannot drop a column in place: the batch rebuilds `images` without it.
    with op.batch_alter_table("images") as batch:
        batch.drop_column("placeholder")
