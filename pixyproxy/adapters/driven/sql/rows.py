"""Converters between domain models and the flat dictionaries the SQL statements bind and
return, plus the one column type both dialects need help with."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, Dialect, RowMapping
from sqlalchemy.types import TypeDecorator

from pixyproxy.domain.models import ApiKey, IdempotencyRecord, Image, ImageContent, Usage
from pixyproxy.domain.renditions import Rendition, RenditionSpec


class UtcDateTime(TypeDecorator[datetime]):
    """Stores an aware datetime as naive UTC and returns it aware again.

    Declared on binds and result columns of every statement: without it SQLite would get
    Python's default text form (which drops zero microseconds and breaks ordering) and give
    strings back.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("naive datetimes are ambiguous; pass a timezone-aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def image_to_row(image: Image) -> dict[str, Any]:
    """The `images` columns of an image; its tags also go to `image_tags` (`tag_rows`)."""
    return {
        "guid": str(image.guid),
        "filename": image.filename,
        "prompt": image.prompt,
        "tags": tags_column(image.tags),
        "author": image.author,
        "content_type": image.content_type,
        "byte_size": image.byte_size,
        "width": image.width,
        "height": image.height,
        "model": image.model,
        "sha256": image.sha256,
        "revised_prompt": image.revised_prompt,
        "upstream_request_id": image.upstream_request_id,
        "usage_input_tokens": image.usage.input_tokens,
        "usage_output_tokens": image.usage.output_tokens,
        "usage_total_tokens": image.usage.total_tokens,
        "placeholder": image.placeholder,
        "created_at": image.created_at,
        "updated_at": image.updated_at,
    }


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


def row_to_image(row: RowMapping) -> Image:
    return Image(
        id=row["id"],
        guid=UUID(row["guid"]),
        prompt=row["prompt"],
        filename=row["filename"],
        tags=tuple(json.loads(row["tags"])),
        author=row["author"],
        content_type=row["content_type"],
        width=row["width"],
        height=row["height"],
        byte_size=row["byte_size"],
        model=row["model"],
        sha256=row["sha256"],
        created_at=utc_datetime(row["created_at"]),
        updated_at=utc_datetime(row["updated_at"]),
        revised_prompt=row["revised_prompt"],
        upstream_request_id=row["upstream_request_id"],
        usage=Usage(
            input_tokens=row["usage_input_tokens"],
            output_tokens=row["usage_output_tokens"],
            total_tokens=row["usage_total_tokens"],
        ),
        placeholder=row["placeholder"],
    )


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


def api_key_to_row(key: ApiKey) -> dict[str, Any]:
    return {
        "prefix": key.prefix,
        "key_hash": key.key_hash,
        "author": key.author,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


def row_to_api_key(row: RowMapping) -> ApiKey:
    return ApiKey(
        prefix=row["prefix"],
        key_hash=row["key_hash"],
        author=row["author"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


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
