"""Opaque keyset cursors: the anchor (created_at, guid) of a page's last image, base64url.

A cursor is accepted only when it is exactly what `encode_cursor` makes for some anchor: it is
decoded, the anchor re-encoded, and the two strings must be equal. That refuses every other
spelling (padding, trailing bytes, other offsets, upper-case guids, spare base64 bits) without
a list of them, and the range check keeps the anchor inside what a clock could have stamped, so
no cursor reaches a database with a time it cannot hold.

Why not an HMAC: it would also refuse canonical cursors we did not hand out, but such a cursor
only names a position in a listing anyone may read, so it shows nothing a real cursor would
not. Signing would add a secret every worker and instance must share and rotate, and a
rotation would break every cursor in flight.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from uuid import UUID

from pixyproxy.domain.exceptions import FieldError, InvalidCursor
from pixyproxy.domain.models import Image, PageAnchor

_VERSION = "1"
# What a clock could have stamped on an image: the epoch up to the last instant datetime holds.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
# Far longer than any cursor we make (96 characters), far shorter than anything costly.
MAX_CURSOR_CHARS = 256
_ALPHABET = re.compile(f"[A-Za-z0-9_-]{{1,{MAX_CURSOR_CHARS}}}")


def encode_cursor(last: Image) -> str:
    return _encode(PageAnchor(created_at=last.created_at, guid=last.guid))


def _encode(anchor: PageAnchor) -> str:
    raw = f"{_VERSION}|{anchor.created_at.astimezone(UTC).isoformat()}|{anchor.guid}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> PageAnchor:
    """Raises `InvalidCursor` for anything `encode_cursor` did not make."""
    try:
        anchor = _decode(cursor)
    except (ValueError, UnicodeError, binascii.Error, OverflowError) as e:
        raise _invalid() from e
    if anchor is None or _encode(anchor) != cursor:
        raise _invalid()
    return anchor


def _decode(cursor: str) -> PageAnchor | None:
    if not _ALPHABET.fullmatch(cursor):
        return None
    padded = cursor + "=" * (-len(cursor) % 4)
    parts = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii").split("|")
    if len(parts) != 3 or parts[0] != _VERSION:
        return None
    when = datetime.fromisoformat(parts[1])
    # Compared before any conversion: turning year 1 at +14:00 into UTC overflows.
    if when.utcoffset() is None or when.utcoffset() or not EARLIEST <= when <= LATEST:
        return None
    return PageAnchor(created_at=when.replace(tzinfo=UTC), guid=UUID(parts[2]))


def _invalid() -> InvalidCursor:
    return InvalidCursor(
        errors=[
            FieldError(
                ("cursor",),
                "not a cursor this service issued; take it from the previous page's Link "
                "header, or its next_cursor with envelope=true",
                "invalid_cursor",
            )
        ]
    )
