"""Every query the SQL repositories run.

Writes are Core statements over `tables`, so their column lists are the tables'. Reads stay
hand-written `text()` SQL with named parameters: the image reads (details by guid, the
listing, the contents batch) were tuned with profiles for `make bench` (bench/RESULTS.md), and
a Core SELECT costs SQLAlchemy a cache-key walk and typed result processing on every call.
Their column lists still come from `tables`.

The SQL is the common subset of SQLite, MySQL 8 and MariaDB 10.11. Sorting and paging follow
the indexes in `tables`: newest first by (created_at, guid), continuing strictly after an
anchor with `created_at < :c OR (created_at = :c AND guid < :g)`, spelled out because MySQL
plans the row-value form `(created_at, guid) < (:c, :g)` poorly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.sql.selectable import TextualSelect

from pixyproxy.adapters.driven.sql.column_types import UtcDateTime
from pixyproxy.adapters.driven.sql.tables import (
    api_keys,
    idempotency_keys,
    image_renditions,
    image_tags,
    images,
)
from pixyproxy.domain.models import ImageQuery

_UTC = UtcDateTime()

# `!` rather than backslash: MySQL reads '\\' as one character and SQLite as two.
LIKE_ESCAPE = "!"


def _at(*names: str) -> list[Any]:
    return [bindparam(name, type_=_UTC) for name in names]


# Every column of `images`, for `rows.row_to_image`.
IMAGE_COLUMNS = ", ".join(f"i.{column.name}" for column in images.columns)

INSERT_IMAGE = images.insert()

INSERT_TAG = image_tags.insert()

# S608 below: these strings are assembled from constants only; every value is a bound parameter.
# The tags come with the row (`images.tags`): one row, one round trip.
IMAGE_BY_GUID_SQL = f"SELECT {IMAGE_COLUMNS} FROM images i WHERE i.guid = :guid"  # noqa: S608
# The image reads declare no column types: a TextualSelect's typed columns cost SQLAlchemy a
# by-name match of every result column on every execution. `rows.row_to_image` converts.
SELECT_IMAGE_BY_GUID = text(IMAGE_BY_GUID_SQL)

SELECT_IMAGE_KEY = text("SELECT id, created_at FROM images WHERE guid = :guid").columns(
    created_at=_UTC
)

SET_IMAGE_TAGS = text(
    "UPDATE images SET tags = :tags, updated_at = :updated_at WHERE guid = :guid"
).bindparams(*_at("updated_at"))

DELETE_TAGS_OF_IMAGE = text("DELETE FROM image_tags WHERE image_id = :image_id")

DELETE_IMAGE = text("DELETE FROM images WHERE id = :image_id")

SELECT_FILENAMES_AMONG = text(
    "SELECT filename FROM images WHERE filename IN :filenames"
).bindparams(bindparam("filenames", expanding=True))

SELECT_CONTENTS_AMONG = text(
    """SELECT guid, filename, content_type, byte_size, sha256, width, height FROM images
    WHERE guid IN :guids"""
).bindparams(bindparam("guids", expanding=True))

_RENDITION_COLUMNS = ", ".join(
    f"r.{column.name}" for column in image_renditions.columns if column.name != "image_id"
)

INSERT_RENDITION = image_renditions.insert()

SELECT_RENDITION = text(
    f"""SELECT {_RENDITION_COLUMNS} FROM image_renditions r
    JOIN images i ON i.id = r.image_id
    WHERE i.guid = :guid AND r.width = :width AND r.format = :format"""  # noqa: S608
)

SELECT_RENDITION_OF_ID = text(
    f"""SELECT {_RENDITION_COLUMNS} FROM image_renditions r
    WHERE r.image_id = :image_id AND r.width = :width AND r.format = :format"""  # noqa: S608
)

SELECT_RENDITIONS_OF_IMAGE = text(
    f"""SELECT {_RENDITION_COLUMNS} FROM image_renditions r
    JOIN images i ON i.id = r.image_id WHERE i.guid = :guid"""  # noqa: S608
)

UPDATE_RENDITION = text(
    """UPDATE image_renditions SET blob_key = :blob_key, height = :height,
        byte_size = :byte_size, sha256 = :sha256
    WHERE image_id = :image_id AND width = :width AND format = :format"""
)

DELETE_RENDITIONS_OF_IMAGE = text("DELETE FROM image_renditions WHERE image_id = :image_id")

SET_PLACEHOLDER = text("UPDATE images SET placeholder = :placeholder WHERE guid = :guid")

SELECT_WITHOUT_PLACEHOLDER = text(
    f"""SELECT {IMAGE_COLUMNS} FROM images i
    WHERE i.placeholder IS NULL AND i.id > :after_id ORDER BY i.id LIMIT :limit"""  # noqa: S608
)

COUNT_WITHOUT_PLACEHOLDER = text("SELECT COUNT(*) FROM images WHERE placeholder IS NULL")

SELECT_FILENAMES_PAGE = text(
    "SELECT id, filename FROM images WHERE id > :after_id ORDER BY id LIMIT :limit"
)


def list_images(query: ImageQuery) -> tuple[TextClause, dict[str, Any]]:
    """The newest-first listing for `query`, and its parameters.

    With tags, the first tag's index rows drive the scan and sort the page; the other tags
    are checked per candidate, so the rarest tag is best given first. Without tags, the
    images' own (author,) created_at, guid index does the same job.
    """
    tags = list(dict.fromkeys(query.tags))
    params: dict[str, Any] = {"limit": query.limit}
    where: list[str] = []
    if tags:
        source, key = "image_tags t JOIN images i ON i.id = t.image_id", "t"
        where.append("t.tag = :tag_0")
        params.update({f"tag_{n}": tag for n, tag in enumerate(tags)})
        if len(tags) > 1:
            # A correlated count, not EXISTS: MariaDB turns EXISTS into a semi-join, may then
            # drive from the other tag and sort its every row, and so a page costs more the
            # more images carry that tag.
            others = ", ".join(f":tag_{n}" for n in range(1, len(tags)))
            where.append(
                "(SELECT COUNT(*) FROM image_tags other"  # noqa: S608
                f" WHERE other.image_id = t.image_id AND other.tag IN ({others}))"
                " = :other_tag_count"
            )
            params["other_tag_count"] = len(tags) - 1
    else:
        source, key = "images i", "i"
    if query.author is not None:
        where.append("i.author = :author")
        params["author"] = query.author
    if query.text is not None:
        where.append(f"LOWER(i.prompt) LIKE LOWER(:text_pattern) ESCAPE '{LIKE_ESCAPE}'")
        params["text_pattern"] = f"%{escape_like(query.text)}%"
    if query.after is not None:
        where.append(
            f"({key}.created_at < :after_created_at"
            f" OR ({key}.created_at = :after_created_at AND {key}.guid < :after_guid))"
        )
        params["after_created_at"] = query.after.created_at
        params["after_guid"] = str(query.after.guid)
    sql = (
        f"SELECT {IMAGE_COLUMNS} FROM {source}"  # noqa: S608
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY {key}.created_at DESC, {key}.guid DESC LIMIT :limit"
    )
    clause: TextClause = text(sql)
    if query.after is not None:
        clause = clause.bindparams(*_at("after_created_at"))
    return clause, params


def escape_like(value: str) -> str:
    """`value` as a LIKE pattern that matches only itself."""
    for special in (LIKE_ESCAPE, "%", "_"):
        value = value.replace(special, LIKE_ESCAPE + special)
    return value


_API_KEY_COLUMNS = ", ".join(column.name for column in api_keys.columns if column.name != "id")


def _api_key_select(sql: str) -> TextualSelect:
    datetimes = {c.name: c.type for c in api_keys.columns if isinstance(c.type, UtcDateTime)}
    return text(sql).columns(**datetimes)


INSERT_API_KEY = api_keys.insert()

SELECT_API_KEY_BY_HASH = _api_key_select(
    f"SELECT {_API_KEY_COLUMNS} FROM api_keys WHERE key_hash = :key_hash"  # noqa: S608
)

SELECT_API_KEYS = _api_key_select(
    f"SELECT {_API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, prefix"  # noqa: S608
)

# SUBSTR rather than LIKE: SQLite's LIKE ignores ASCII case, and prefixes are case-sensitive.
REVOKE_API_KEYS = text(
    """UPDATE api_keys SET revoked_at = :revoked_at
    WHERE revoked_at IS NULL AND SUBSTR(prefix, 1, :prefix_length) = :prefix"""
).bindparams(*_at("revoked_at"))


INSERT_IDEMPOTENCY = idempotency_keys.insert()

SELECT_IDEMPOTENCY = text(
    """SELECT author, idem_key, request_hash, image_guid, created_at, expires_at
    FROM idempotency_keys WHERE author = :author AND idem_key = :idem_key"""
).columns(created_at=_UTC, expires_at=_UTC)

# Compare-and-set: replaces the record only if it is still exactly the one we judged
# replaceable, so two claimants racing for a stale key cannot both win.
TAKE_OVER_IDEMPOTENCY = text(
    """UPDATE idempotency_keys
    SET request_hash = :request_hash, image_guid = NULL,
        created_at = :created_at, expires_at = :expires_at
    WHERE author = :author AND idem_key = :idem_key AND created_at = :held_created_at
        AND ((:held_image_guid IS NULL AND image_guid IS NULL) OR image_guid = :held_image_guid)"""
).bindparams(*_at("created_at", "expires_at", "held_created_at"))

COMPLETE_IDEMPOTENCY = text(
    """UPDATE idempotency_keys SET image_guid = :image_guid
    WHERE author = :author AND idem_key = :idem_key"""
)

COUNT_EXPIRED_IDEMPOTENCY = text(
    "SELECT COUNT(*) FROM idempotency_keys WHERE expires_at <= :now"
).bindparams(*_at("now"))

DELETE_EXPIRED_IDEMPOTENCY = text(
    "DELETE FROM idempotency_keys WHERE expires_at <= :now"
).bindparams(*_at("now"))

RELEASE_IDEMPOTENCY = text(
    """DELETE FROM idempotency_keys
    WHERE author = :author AND idem_key = :idem_key AND image_guid IS NULL"""
)
