"""The HTTP shapes of requests and responses (what OpenAPI documents)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from pixyproxy.domain.models import Image
from pixyproxy.domain.renditions import THUMBNAIL
from pixyproxy.domain.values import MAX_TAGS, PROMPT_MAX_CHARS, TAG_PATTERN


class GenerateImageBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"prompt": "a lighthouse at dusk", "tags": ["sea"]}]},
    )

    prompt: str = Field(min_length=1, max_length=PROMPT_MAX_CHARS, description="What to draw.")
    tags: list[str] = Field(
        default_factory=list,
        max_length=MAX_TAGS * 4,
        description=f"Up to {MAX_TAGS} distinct tags matching {TAG_PATTERN} after lower-casing.",
    )
    size: str | None = Field(None, description="e.g. 1024x1024; what the model accepts.")
    quality: str | None = Field(None, description="e.g. low, medium, high, auto.")


class RetagImageBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(max_length=MAX_TAGS * 4)


class ImageDetail(BaseModel):
    guid: UUID
    prompt: str
    filename: str
    tags: list[str]
    author: str
    content_type: str
    width: int
    height: int
    byte_size: int
    model: str
    revised_prompt: str | None
    created_at: datetime
    updated_at: datetime
    content_url: str = Field(description="The original's bytes, relative to this service.")
    thumbnail_url: str = Field(
        description="A 256-px rendition in the best format the client's Accept allows."
    )
    placeholder: str | None = Field(
        description="A ThumbHash (base64, at most 40 characters) to paint a blurred preview "
        "with before any bytes arrive; null until one is made."
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
            content_url=f"/image/{image.guid}/content",
            thumbnail_url=f"/image/{image.guid}/content?width={THUMBNAIL.width}&format=auto",
            placeholder=image.placeholder,
        )


class Problem(BaseModel):
    """An RFC 9457 problem detail (`application/problem+json`)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None
