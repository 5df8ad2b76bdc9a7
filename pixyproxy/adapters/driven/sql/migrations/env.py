"""Alembic's entry point, run by `schema_migrator` with everything in `config.attributes`:
online, the `connection` to migrate (the migrator holds the cross-process lock); offline
(`make sql`), the `dialect_name` to render SQL for, written to the config's output buffer."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from pixyproxy.adapters.driven.sql.tables import metadata

config = context.config


def _run_offline() -> None:
    context.configure(
        dialect_name=config.attributes["dialect_name"],
        literal_binds=True,
        target_metadata=metadata,
        output_buffer=config.output_buffer,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = config.attributes["connection"]
    sqlite = connection.dialect.name == "sqlite"
    if sqlite and _foreign_keys_enforced(connection):
        # Rebuilding a table (batch mode) drops it: with foreign keys on, that deletes the
        # rows of every table referring to it (ON DELETE CASCADE).
        raise RuntimeError(
            "SQLite migrations need foreign keys off: run them through SqlSchemaMigrator"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite's DDL is transactional: the whole upgrade commits or none of it does (the
        # migrator's engine makes the driver actually open that transaction). MySQL commits
        # each DDL statement by itself, so there each revision is recorded as soon as it ran.
        transactional_ddl=sqlite,
        transaction_per_migration=not sqlite,
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _foreign_keys_enforced(connection: Connection) -> bool:
    began = not connection.in_transaction()
    enforced = bool(connection.exec_driver_sql("PRAGMA foreign_keys").scalar())
    if began:
        connection.rollback()  # leaves the transaction to Alembic, as it was
    return enforced


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
