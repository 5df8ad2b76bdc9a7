"""Private use cases: everything that needs an author (an authenticated API key's owner)."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID, uuid4

from anyio import to_thread
from pydantic import Field

from pixyproxy.app.generation_gate import GenerationGate
from pixyproxy.app.idempotency import IdempotentRunner
from pixyproxy.app.renditions import NewImageDerivatives, Renditions
from pixyproxy.app.validation import UseCaseInput, revalidate
from pixyproxy.domain.exceptions import (
    ContentPolicyViolation,
    FieldError,
    GenerationError,
    NotImageAuthor,
    UnsupportedGenerationOption,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from pixyproxy.domain.models import GeneratedImage, GenerationRequest, Image, ImageContent
from pixyproxy.domain.values import Prompt, TagList, echo
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.clock import Clock
from pixyproxy.ports.image_generator import ImageGenerator
from pixyproxy.ports.image_repository import ImageRepository
from pixyproxy.ports.metrics import GenerationMetrics, NoMetrics

log = logging.getLogger(__name__)


def _outcome(error: GenerationError) -> str:
    if isinstance(error, ContentPolicyViolation):
        return "rejected"
    if isinstance(error, UpstreamRateLimited):
        return "rate_limited"
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    return "upstream_error"


_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


class GenerateImageInput(UseCaseInput):
    prompt: Prompt
    tags: TagList = Field(default_factory=list)
    size: str | None = None
    quality: str | None = None


class RetagImageInput(UseCaseInput):
    tags: TagList


class PrivateImages:
    def __init__(
        self,
        images: ImageRepository,
        blobs: BlobStore,
        generator: ImageGenerator,
        gate: GenerationGate,
        clock: Clock,
        idempotency: IdempotentRunner,
        metrics: GenerationMetrics | None = None,
        log_prompts: bool = False,
        on_deleted: Callable[[ImageContent], None] | None = None,
        renditions: Renditions | None = None,
    ) -> None:
        """`on_deleted` hears of every image this process deletes, once its row is gone (a
        driving adapter's caches forget it). Without `renditions`, images are stored without
        a thumbnail or placeholder."""
        self._images = images
        self._blobs = blobs
        self._generator = generator
        self._gate = gate
        self._clock = clock
        self._idempotency = idempotency
        self._metrics = metrics or NoMetrics()
        self._log_prompts = log_prompts
        self._on_deleted = on_deleted
        self._renditions = renditions

    async def generate(
        self,
        author: str,
        raw: GenerateImageInput | dict[str, Any],
        idempotency_key: str | None = None,
    ) -> Image:
        """Generate, store the bytes, then the row. Raises `InvalidInput`, any
        `GenerationError`, `GenerationCapacityExhausted`, `BlobStoreUnavailable` or
        `RepositoryUnavailable`; never leaves a row without its bytes. With an idempotency
        key, a repeat of the same request returns the first image without generating again
        (see `IdempotentRunner`)."""
        command = revalidate(GenerateImageInput, raw)
        self._check_options(command)
        if idempotency_key is None:
            return await self._generate(author, command)
        fingerprint = hashlib.sha256(command.model_dump_json().encode()).hexdigest()
        return await self._idempotency.run(
            author, idempotency_key, fingerprint, lambda: self._generate(author, command)
        )

    async def _generate(self, author: str, command: GenerateImageInput) -> Image:
        request = GenerationRequest(command.prompt, size=command.size, quality=command.quality)
        async with self._gate.slot():
            generated = await self._timed_generation(request)
        image = await to_thread.run_sync(self._keep, author, command, generated)
        self._metrics.image_stored(image.byte_size)
        # Prompts can be personal data: they reach the logs only when the operator says so.
        prompt = f" prompt={image.prompt!r}" if self._log_prompts else ""
        log.info(
            "stored image %s (%s, %d bytes)%s", image.guid, image.model, image.byte_size, prompt
        )
        return image

    async def _timed_generation(self, request: GenerationRequest) -> GeneratedImage:
        started = time.perf_counter()
        try:
            generated = await self._generator.generate(request)
        except GenerationError as e:
            self._metrics.generation_finished(_outcome(e), time.perf_counter() - started)
            raise
        self._metrics.generation_finished("ok", time.perf_counter() - started)
        return generated

    def _check_options(self, command: GenerateImageInput) -> None:
        capabilities = self._generator.capabilities()
        errors = [
            FieldError(
                (name,),
                f"{echo(value)} is not one of {sorted(allowed)} for model {capabilities.model}",
                "unsupported_option",
            )
            for name, value, allowed in (
                ("size", command.size, capabilities.sizes),
                ("quality", command.quality, capabilities.qualities),
            )
            if value is not None and value not in allowed
        ]
        if errors:
            raise UnsupportedGenerationOption(errors=errors)

    def _keep(self, author: str, command: GenerateImageInput, generated: GeneratedImage) -> Image:
        guid = uuid4()
        extension = _EXTENSIONS.get(generated.content_type, "bin")
        now = self._clock.now()
        image = Image(
            guid=guid,
            prompt=command.prompt,
            filename=f"{guid}.{extension}",
            tags=tuple(command.tags),
            author=author,
            content_type=generated.content_type,
            width=generated.width,
            height=generated.height,
            byte_size=len(generated.data),
            model=generated.model,
            sha256=hashlib.sha256(generated.data).hexdigest(),
            created_at=now,
            updated_at=now,
            revised_prompt=generated.revised_prompt,
            upstream_request_id=generated.upstream_request_id,
            usage=generated.usage,
        )
        # From the one decode of the picture, before anything is written.
        derived = (
            self._renditions.derive_for_new_image(image.content, generated.data)
            if self._renditions is not None
            else NewImageDerivatives()
        )
        image = replace(image, placeholder=derived.placeholder)
        # Bytes first, row second: a crash between the two leaves an orphan blob that the
        # garbage collector finds, never a row whose image is missing.
        self._blobs.put(image.blob_key, generated.data, image.content_type)
        stored = self._renditions.put(derived.renditions) if self._renditions is not None else []
        try:
            return self._images.add(image, stored)
        except BaseException:
            self._discard_blob(image.blob_key)
            if self._renditions is not None:
                self._renditions.discard([r.blob_key for r in stored])
            raise

    def _discard_blob(self, key: str) -> None:
        try:
            self._blobs.delete(key)
        except Exception:
            log.warning("could not delete blob %s after a failed insert; gc will find it", key)

    def retag(self, author: str, guid: UUID, raw: RetagImageInput | dict[str, Any]) -> Image:
        """Replace the tags. Raises `ImageNotFound`, `NotImageAuthor`, `InvalidInput`."""
        command = revalidate(RetagImageInput, raw)
        self._owned_image(author, guid)
        return self._images.set_tags(guid, tuple(command.tags), self._clock.now())

    def delete(self, author: str, guid: UUID) -> None:
        """Remove the row, then the bytes, its renditions' too (a failure after the row
        leaves orphan blobs for the garbage collector). Raises `ImageNotFound`,
        `NotImageAuthor`."""
        image = self._owned_image(author, guid)
        renditions = self._images.renditions_of(guid)
        self._images.delete(guid)
        if self._on_deleted is not None:
            self._on_deleted(image.content)
        self._discard_blob(image.blob_key)
        for rendition in renditions:
            self._discard_blob(rendition.blob_key)

    def _owned_image(self, author: str, guid: UUID) -> Image:
        image = self._images.get(guid)
        if image.author != author:
            raise NotImageAuthor(f"image {guid} belongs to another author")
        return image
