"""SQL persistence: an embedded SQLite file by default, MySQL/MariaDB in production.

SQLAlchemy Core over the sqlite3 and pymysql drivers; one repository class per port serves
both dialects.
"""

from pixyproxy.adapters.driven.sql.api_key_store import SqlApiKeyStore
from pixyproxy.adapters.driven.sql.engine import create_engine_from_url
from pixyproxy.adapters.driven.sql.idempotency_store import SqlIdempotencyStore
from pixyproxy.adapters.driven.sql.image_repository import SqlImageRepository
from pixyproxy.adapters.driven.sql.init import init_schema

__all__ = [
    "SqlApiKeyStore",
    "SqlIdempotencyStore",
    "SqlImageRepository",
    "create_engine_from_url",
    "init_schema",
]
