"""Value rules every layer checks the same way: prompts, tags, guids, generation options."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

PROMPT_MAX_CHARS = 4000
TAG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
MAX_TAGS = 16
AUTHOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
PAGE_LIMIT_DEFAULT = 50
PAGE_LIMIT_MAX = 500
SEARCH_MAX_CHARS = 200

_TAG_RE = re.compile(TAG_PATTERN)


def normalize_tags(tags: list[str]) -> list[str]:
    """Lower-case, validate and de-duplicate tags, keeping first-seen order."""
    seen: dict[str, None] = {}
    for raw in tags:
        tag = raw.strip().lower()
        if not _TAG_RE.fullmatch(tag):
            raise ValueError(
                f"tag {raw!r} must match {TAG_PATTERN} (letters, digits, '_' and '-', 1-32 chars)"
            )
        seen[tag] = None
    if len(seen) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} distinct tags are allowed, got {len(seen)}")
    return list(seen)


def _reject_control_characters(text: str) -> str:
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        raise ValueError("must not contain control characters")
    return text


Prompt = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=PROMPT_MAX_CHARS),
    AfterValidator(_reject_control_characters),
]
TagList = Annotated[list[str], Field(max_length=256), AfterValidator(normalize_tags)]
Author = Annotated[str, StringConstraints(pattern=AUTHOR_PATTERN)]
PageLimit = Annotated[int, Field(ge=1, le=PAGE_LIMIT_MAX)]
SearchText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SEARCH_MAX_CHARS)
]

BLOB_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_BLOB_KEY_RE = re.compile(BLOB_KEY_PATTERN)


def is_plain_blob_key(key: str) -> bool:
    """A blob key is one plain file name: no separators, no '..', nothing a store could
    resolve outside its own space."""
    return bool(_BLOB_KEY_RE.fullmatch(key)) and ".." not in key
