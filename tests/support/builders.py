"""Domain objects for tests, built with sensible defaults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from pixyproxy.adapters.driven.image_renderer_pillow import PillowImageRenderer
from pixyproxy.adapters.driven.memory import (
    ManualClock,
    MemoryIdempotencyStore,
    MemoryImageRepository,
)
from pixyproxy.app.generation_gate import GenerationGate
from pixyproxy.app.idempotency import IdempotentRunner
from pixyproxy.app.private_images import PrivateImages
from pixyproxy.app.renditions import Renditions
from pixyproxy.domain.exceptions import RenditionCapacityExhausted
from pixyproxy.domain.models import Image, ImageContent
from pixyproxy.domain.renditions import RenditionOffer
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.image_repository import ImageRepository
from tests.support.fakes import FlakyBlobStore, ScriptedImageGenerator

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def make_image(
    n: int, *, tags: tuple[str, ...] = (), author: str = "alice", same_time: bool = False
) -> Image:
    when = T0 if same_time else T0 + timedelta(seconds=n)
    guid = uuid4()
    return Image(
        guid=guid,
        prompt=f"prompt number {n}",
        filename=f"{guid}.png",
        tags=tags,
        author=author,
        content_type="image/png",
        width=1,
        height=1,
        byte_size=3,
        model="m",
        sha256="0" * 64,
        created_at=when,
        updated_at=when,
    )


def make_renditions(images: ImageRepository, blobs: BlobStore) -> Renditions:
    """The renditions use case over `images` and `blobs`, rendering with Pillow."""
    renderer = PillowImageRenderer()
    return Renditions(
        images,
        blobs,
        renderer,
        RenditionOffer(formats=renderer.formats()),
        GenerationGate(2, 5.0, work="render", exhausted=RenditionCapacityExhausted),
    )


def make_private_images(
    *,
    images: MemoryImageRepository | None = None,
    generator: ScriptedImageGenerator | None = None,
    gate: GenerationGate | None = None,
    clock: ManualClock | None = None,
    blobs: BlobStore | None = None,
    on_deleted: Callable[[ImageContent], None] | None = None,
    renditions: Renditions | None = None,
) -> tuple[PrivateImages, MemoryImageRepository, FlakyBlobStore, ScriptedImageGenerator]:
    """The generation use case over memory adapters; returns it with its parts."""
    images = images or MemoryImageRepository()
    flaky = FlakyBlobStore(blobs)
    generator = generator or ScriptedImageGenerator()
    clock = clock or ManualClock()
    idempotency = IdempotentRunner(
        MemoryIdempotencyStore(), images, clock, timedelta(seconds=1), timedelta(minutes=10)
    )
    use_case = PrivateImages(
        images,
        flaky,
        generator,
        gate or GenerationGate(4, 1.0),
        clock,
        idempotency,
        on_deleted=on_deleted,
        renditions=renditions,
    )
    return use_case, images, flaky, generator
