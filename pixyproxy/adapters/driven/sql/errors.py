"""The one place where SQLAlchemy and driver errors become domain exceptions.

Messages name the failed action and the driver's error code, never the SQL, its parameters or
the URL: SQLAlchemy's own messages carry the statement, and callers may show ours to clients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import exc

from pixyproxy.domain.exceptions import PixyProxyException, RepositoryUnavailable


@contextmanager
def translated_errors(
    action: str, *, on_integrity: Callable[[], PixyProxyException] | None = None
) -> Iterator[None]:
    """Run a block, turning database errors into `RepositoryUnavailable` (or, for an integrity
    violation, into whatever `on_integrity` builds)."""
    try:
        yield
    except exc.IntegrityError as e:
        if on_integrity is None:
            raise RepositoryUnavailable(_describe(action, e)) from e
        raise on_integrity() from e
    except exc.TimeoutError as e:
        raise RepositoryUnavailable(
            f"could not {action}: no database connection became free in time"
        ) from e
    except (exc.DBAPIError, exc.DisconnectionError) as e:
        # Programming errors (a missing table, say) land here too: to a caller the database
        # cannot serve the request either way, and the chained cause keeps the detail for logs.
        raise RepositoryUnavailable(_describe(action, e)) from e


def ping(engine: sa.Engine) -> None:
    """Return when the database answers a trivial query; raise `RepositoryUnavailable`."""
    with translated_errors("reach the database"), engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def _describe(action: str, error: exc.SQLAlchemyError) -> str:
    return f"could not {action} ({describe_error(error)})"


def describe_error(error: exc.SQLAlchemyError) -> str:
    """The driver's error class and code, e.g. `OperationalError 1142`: never its message,
    which may quote the statement."""
    original = getattr(error, "orig", None)
    if original is None:
        return type(error).__name__
    code = getattr(original, "sqlite_errorname", None)
    if code is None and original.args and isinstance(original.args[0], int):
        code = original.args[0]
    suffix = f" {code}" if code is not None else ""
    return f"{type(original).__name__}{suffix}"
