"""The lock that makes schema migrations one at a time across processes and hosts: MySQL's
GET_LOCK, per database, held by a connection of its own; on SQLite an exclusive flock on
`<database>.migration-lock` beside the file, which every process on that host respects."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from pixyproxy.domain.exceptions import RepositoryUnavailable

log = logging.getLogger(__name__)


@contextlib.contextmanager
def schema_lock(engine: sa.Engine, timeout_s: float) -> Iterator[None]:
    """Hold the lock of `engine`'s database for the block, waiting up to `timeout_s` for it.
    Raises `RepositoryUnavailable` when that runs out (or the lock cannot be taken)."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database or ""
        with _file_lock(Path(f"{database}.migration-lock"), timeout_s):
            yield
    else:
        with _mysql_lock(engine, timeout_s):
            yield


@contextlib.contextmanager
def _mysql_lock(engine: sa.Engine, timeout_s: float) -> Iterator[None]:
    # Lock names are server-wide: one per database, so that two databases on one server
    # (two deployments, or the tests') do not wait for each other. At most 64 characters.
    name = f"pixyproxy_schema:{engine.url.database}"[:64]
    with engine.connect() as connection:
        deadline = time.monotonic() + timeout_s
        # Short waits, each well inside the connection's read timeout.
        while (got := _get_lock(connection, name)) == 0:
            if time.monotonic() >= deadline:
                raise RepositoryUnavailable(_lock_timeout_message(timeout_s))
            log.info("waiting for another process to finish migrating the database schema")
        if got != 1:
            raise RepositoryUnavailable("could not take the schema migration lock (GET_LOCK)")
        try:
            yield
        finally:
            with contextlib.suppress(sa.exc.DBAPIError):
                connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})


def _get_lock(connection: sa.Connection, name: str) -> int | None:
    got = connection.execute(sa.text("SELECT GET_LOCK(:name, 2)"), {"name": name}).scalar()
    # A session lock outlives transactions; this one holds nothing else open.
    connection.commit()
    return None if got is None else int(got)


@contextlib.contextmanager
def _file_lock(path: Path, timeout_s: float) -> Iterator[None]:
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise RepositoryUnavailable(
            f"could not open the schema migration lock file {path} ({e.strerror})"
        ) from e
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RepositoryUnavailable(_lock_timeout_message(timeout_s)) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _lock_timeout_message(timeout_s: float) -> str:
    return (
        f"another process has been migrating the database schema for over {timeout_s:.0f} s; "
        "see its log, then try again"
    )
