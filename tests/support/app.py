"""Build the real app over in-memory adapters, by overriding providers, not patching modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dependency_injector import providers
from fastapi import FastAPI
from sqlalchemy import Engine

from pixyproxy.adapters.driven.memory import (
    ManualClock,
    MemoryApiKeyStore,
    MemoryBlobStore,
    MemoryIdempotencyStore,
    MemoryImageRepository,
    MemorySchemaMigrator,
)
from pixyproxy.adapters.driven.sql import SqlApiKeyStore, SqlIdempotencyStore, SqlImageRepository
from pixyproxy.adapters.driving.web.app import create_app
from pixyproxy.app.settings import Settings
from pixyproxy.bootstrap import Container, build_container
from pixyproxy.ports.api_key_store import ApiKeyStore
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.idempotency_store import IdempotencyStore
from pixyproxy.ports.image_generator import ImageGenerator
from pixyproxy.ports.image_repository import ImageRepository
from pixyproxy.ports.schema_migrator import SchemaMigrator
from tests.support.fakes import ScriptedImageGenerator


@dataclass
class MemoryStack:
    container: Container
    images: ImageRepository
    keys: ApiKeyStore
    blobs: BlobStore
    generator: ImageGenerator
    clock: ManualClock
    idempotency: IdempotencyStore


def memory_stack(
    settings: Settings | None = None,
    *,
    generator: ImageGenerator | None = None,
    blobs: BlobStore | None = None,
    images: ImageRepository | None = None,
    keys: ApiKeyStore | None = None,
    idempotency: IdempotencyStore | None = None,
    migrator: SchemaMigrator | None = None,
) -> MemoryStack:
    """The real container with every port overridden: in-memory unless given."""
    stack = MemoryStack(
        container=build_container(settings or Settings(generator="local")),
        images=images or MemoryImageRepository(),
        keys=keys or MemoryApiKeyStore(),
        blobs=blobs or MemoryBlobStore(),
        generator=generator or ScriptedImageGenerator(),
        clock=ManualClock(),
        idempotency=idempotency or MemoryIdempotencyStore(),
    )
    c = stack.container
    c.schema_migrator.override(providers.Object(migrator or MemorySchemaMigrator()))
    c.engine.override(providers.Object(None))
    c.image_repository.override(providers.Object(stack.images))
    c.api_key_store.override(providers.Object(stack.keys))
    c.idempotency_store.override(providers.Object(stack.idempotency))
    c.blob_store.override(providers.Object(stack.blobs))
    c.image_generator.override(providers.Object(stack.generator))
    c.clock.override(providers.Object(stack.clock))
    return stack


def sql_stack(engine: Engine, **overrides: Any) -> MemoryStack:
    """The same stack with the SQL adapters over `engine` (SQLite or MySQL)."""
    return memory_stack(
        images=SqlImageRepository(engine),
        keys=SqlApiKeyStore(engine),
        idempotency=SqlIdempotencyStore(engine),
        **overrides,
    )


def memory_app(stack: MemoryStack, **options: Any) -> FastAPI:
    """The app over `stack`; `options` go to `create_app`."""
    return create_app(stack.container.settings(), stack.container, **options)
