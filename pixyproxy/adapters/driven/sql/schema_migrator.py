"""`SchemaMigrator` over Alembic, for SQLite and MySQL/MariaDB alike.

Reading where the schema stands takes no lock and issues no DDL, so a least-privilege account
runs pixyproxy on a database an administrator keeps current. Upgrading takes the lock every
process respects (`schema_lock`), then looks again: of two workers or instances starting
together on an old database, one migrates and the other finds it done.
"""

from __future__ import annotations

import functools
import itertools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pixyproxy.adapters.driven.sql.engine import create_migration_engine
from pixyproxy.adapters.driven.sql.errors import describe_error, translated_errors
from pixyproxy.adapters.driven.sql.schema_lock import schema_lock
from pixyproxy.domain.exceptions import RepositoryUnavailable, SchemaMismatch
from pixyproxy.ports.schema_migrator import SchemaMigrator, SchemaStatus

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)
# Importing Alembic sets up its autogenerate plugins, logging one INFO line each, in every
# worker that starts: nothing an operator needs. (Alembic is imported only below this.)
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The tables of the release before schema revisions, which recorded none: a database holding
# all of them and no version table is that release's, and its schema is revision 0001's
# (0002 then mends the variants that release left behind).
RELEASE_TABLES = frozenset({"images", "image_tags", "api_keys", "idempotency_keys"})
RELEASE_REVISION = "0001"
VERSION_TABLE = "alembic_version"
_SELECT_REVISIONS = sa.text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608
# MySQL errors that mean "this account may not": table, database and global privileges.
_MYSQL_DENIED = frozenset({1044, 1142, 1227})


def alembic_config(**attributes: Any) -> Config:
    """Alembic's configuration, without an ini file; `env.py` reads `attributes`."""
    from alembic.config import Config

    config = Config(output_buffer=attributes.pop("output_buffer", None))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes.update(attributes)
    return config


@functools.cache
def scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = scripts().get_current_head()
    assert head is not None, "the migrations have no head"
    return head


def upgrade_steps(revision: str | None, unversioned: bool = False) -> list[tuple[str, str]]:
    """The (from, to) revision pairs between `revision` and the head, oldest first; a
    previous release's database first becomes `RELEASE_REVISION`."""
    start = RELEASE_REVISION if unversioned else revision
    path = [r.revision for r in scripts().iterate_revisions(head_revision(), start)]
    chain = [start or "base", *reversed(path)]
    return list(itertools.pairwise(chain))


def admin_scripts(status: SchemaStatus) -> list[str]:
    """The `sql/` scripts an administrator applies to bring this database to the head."""
    if status.revision is None and not status.unversioned:
        return ["sql/03_create_tables.sql"]  # incomplete ones too: the admin sees the error
    stamp = ["sql/upgrade/stamp-release-as-0001.sql"] if status.unversioned else []
    steps = upgrade_steps(status.revision, status.unversioned)
    return stamp + [f"sql/upgrade/{a}-{b}.sql" for a, b in steps]


class SqlSchemaMigrator(SchemaMigrator):
    """Migrates the database of `engine` (the serving engine: migrations run on an unpooled
    engine of their own, with transactions and long timeouts)."""

    def __init__(self, engine: sa.Engine, *, lock_timeout_s: float = 600.0) -> None:
        self._engine = engine
        self._lock_timeout_s = lock_timeout_s

    def status(self) -> SchemaStatus:
        with translated_errors("read the schema revision"), self._engine.connect() as c:
            return _status(c)

    def upgrade(self) -> SchemaStatus:
        migration_engine = create_migration_engine(self._engine.url)
        try:
            with (
                translated_errors("upgrade the database schema"),
                schema_lock(migration_engine, self._lock_timeout_s),
            ):
                return _upgrade(migration_engine)
        finally:
            migration_engine.dispose()

    def downgrade(self, revision: str) -> None:
        """Undo revisions down to `revision` ("base": all of them), as `upgrade` runs them:
        under the lock, on the migration engine. For tests and for operators going back to
        an older pixyproxy; the CLI does not offer it."""
        from alembic import command

        migration_engine = create_migration_engine(self._engine.url)
        try:
            with (
                translated_errors("downgrade the database schema"),
                schema_lock(migration_engine, self._lock_timeout_s),
                migration_engine.connect() as connection,
            ):
                command.downgrade(alembic_config(connection=connection), revision)
                connection.commit()
        finally:
            migration_engine.dispose()

    def ensure_current(self, *, auto_migrate: bool) -> None:
        status = self.status()
        if status.current:
            return
        if status.ahead:
            raise SchemaMismatch(_ahead(status))
        if not auto_migrate:
            raise SchemaMismatch(
                f"the database schema is {status.describe()}; this pixyproxy needs "
                f"{status.head}, and automatic migration is off (PIXYPROXY_AUTO_MIGRATE): "
                "run `pixyproxy db upgrade`, or have an administrator apply "
                f"{', then '.join(admin_scripts(status))}"
            )
        self.upgrade()


def _status(connection: sa.Connection) -> SchemaStatus:
    # Read directly rather than through Alembic's MigrationContext: two queries, and no
    # log lines from every worker that starts.
    head = head_revision()
    tables = set(sa.inspect(connection).get_table_names())
    revisions = []
    if VERSION_TABLE in tables:
        revisions = list(connection.execute(_SELECT_REVISIONS).scalars())
    if len(revisions) > 1:  # branches: no revision of ours ever makes them
        return SchemaStatus(revision=",".join(sorted(revisions)), head=head, known=False)
    if revisions:
        revision = revisions[0]
        from alembic.util import CommandError

        try:
            scripts().get_revision(revision)
        except CommandError:
            return SchemaStatus(revision=revision, head=head, known=False)
        return SchemaStatus(revision=revision, head=head)
    present = RELEASE_TABLES.intersection(tables)
    return SchemaStatus(
        revision=None,
        head=head,
        unversioned=present == RELEASE_TABLES,
        incomplete=bool(present) and present != RELEASE_TABLES,
    )


def _upgrade(engine: sa.Engine) -> SchemaStatus:
    with engine.connect() as connection:
        before = _status(connection)
        # Ends the read's transaction: Alembic commits only the transactions it began.
        connection.commit()
        if before.ahead:
            raise SchemaMismatch(_ahead(before))
        if before.current:
            return before
        if before.incomplete:
            # Under the lock, so no migration is half done: someone else's tables, or ours
            # partly dropped.
            present = sorted(RELEASE_TABLES.intersection(sa.inspect(connection).get_table_names()))
            raise SchemaMismatch(
                f"the database holds some of pixyproxy's tables ({', '.join(present)}) but "
                "not all, and records no schema revision: it is neither empty nor a database "
                "pixyproxy made; restore it, or point pixyproxy at an empty database"
            )
        log.info("upgrading the database schema from %s to %s", before.describe(), before.head)
        from alembic import command
        from alembic.util import CommandError

        config = alembic_config(connection=connection)
        try:
            if before.unversioned:
                command.stamp(config, RELEASE_REVISION)
            command.upgrade(config, "head")
        except sa.exc.DBAPIError as e:
            if _denied(e):
                raise SchemaMismatch(_denied_message(before, e)) from e
            raise
        except CommandError as e:  # a revision Alembic cannot apply: a defect, logged with it
            raise RepositoryUnavailable(f"could not upgrade the database schema: {e}") from e
        connection.commit()
        log.info("the database schema is at %s", before.head)
        return before


def _denied(error: sa.exc.DBAPIError) -> bool:
    args: tuple[Any, ...] = getattr(error.orig, "args", ())
    return bool(args) and args[0] in _MYSQL_DENIED


def _denied_message(status: SchemaStatus, error: sa.exc.DBAPIError) -> str:
    return (
        f"the database schema is {status.describe()}; this pixyproxy needs {status.head}, "
        f"and this database account may not change the schema ({describe_error(error)}): "
        f"have an administrator apply {', then '.join(admin_scripts(status))} "
        "(README, Running on MySQL), or run `pixyproxy db upgrade` with an account that may"
    )


def _ahead(status: SchemaStatus) -> str:
    return (
        f"the database schema is at revision {status.revision}, which this pixyproxy does not "
        f"know (its newest is {status.head}): a newer pixyproxy migrated it; run that version"
    )
