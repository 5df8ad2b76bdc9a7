"""SQL persistence: an embedded SQLite file by default, MySQL/MariaDB in production.

SQLAlchemy Core over the sqlite3 and pymysql drivers; one repository class per port serves
both dialects. The schema is `tables`, changed only by the Alembic migrations in `migrations/`,
which `SqlSchemaMigrator` applies.
"""

from pixyproxy.adapters.driven.sql.api_key_store import SqlApiKeyStore
from pixyproxy.adapters.driven.sql.engine import create_engine_from_url
from pixyproxy.adapters.driven.sql.idempotency_store import SqlIdempotencyStore
from pixyproxy.adapters.driven.sql.image_repository import SqlImageRepository
from pixyproxy.adapters.driven.sql.schema_migrator import SqlSchemaMigrator

__all__ = [
    "SqlApiKeyStore",
    "SqlIdempotencyStore",
    "SqlImageRepository",
    "SqlSchemaMigrator",
    "create_engine_from_url",
]
