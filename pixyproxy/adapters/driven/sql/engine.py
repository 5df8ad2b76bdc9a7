"""Engines for the two supported databases: an embedded SQLite file and MySQL/MariaDB.

Everything dialect-specific about connecting lives here; the repositories only see an Engine.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.pool import QueuePool

log = logging.getLogger(__name__)

_MYSQL_BACKENDS = {"mysql", "mariadb"}

# TRADITIONAL makes an over-long or out-of-range value an error instead of a silent truncation,
# whatever the server's global sql_mode says.
_MYSQL_SQL_MODE = "TRADITIONAL"


def create_engine_from_url(
    url: str,
    *,
    pool_size: int = 20,
    max_overflow: int = 0,
    pool_timeout_s: float = 5.0,
    connect_timeout_s: float = 5.0,
    pool_recycle_s: int = 1800,
    query_timeout_s: float = 10.0,
) -> sa.Engine:
    """An engine for `sqlite:///path/to/file.db` or `mysql+pymysql://user:pw@host:port/db`.

    Both get a bounded pool that fails after `pool_timeout_s` when exhausted. MySQL connections
    are pinged before use and recycled after `pool_recycle_s`; connecting gives up after
    `connect_timeout_s`, a read or write on an open connection (the server's greeting
    included) after `query_timeout_s`, so a silent server cannot hold a request forever.
    Raises `ValueError` for any other URL; no message ever contains the password.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        # The ArgumentError itself is harmless, but chaining it would keep `url` in a frame.
        raise ValueError("the database URL could not be parsed") from None
    pool_args: dict[str, Any] = {
        "poolclass": QueuePool,
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout_s,
    }
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, pool_args, busy_timeout_s=connect_timeout_s)
    if backend in _MYSQL_BACKENDS and driver == "pymysql":
        if not parsed.database:
            raise ValueError(
                f"the database URL {parsed.render_as_string(hide_password=True)!r} names no "
                "database: end it with /<database>, e.g. /pixyproxy"
            )
        return sa.create_engine(
            parsed,
            pool_pre_ping=True,
            pool_recycle=pool_recycle_s,
            connect_args=_mysql_connect_args(connect_timeout_s, query_timeout_s),
            # Reads run in autocommit, so a connection going back to the pool needs no
            # ROLLBACK round trip; writes open a real transaction with `transaction()`.
            isolation_level="AUTOCOMMIT",
            skip_autocommit_rollback=True,
            **pool_args,
        )
    raise ValueError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///path/to/file.db or mysql+pymysql://user:password@host:port/database"
    )


def create_migration_engine(
    url: URL, *, connect_timeout_s: float = 10.0, query_timeout_s: float = 3600.0
) -> sa.Engine:
    """An engine for schema migrations on the database of `url` (an engine's `url`), unpooled.

    Unlike the serving engine it opens real transactions, and allows a statement
    `query_timeout_s` (an ALTER of a big table takes minutes). On SQLite the driver is made to
    open the transaction itself (BEGIN IMMEDIATE: the write lock, up front), so that DDL is
    transactional, and foreign keys are not enforced: rebuilding a parent table (drop, then
    rename its copy) would otherwise cascade the drop into its children.
    """
    backend = url.get_backend_name()
    if backend in _MYSQL_BACKENDS:
        return sa.create_engine(
            url,
            poolclass=sa.NullPool,
            connect_args=_mysql_connect_args(connect_timeout_s, query_timeout_s),
        )
    if backend != "sqlite":
        raise ValueError(f"unsupported database {backend!r}")
    engine = sa.create_engine(
        url,
        poolclass=sa.NullPool,
        connect_args={"timeout": connect_timeout_s, "isolation_level": None},
    )

    def on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        _configure_sqlite_connection(dbapi_connection, connect_timeout_s)
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")

    def on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    return engine


def _mysql_connect_args(connect_timeout_s: float, query_timeout_s: float) -> dict[str, Any]:
    return {
        "connect_timeout": connect_timeout_s,
        "read_timeout": query_timeout_s,
        "write_timeout": query_timeout_s,
        "charset": "utf8mb4",
        "sql_mode": _MYSQL_SQL_MODE,
    }


@contextlib.contextmanager
def transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in one transaction, committed at the end of the block, rolled back if it
    raises. Every write goes through here: MySQL connections autocommit (so that a read
    returns its connection without a ROLLBACK round trip), and START TRANSACTION opens a
    real one at the session's isolation level (InnoDB's REPEATABLE READ) until COMMIT. As
    SQL statements, a lost connection surfaces as SQLAlchemy's DBAPIError like any other."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            with connection.begin():
                yield connection
            return
        connection.exec_driver_sql("START TRANSACTION")
        try:
            yield connection
        except BaseException:
            # SQLAlchemy's own state first: a failed statement leaves it pending a rollback.
            connection.rollback()
            if not connection.invalidated:
                try:
                    connection.exec_driver_sql("ROLLBACK")
                except sa.exc.DBAPIError:
                    # Never pool a connection that may still hold the transaction open.
                    connection.invalidate()
            raise
        connection.exec_driver_sql("COMMIT")


def _sqlite_engine(parsed: URL, pool_args: dict[str, Any], *, busy_timeout_s: float) -> sa.Engine:
    database = parsed.database or ""
    if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
        # Each pooled connection would get its own empty database.
        raise ValueError("an in-memory SQLite database cannot be shared: give a file path")
    _keep_private(Path(database))
    engine = sa.create_engine(
        parsed,
        # Requests run in a threadpool; a connection is only ever used by one thread at a time.
        connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
        **pool_args,
    )

    def on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        _configure_sqlite_connection(dbapi_connection, busy_timeout_s)

    event.listen(engine, "connect", on_connect)
    return engine


def _keep_private(database: Path) -> None:
    """The database holds prompts and key hashes: its folder is made 0700, and the file and
    its -wal and -shm companions are 0600 (SQLite gives the companions the database's mode,
    so the database is created with it). A folder that already exists keeps its mode (an
    operator may share it, e.g. with nginx for `x-accel`); a warning says when others may
    list it."""
    folder = database.parent
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    elif folder.stat().st_mode & 0o077:
        log.warning("%s is readable by other users; 0700 would keep it private", folder)
    os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                path.chmod(0o600)


def _configure_sqlite_connection(connection: sqlite3.Connection, busy_timeout_s: float) -> None:
    cursor = connection.cursor()
    try:
        # WAL lets readers proceed while a writer commits.
        _retry_while_locked(lambda: cursor.execute("PRAGMA journal_mode=WAL"), busy_timeout_s)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
    # SQLite's own lower() folds ASCII only; MySQL's folds all of Unicode. The case-insensitive
    # prompt search must behave the same on both, so SQLite gets Python's folding.
    connection.create_function("lower", 1, _unicode_lower, deterministic=True)


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _retry_while_locked(statement: Callable[[], object], timeout_s: float) -> None:
    # Switching a new file to WAL fails at once, without the busy handler, while another
    # connection is doing the same: two workers starting together on a fresh database.
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
