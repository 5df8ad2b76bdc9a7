"""The domain's records. Frozen dataclasses: cheap to build on hot paths, impossible to mutate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts the image model reported for one generation (the basis of cost reports)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    prompt: str
    size: str | None = None
    quality: str | None = None


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """What an image model hands back: verified image bytes and what we learned about them."""

    data: bytes
    content_type: str
    width: int
    height: int
    model: str
    revised_prompt: str | None = None
    upstream_request_id: str | None = None
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class GeneratorCapabilities:
    """The options a generator accepts (`None` in a request means the generator's default),
    and the longest one generation may take before the generator gives up on it."""

    model: str
    sizes: frozenset[str]
    qualities: frozenset[str]
    max_duration_s: float


@dataclass(frozen=True, slots=True)
class Image:
    """A generated image's details (the seed's `ImageDetail`). `id` never leaves the server."""

    guid: UUID
    prompt: str
    filename: str
    tags: tuple[str, ...]
    author: str
    content_type: str
    width: int
    height: int
    byte_size: int
    model: str
    sha256: str
    created_at: datetime
    updated_at: datetime
    revised_prompt: str | None = None
    upstream_request_id: str | None = None
    usage: Usage = field(default_factory=Usage)
    # A ThumbHash (base64) a client turns into a blurred preview; None until one is made.
    placeholder: str | None = None
    id: int | None = None

    @property
    def blob_key(self) -> str:
        return _blob_key(self.filename)

    @property
    def content(self) -> ImageContent:
        return ImageContent(
            guid=self.guid,
            filename=self.filename,
            content_type=self.content_type,
            byte_size=self.byte_size,
            sha256=self.sha256,
            width=self.width,
            height=self.height,
        )


@dataclass(frozen=True, slots=True)
class ImageContent:
    """What serving an image's bytes needs to know. None of it ever changes once the image is
    made (only its tags do), so it may be kept for as long as the image exists."""

    guid: UUID
    filename: str
    content_type: str
    byte_size: int
    sha256: str
    # In pixels: what sizes its renditions.
    width: int
    height: int

    @property
    def blob_key(self) -> str:
        return _blob_key(self.filename)


def _blob_key(filename: str) -> str:
    """Where the bytes live in the blob store: the filename, which is made from the guid,
    never from input."""
    return filename


@dataclass(frozen=True, slots=True)
class PageAnchor:
    """The last image of a page: keyset pagination continues strictly after it."""

    created_at: datetime
    guid: UUID


@dataclass(frozen=True, slots=True)
class ImageQuery:
    """A newest-first listing. `tags` must all match; `text` is a substring of the prompt."""

    limit: int
    after: PageAnchor | None = None
    tags: tuple[str, ...] = ()
    author: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored API key: only its hash and a short public prefix are ever kept."""

    prefix: str
    key_hash: str
    author: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class StoredBlob:
    key: str
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """One `Idempotency-Key` of one author: the request it first came with, and its result
    once that request finished (`image_guid` stays None while it is in progress)."""

    author: str
    key: str
    request_hash: str
    created_at: datetime
    expires_at: datetime
    image_guid: UUID | None = None

    @property
    def done(self) -> bool:
        return self.image_guid is not None

    def replaceable(self, now: datetime, stale_before: datetime) -> bool:
        """An expired record, or one still in progress since before `stale_before` (its
        owner died mid-request), may be taken over by a new claim."""
        return self.expires_at <= now or (not self.done and self.created_at < stale_before)
