"""Build the real app over in-memory adapters, by overriding providers, not patching modules."""

from __future__ import annotations

from dataclasses import dataclass

from dependency_injector import providers
from fastapi import FastAPI

from pixyproxy.adapters.memory import (
    ManualClock,
    MemoryApiKeyStore,
    MemoryBlobStore,
    MemoryIdempotencyStore,
    MemoryImageRepository,
)
from pixyproxy.adapters.web.app import create_app
from pixyproxy.app.container import Container, build_container
from pixyproxy.app.settings import Settings
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.image_generator import ImageGenerator
from tests.support.fakes import ScriptedImageGenerator


@dataclass
class MemoryStack:
    container: Container
    images: MemoryImageRepository
    keys: MemoryApiKeyStore
    blobs: BlobStore
    generator: ImageGenerator
    clock: ManualClock
    idempotency: MemoryIdempotencyStore


def memory_stack(
    settings: Settings | None = None,
    *,
    generator: ImageGenerator | None = None,
    blobs: BlobStore | None = None,
    images: MemoryImageRepository | None = None,
) -> MemoryStack:
    stack = MemoryStack(
        container=build_container(settings or Settings(generator="local")),
        images=images or MemoryImageRepository(),
        keys=MemoryApiKeyStore(),
        blobs=blobs or MemoryBlobStore(),
        generator=generator or ScriptedImageGenerator(),
        clock=ManualClock(),
        idempotency=MemoryIdempotencyStore(),
    )
    c = stack.container
    c.create_schema.override(providers.Callable(lambda: None))
    c.engine.override(providers.Object(None))
    c.image_repository.override(providers.Object(stack.images))
    c.api_key_store.override(providers.Object(stack.keys))
    c.idempotency_store.override(providers.Object(stack.idempotency))
    c.blob_store.override(providers.Object(stack.blobs))
    c.image_generator.override(providers.Object(stack.generator))
    c.clock.override(providers.Object(stack.clock))
    return stack


def memory_app(stack: MemoryStack) -> FastAPI:
    return create_app(stack.container.settings(), stack.container)
