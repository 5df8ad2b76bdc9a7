"""Converters between domain models and the flat dictionaries the SQL statements bind and
return."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping

from pixyproxy.adapters.driven.sql.column_types import UtcDateTime
from pixyproxy.adapters.driven.sql.tables import images
from pixyproxy.domain.models import ApiKey, IdempotencyRecord, Image, ImageContent, Usage
from pixyproxy.domain.renditions import Rendition, RenditionSpec

# Columns of `images` named like a field of `Image` hold that field; `image_to_row` and
# `row_to_image` convert the few that need it (text GUIDs, the JSON tags, the usage counts
# and, from untyped reads, datetimes). A new column holding a field as it is needs no change.
_IMAGE_FIELDS = frozenset(field.name for field in fields(Image))
_USAGE_COLUMNS = {f"usage_{field.name}": field.name for field in fields(Usage)}
_IMAGE_COLUMNS_AS_FIELDS = [
    column
    for column in images.columns
    if column.name in _IMAGE_FIELDS and column.name not in {"id", "guid", "tags"}
]
_IMAGE_WRITTEN_AS_IS = tuple(column.name for column in _IMAGE_COLUMNS_AS_FIELDS)
_IMAGE_DATETIMES = tuple(
    column.name for column in _IMAGE_COLUMNS_AS_FIELDS if isinstance(column.type, UtcDateTime)
)
_IMAGE_READ_AS_IS = tuple(name for name in _IMAGE_WRITTEN_AS_IS if name not in _IMAGE_DATETIMES)


def image_to_row(image: Image) -> dict[str, Any]:
    """The `images` columns of an image; its tags also go to `image_tags` (`tag_rows`)."""
    row = {name: getattr(image, name) for name in _IMAGE_WRITTEN_AS_IS}
    row["guid"] = str(image.guid)
    row["tags"] = tags_column(image.tags)
    for column, field in _USAGE_COLUMNS.items():
        row[column] = getattr(image.usage, field)
    return row


def tag_rows(
    image_id: int, guid: UUID, created_at: datetime, tags: Sequence[str]
) -> list[dict[str, Any]]:
    """`image_tags` rows; each repeats its image's sort key so the tag index can page alone."""
    return [
        {
            "image_id": image_id,
            "tag": tag,
            "ordinal": ordinal,
            "created_at": created_at,
            "guid": str(guid),
        }
        for ordinal, tag in enumerate(tags)
    ]


def row_to_content(row: RowMapping) -> ImageContent:
    return ImageContent(
        guid=UUID(row["guid"]),
        filename=row["filename"],
        content_type=row["content_type"],
        byte_size=row["byte_size"],
        sha256=row["sha256"],
        width=row["width"],
        height=row["height"],
    )


def tags_column(tags: Sequence[str]) -> str:
    """Tags as `images.tags` holds them: a JSON array in display order."""
    return json.dumps(list(tags), ensure_ascii=False, separators=(",", ":"))


def utc_datetime(value: datetime | str) -> datetime:
    """A stored datetime, aware in UTC, from a statement that declared no column types:
    MySQL returns it naive, SQLite as the ISO text `UtcDateTime` wrote."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


def _image_reader() -> Callable[[RowMapping], Image]:
    """`row_to_image`, written out as code from the columns once, at import, the way
    `dataclasses` writes an `__init__`: one keyword argument per field, as a hand-written
    converter has. Built with loops and dicts instead, it cost half as much again per row: a
    tenth of the CPU of a listing page, the hottest read there is."""
    arguments = [
        *(f"{name}=row[{name!r}]" for name in _IMAGE_READ_AS_IS),
        *(f"{name}=utc_datetime(row[{name!r}])" for name in _IMAGE_DATETIMES),
        "id=row['id']",
        "guid=UUID(row['guid'])",
        "tags=tuple(json.loads(row['tags']))",
        "usage=Usage("
        + ", ".join(f"{field}=row[{column!r}]" for column, field in _USAGE_COLUMNS.items())
        + ")",
    ]
    source = f"def row_to_image(row):\n    return Image({', '.join(arguments)})\n"
    names: dict[str, Any] = {
        "Image": Image,
        "Usage": Usage,
        "UUID": UUID,
        "json": json,
        "utc_datetime": utc_datetime,
    }
    # Every name in the source comes from `tables` and the dataclasses, none from input.
    exec(compile(source, "<rows.row_to_image>", "exec"), names)  # noqa: S102
    reader: Callable[[RowMapping], Image] = names["row_to_image"]
    reader.__doc__ = "An image from an untyped read of every `images` column."
    return reader


row_to_image = _image_reader()


def rendition_to_row(image_id: int, rendition: Rendition) -> dict[str, Any]:
    return {
        "image_id": image_id,
        "width": rendition.spec.width,
        "format": rendition.spec.format,
        "blob_key": rendition.blob_key,
        "height": rendition.height,
        "byte_size": rendition.byte_size,
        "sha256": rendition.sha256,
    }


def row_to_rendition(row: RowMapping) -> Rendition:
    return Rendition(
        spec=RenditionSpec(row["width"], row["format"]),
        blob_key=row["blob_key"],
        width=row["width"],
        height=row["height"],
        byte_size=row["byte_size"],
        sha256=row["sha256"],
    )


# `api_keys` holds an `ApiKey` field for field, plus its id.
_API_KEY_FIELDS = tuple(field.name for field in fields(ApiKey))


def api_key_to_row(key: ApiKey) -> dict[str, Any]:
    return {name: getattr(key, name) for name in _API_KEY_FIELDS}


def row_to_api_key(row: RowMapping) -> ApiKey:
    return ApiKey(**{name: row[name] for name in _API_KEY_FIELDS})


def idempotency_to_row(record: IdempotencyRecord) -> dict[str, Any]:
    return {
        "author": record.author,
        "idem_key": record.key,
        "request_hash": record.request_hash,
        "image_guid": None if record.image_guid is None else str(record.image_guid),
        "created_at": record.created_at,
        "expires_at": record.expires_at,
    }


def row_to_idempotency(row: RowMapping) -> IdempotencyRecord:
    guid = row["image_guid"]
    return IdempotencyRecord(
        author=row["author"],
        key=row["idem_key"],
        request_hash=row["request_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        image_guid=None if guid is None else UUID(guid),
    )
