"""Value rules every layer checks the same way: prompts, tags, authors, search text, keys.

Each rule is stated once, here, as a type that validates and also documents itself: the HTTP
schemas reuse these types, so the JSON Schema that clients and fuzzers read is the rule the
use cases apply. Where a rule needs two patterns (a length after trimming, and "something
visible"), both are plain regular expressions that Python and JSON Schema read alike.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

PROMPT_MAX_CHARS = 4000
MAX_TAGS = 16
TAG_MAX_CHARS = 32
# What a tag may look like when sent; it is kept lower-cased (TAG_PATTERN).
TAG_INPUT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
TAG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
AUTHOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
PAGE_LIMIT_DEFAULT = 50
PAGE_LIMIT_MAX = 500
SEARCH_MAX_CHARS = 200
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
# How much of a caller's value an error message may quote back.
ECHO_MAX_CHARS = 40

# Trimmed from both ends of free text: Unicode's spaces and line breaks, without the control
# characters among them (those are refused anywhere; tab, newline and CR are not controls here).
_SPACE_RANGES = [
    (0x09, 0x0A), (0x0D, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680),
    (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),
]  # fmt: skip
_CONTROL_RANGES = [(0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x9F)]
# Characters that show nothing by themselves: zero-width, joiners, bidi marks and controls,
# variation selectors, fillers. Allowed within text (ZWJ makes emoji, RLM shapes Arabic) but a
# text made only of them and spaces is empty to a person.
_INVISIBLE_RANGES = [
    (0xAD, 0xAD), (0x34F, 0x34F), (0x61C, 0x61C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0),
]  # fmt: skip


def _class(ranges: list[tuple[int, int]]) -> str:
    """The inside of a regex character class, written with `\\uXXXX` escapes, which Python's
    `re`, ECMAScript and Rust's regex (what JSON Schema validators use) all read alike."""
    return "".join(f"\\u{lo:04x}" if lo == hi else f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in ranges)


_SPACE = _class(_SPACE_RANGES)
_CONTROL = _class(_CONTROL_RANGES)
_SPACES = "".join(chr(c) for lo, hi in _SPACE_RANGES for c in range(lo, hi + 1))
VISIBLE_PATTERN = f"[^{_SPACE}{_CONTROL}{_class(_INVISIBLE_RANGES)}]"


def trimmed_text_pattern(max_chars: int) -> str:
    """Text of 1 to `max_chars` characters once spaces are trimmed from both ends, with no
    control characters anywhere. No look-around, so fuzzers can generate from it."""
    edge = f"[^{_SPACE}{_CONTROL}]"
    return f"^[{_SPACE}]*{edge}(?:[^{_CONTROL}]{{0,{max_chars - 2}}}{edge})?[{_SPACE}]*$"


PROMPT_PATTERN = trimmed_text_pattern(PROMPT_MAX_CHARS)
SEARCH_PATTERN = trimmed_text_pattern(SEARCH_MAX_CHARS)

_VISIBLE_RE = re.compile(VISIBLE_PATTERN)
_CONTROL_RE = re.compile(f"[{_CONTROL}]")


def echo(value: object, limit: int = ECHO_MAX_CHARS) -> str:
    """`value` quoted for an error message, cut to `limit` characters: a message must not
    hand back (or log) the megabytes a caller sent."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        return repr(text[:limit]) + f"... ({len(text)} characters)"
    return repr(text)


def _trimmed_text(label: str, max_chars: int, need_visible: bool) -> AfterValidator:
    pattern = re.compile(trimmed_text_pattern(max_chars))

    def check(text: str) -> str:
        if not pattern.fullmatch(text):
            if _CONTROL_RE.search(text):
                raise ValueError(f"{label} must not contain control characters")
            trimmed = text.strip(_SPACES)
            if not trimmed:
                raise ValueError(f"{label} must not be empty or only spaces")
            raise ValueError(
                f"{label} must be at most {max_chars} characters once surrounding spaces are "
                f"trimmed, got {len(trimmed)}"
            )
        if need_visible and not _VISIBLE_RE.search(text):
            raise ValueError(
                f"{label} must contain a visible character, not only spaces, zero-width or "
                "bidirectional-control characters"
            )
        return text.strip(_SPACES)

    return AfterValidator(check)


def normalize_tags(tags: list[str]) -> list[str]:
    """Lower-case and de-duplicate valid tags, keeping first-seen order."""
    return list(dict.fromkeys(tag.lower() for tag in tags))


Prompt = Annotated[
    str,
    _trimmed_text("the prompt", PROMPT_MAX_CHARS, need_visible=True),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": PROMPT_PATTERN,
            "allOf": [{"pattern": VISIBLE_PATTERN}],
            "description": f"What to draw: 1-{PROMPT_MAX_CHARS} characters once surrounding "
            "spaces are trimmed, at least one of them visible; no control characters "
            "(tab, newline and carriage return are allowed).",
            "examples": ["a lighthouse at dusk"],
        }
    ),
]
Tag = Annotated[
    str,
    StringConstraints(pattern=TAG_INPUT_PATTERN),
    Field(description="Letters, digits, '_' and '-'; kept lower-cased.", examples=["sea"]),
]
TagList = Annotated[
    list[Tag],
    Field(
        max_length=MAX_TAGS,
        description=f"Up to {MAX_TAGS} tags; kept lower-cased, duplicates merged, in order.",
    ),
    AfterValidator(normalize_tags),
]
Author = Annotated[str, StringConstraints(pattern=AUTHOR_PATTERN)]
PageLimit = Annotated[int, Field(ge=1, le=PAGE_LIMIT_MAX)]
SearchText = Annotated[
    str,
    _trimmed_text("the search text", SEARCH_MAX_CHARS, need_visible=False),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": SEARCH_PATTERN,
            "description": f"1-{SEARCH_MAX_CHARS} characters once surrounding spaces are "
            "trimmed; no control characters.",
        }
    ),
]
IdempotencyKey = Annotated[str, StringConstraints(pattern=IDEMPOTENCY_KEY_PATTERN)]

BLOB_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_BLOB_KEY_RE = re.compile(BLOB_KEY_PATTERN)


def is_plain_blob_key(key: str) -> bool:
    """A blob key is one plain file name: no separators, no '..', nothing a store could
    resolve outside its own space."""
    return bool(_BLOB_KEY_RE.fullmatch(key)) and ".." not in key
