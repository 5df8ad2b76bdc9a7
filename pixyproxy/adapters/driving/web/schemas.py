"""The HTTP shapes of requests and responses (what OpenAPI documents).

Request fields are the domain's value types (`Prompt`, `TagList`...), so a limit is stated
once, in `domain/values.py`, and the schema clients read is the rule the use cases apply.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from pixyproxy.domain.models import GeneratorCapabilities, Image
from pixyproxy.domain.renditions import AUTO, DEFAULT_WIDTHS, THUMBNAIL, RenditionOffer
from pixyproxy.domain.values import (
    AUTHOR_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_TAGS,
    PAGE_LIMIT_DEFAULT,
    PAGE_LIMIT_MAX,
    PROMPT_MAX_CHARS,
    SEARCH_MAX_CHARS,
    TAG_INPUT_PATTERN,
    TAG_PATTERN,
    Prompt,
    TagList,
)

GUID_EXAMPLE = "0b8f1c2e-5d3a-4e7b-9f60-2a1c3d4e5f60"

GENERATE_EXAMPLE: dict[str, Any] = {
    "prompt": "a lighthouse at dusk",
    "tags": ["sea", "light"],
    "size": "1024x1024",
    "quality": "low",
}
IMAGE_DETAIL_EXAMPLE: dict[str, Any] = {
    "guid": GUID_EXAMPLE,
    "prompt": "a lighthouse at dusk",
    "filename": f"{GUID_EXAMPLE}.png",
    "tags": ["sea", "light"],
    "author": "alice",
    "content_type": "image/png",
    "width": 1024,
    "height": 1024,
    "byte_size": 1534210,
    "model": "gpt-image-2",
    "revised_prompt": "A tall white lighthouse on a rocky shore at dusk, its lamp lit.",
    "created_at": "2026-03-01T12:00:00.123456Z",
    "updated_at": "2026-03-01T12:00:00.123456Z",
    "content_url": f"/image/{GUID_EXAMPLE}/content",
    "thumbnail_url": f"/image/{GUID_EXAMPLE}/content?width=256&format=auto",
    "placeholder": "2EUKFwJ3eHdwiId3iGh3iHiH93moX4ID",
}


def content_url(guid: UUID) -> str:
    return f"/image/{guid}/content"


def thumbnail_url(guid: UUID) -> str:
    return f"{content_url(guid)}?width={THUMBNAIL.width}&format={AUTO}"


class GenerateImageBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [GENERATE_EXAMPLE]})

    prompt: Prompt
    tags: TagList = Field(default_factory=list)
    size: str | None = Field(
        None, description="One of `sizes` in `GET /capabilities`; the model's default if absent."
    )
    quality: str | None = Field(
        None,
        description="One of `qualities` in `GET /capabilities`; the model's default if absent.",
    )


class RetagImageBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"tags": ["harbour"]}]}
    )

    tags: TagList


StoredTag = Annotated[str, Field(pattern=TAG_PATTERN)]


class ImageDetail(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [IMAGE_DETAIL_EXAMPLE]})

    guid: UUID
    prompt: str
    filename: str
    tags: list[StoredTag]
    author: str
    content_type: str = Field(examples=["image/png"])
    width: int
    height: int
    byte_size: int
    model: str
    revised_prompt: str | None
    created_at: datetime
    updated_at: datetime
    content_url: str = Field(
        description="Where the bytes are, relative to this server: `/image/{guid}/content`."
    )
    thumbnail_url: str = Field(
        description="A 256-px rendition in the best format the client's `Accept` allows, "
        "relative to this server: `/image/{guid}/content?width=256&format=auto`."
    )
    placeholder: str | None = Field(
        description="A ThumbHash (https://evanw.github.io/thumbhash/), base64, at most 40 "
        "characters: a client decodes it into a blurred preview to paint before any bytes "
        "arrive. Null until one is made (`pixyproxy renditions backfill` makes those of "
        "images older than renditions)."
    )

    @classmethod
    def from_domain(cls, image: Image) -> ImageDetail:
        return cls(
            guid=image.guid,
            prompt=image.prompt,
            filename=image.filename,
            tags=list(image.tags),
            author=image.author,
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            byte_size=image.byte_size,
            model=image.model,
            revised_prompt=image.revised_prompt,
            created_at=image.created_at,
            updated_at=image.updated_at,
            content_url=content_url(image.guid),
            thumbnail_url=thumbnail_url(image.guid),
            placeholder=image.placeholder,
        )


CAPABILITIES_EXAMPLE: dict[str, Any] = {
    "model": "gpt-image-2",
    "sizes": ["1024x1024", "1024x1536", "1536x1024", "auto"],
    "qualities": ["auto", "high", "low", "medium"],
    "tags": {"pattern": TAG_INPUT_PATTERN, "stored_pattern": TAG_PATTERN, "max_items": MAX_TAGS},
    "limits": {
        "prompt_max_chars": PROMPT_MAX_CHARS,
        "search_max_chars": SEARCH_MAX_CHARS,
        "author_pattern": AUTHOR_PATTERN,
        "page_limit_default": PAGE_LIMIT_DEFAULT,
        "page_limit_max": PAGE_LIMIT_MAX,
        "max_body_bytes": 65536,
        "idempotency_key_pattern": IDEMPOTENCY_KEY_PATTERN,
    },
    "renditions": {
        "widths": list(DEFAULT_WIDTHS),
        "formats": ["webp", "avif", "jpeg", "png", AUTO],
    },
}


class TagRules(BaseModel):
    pattern: str = Field(description="What a tag may look like when sent.")
    stored_pattern: str = Field(description="Tags are kept lower-cased.")
    max_items: int = Field(description="At most this many tags on one image.")


class Limits(BaseModel):
    prompt_max_chars: int = Field(description="Once surrounding spaces are trimmed.")
    search_max_chars: int
    author_pattern: str
    page_limit_default: int
    page_limit_max: int
    max_body_bytes: int = Field(description="Larger request bodies get a 413.")
    idempotency_key_pattern: str


class RenditionOptions(BaseModel):
    widths: list[int] = Field(
        description="What `?width=` may ask of `/image/{guid}/content`; never wider than the "
        "original."
    )
    formats: list[str] = Field(
        description="What `?format=` may ask; `auto` is the best the `Accept` header allows."
    )


class Capabilities(BaseModel):
    """What this server accepts: its image model's options, the input limits, and the
    renditions it serves."""

    model_config = ConfigDict(json_schema_extra={"examples": [CAPABILITIES_EXAMPLE]})

    model: str
    sizes: list[str]
    qualities: list[str]
    tags: TagRules
    limits: Limits
    renditions: RenditionOptions

    @classmethod
    def of(
        cls, generator: GeneratorCapabilities, max_body_bytes: int, renditions: RenditionOffer
    ) -> Capabilities:
        return cls(
            model=generator.model,
            sizes=sorted(generator.sizes),
            qualities=sorted(generator.qualities),
            tags=TagRules(
                pattern=TAG_INPUT_PATTERN, stored_pattern=TAG_PATTERN, max_items=MAX_TAGS
            ),
            limits=Limits(
                prompt_max_chars=PROMPT_MAX_CHARS,
                search_max_chars=SEARCH_MAX_CHARS,
                author_pattern=AUTHOR_PATTERN,
                page_limit_default=PAGE_LIMIT_DEFAULT,
                page_limit_max=PAGE_LIMIT_MAX,
                max_body_bytes=max_body_bytes,
                idempotency_key_pattern=IDEMPOTENCY_KEY_PATTERN,
            ),
            renditions=RenditionOptions(
                widths=list(renditions.widths), formats=[*renditions.formats, AUTO]
            ),
        )


PROBLEM_TYPE_EXAMPLE = {
    "type": "/problems/image-not-found",
    "title": "Image not found",
    "status": 404,
    "description": "Image not found.",
}


class ProblemTypeDoc(BaseModel):
    """What a problem `type` URI stands for."""

    type: str = Field(examples=["/problems/image-not-found"])
    title: str
    status: int
    description: str


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, Literal["ok"]] = Field(examples=[{"database": "ok", "blob_store": "ok"}])
