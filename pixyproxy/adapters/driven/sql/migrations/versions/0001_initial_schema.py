"""Create the schema from nothing: images, image_tags, api_keys and idempotency_keys.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from alembic import op
from alembic.operations.ops import CreateIndexOp, CreateTableOp

from pixyproxy.adapters.driven.sql.migrations import schema_0001

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in schema_0001.tables():
        items = [*table.columns, *schema_0001.sorted_constraints(table)]
        op.invoke(CreateTableOp(table.name, items, **table.kwargs))
        for index in schema_0001.sorted_indexes(table):
            op.invoke(CreateIndexOp.from_index(index))


def downgrade() -> None:
    for table in reversed(schema_0001.tables()):
        op.drop_table(table.name)
