"""HTTP conditional and range requests (RFC 9110 sections 13 and 14), the parts we serve."""

from __future__ import annotations

import re
from dataclasses import dataclass

_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")


def strong_etag(digest: str) -> str:
    return f'"{digest}"'


def none_match(if_none_match: str | None, etag: str) -> bool:
    """True when `If-None-Match` names `etag` (weak comparison, as the RFC asks) or is `*`."""
    if not if_none_match:
        return False
    candidates = [c.strip() for c in if_none_match.split(",")]
    return "*" in candidates or etag in (c.removeprefix("W/") for c in candidates)


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, total: int) -> str:
        return f"bytes {self.start}-{self.end}/{total}"


class UnsatisfiableRange(Exception):
    pass


# Larger than any byte count: a position past it is past every image's end.
_BEYOND_ANY_SIZE = 10**18


def _position(digits: str) -> int:
    """A range position of any length (int() refuses over 4,300 digits; no image is within
    18 digits of that)."""
    significant = digits.lstrip("0")
    return _BEYOND_ANY_SIZE if len(significant) > 18 else int(significant or "0")


def parse_range(header: str | None, total: int) -> ByteRange | None:
    """The one range asked for, or None to send the whole body (no header, a multi-range or
    a malformed one: the RFC lets a server ignore those). Raises `UnsatisfiableRange`."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = _position(last)
        if suffix == 0 or total == 0:
            raise UnsatisfiableRange
        return ByteRange(max(0, total - suffix), total - 1)
    start = _position(first)
    end = min(_position(last), total - 1) if last else total - 1
    if last and _position(last) < start:
        return None
    if start >= total:
        raise UnsatisfiableRange
    return ByteRange(start, end)
