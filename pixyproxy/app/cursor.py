"""Opaque keyset cursors: the anchor (created_at, guid) of a page's last image, base64url."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from uuid import UUID

from pixyproxy.domain.exceptions import InvalidCursor
from pixyproxy.domain.models import Image, PageAnchor

_VERSION = "1"


def encode_cursor(last: Image) -> str:
    raw = f"{_VERSION}|{last.created_at.isoformat()}|{last.guid}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> PageAnchor:
    """Raises `InvalidCursor` for anything `encode_cursor` did not make."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        version, created_at, guid = (
            base64.urlsafe_b64decode(padded.encode("ascii")).decode().split("|")
        )
        if version != _VERSION:
            raise ValueError(version)
        when = datetime.fromisoformat(created_at)
        if when.tzinfo is None:
            raise ValueError("naive timestamp")
        return PageAnchor(created_at=when.astimezone(UTC), guid=UUID(guid))
    except (ValueError, UnicodeError, binascii.Error) as e:
        raise InvalidCursor("the cursor is not one this service issued") from e
