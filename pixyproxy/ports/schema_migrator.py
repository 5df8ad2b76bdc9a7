from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where the database's schema stands against the one the code needs (`head`).

    `revision` is None when the database records none: it is empty, or (`unversioned`) it
    holds the tables of a release made before schema revisions were recorded, or
    (`incomplete`) only some of them, as while another process is creating them (`upgrade`
    waits for it, then refuses what is still incomplete). `known` is False when the code does
    not know `revision`: a newer pixyproxy migrated the database.
    """

    revision: str | None
    head: str
    known: bool = True
    unversioned: bool = False
    incomplete: bool = False

    @property
    def current(self) -> bool:
        return self.revision == self.head

    @property
    def behind(self) -> bool:
        return self.known and not self.current

    @property
    def ahead(self) -> bool:
        return not self.known

    def describe(self) -> str:
        if self.incomplete:
            return "incomplete (some of pixyproxy's tables, and no revision)"
        if self.unversioned:
            return "unversioned (a database of the release before revisions were recorded)"
        if self.revision is None:
            return "none (an empty database)"
        if self.current:
            return f"{self.revision} (head)"
        if self.ahead:
            return f"{self.revision} (unknown to this pixyproxy, whose head is {self.head})"
        return f"{self.revision} (behind head {self.head})"


class SchemaMigrator(ABC):
    """The database's schema revision, and the migrations that bring it to the code's. Every
    method may raise `RepositoryUnavailable`."""

    @abstractmethod
    def status(self) -> SchemaStatus:
        """Where the schema stands; reads only, changes nothing."""

    @abstractmethod
    def upgrade(self) -> SchemaStatus:
        """Apply every pending migration, one process at a time across processes and hosts,
        and return the status found before. Raises `SchemaMismatch` when the database is
        ahead of the code, not recognised, or may not be changed by this account."""

    @abstractmethod
    def ensure_current(self, *, auto_migrate: bool) -> None:
        """Return once the schema is the code's: at once when it is (no DDL, no lock), else by
        `upgrade` when `auto_migrate`. Raises `SchemaMismatch` when the database is behind and
        `auto_migrate` is off, or for what `upgrade` refuses."""
