"""The composition root: the one place that names concrete adapters.

Adapters are imported inside their factory functions, so a deployment on local disk never
imports boto3 and one on the local generator never imports the OpenAI SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

from dependency_injector import containers, providers
from prometheus_client import CollectorRegistry

from pixyproxy.app.api_keys import ApiKeys
from pixyproxy.app.garbage_collector import GarbageCollector
from pixyproxy.app.generation_gate import GenerationGate
from pixyproxy.app.idempotency import IdempotentRunner
from pixyproxy.app.private_images import PrivateImages
from pixyproxy.app.public_images import PublicImages
from pixyproxy.app.rendition_backfill import RenditionBackfill
from pixyproxy.app.renditions import Renditions
from pixyproxy.app.settings import Settings
from pixyproxy.domain.exceptions import RenditionCapacityExhausted
from pixyproxy.domain.models import ImageContent
from pixyproxy.domain.renditions import RenditionOffer
from pixyproxy.ports.api_key_store import ApiKeyStore
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.clock import Clock
from pixyproxy.ports.idempotency_store import IdempotencyStore
from pixyproxy.ports.image_generator import ImageGenerator
from pixyproxy.ports.image_renderer import ImageRenderer
from pixyproxy.ports.image_repository import ImageRepository
from pixyproxy.ports.metrics import GenerationMetrics
from pixyproxy.ports.schema_migrator import SchemaMigrator

if TYPE_CHECKING:
    from sqlalchemy import Engine

GC_GRACE = timedelta(hours=1)


def _engine(settings: Settings) -> Iterator[Engine]:
    from pixyproxy.adapters.driven.sql import create_engine_from_url

    engine = create_engine_from_url(
        settings.effective_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout_s=settings.db_pool_timeout_s,
        connect_timeout_s=settings.db_connect_timeout_s,
        query_timeout_s=settings.db_query_timeout_s,
        pool_recycle_s=settings.db_pool_recycle_s,
    )
    try:
        yield engine
    finally:
        engine.dispose()


def _schema_migrator(engine: Engine) -> SchemaMigrator:
    from pixyproxy.adapters.driven.sql import SqlSchemaMigrator

    return SqlSchemaMigrator(engine)


def _image_repository(engine: Engine) -> ImageRepository:
    from pixyproxy.adapters.driven.sql import SqlImageRepository

    return SqlImageRepository(engine)


def _api_key_store(engine: Engine) -> ApiKeyStore:
    from pixyproxy.adapters.driven.sql import SqlApiKeyStore

    return SqlApiKeyStore(engine)


def _idempotency_store(engine: Engine) -> IdempotencyStore:
    from pixyproxy.adapters.driven.sql import SqlIdempotencyStore

    return SqlIdempotencyStore(engine)


def _local_blob_store(settings: Settings) -> BlobStore:
    from pixyproxy.adapters.driven.blob_store_local import LocalDiskBlobStore

    return LocalDiskBlobStore(settings.local_dir)


def _s3_blob_store(settings: Settings) -> Iterator[BlobStore]:
    from pixyproxy.adapters.driven.blob_store_s3 import S3BlobStore

    assert settings.s3_bucket is not None  # Settings refuses s3 without a bucket
    store = S3BlobStore(
        bucket=settings.s3_bucket,
        prefix=settings.s3_prefix,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        public_endpoint_url=settings.s3_public_endpoint_url,
        # Every worker thread may be in a request to S3 at once.
        max_pool_connections=settings.threadpool_size,
    )
    try:
        yield store
    finally:
        store.close()


def _local_generator(settings: Settings) -> ImageGenerator:
    from pixyproxy.adapters.driven.image_generator_local import LocalImageGenerator

    return LocalImageGenerator(delay_s=settings.local_generator_delay_s)


def _openai_generator(settings: Settings) -> ImageGenerator:
    from pixyproxy.adapters.driven.image_generator_openai import OpenAIImageGenerator

    assert settings.openai_api_key is not None  # Settings refuses openai without a key
    return OpenAIImageGenerator(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        default_size=settings.openai_size,
        default_quality=settings.openai_quality,
        timeout_s=settings.openai_timeout_s,
        max_retries=settings.openai_max_retries,
        retry_budget_s=settings.openai_retry_budget_s,
    )


def _image_renderer(settings: Settings) -> ImageRenderer:
    from pixyproxy.adapters.driven.image_renderer_pillow import PillowImageRenderer

    return PillowImageRenderer(max_pixels=settings.rendition_max_pixels)


def _rendition_offer(settings: Settings, renderer: ImageRenderer) -> RenditionOffer:
    return RenditionOffer(
        widths=tuple(sorted(set(settings.rendition_widths))), formats=renderer.formats()
    )


def _system_clock() -> Clock:
    from pixyproxy.adapters.driven.clock_system import SystemClock

    return SystemClock()


def _generation_metrics(registry: CollectorRegistry) -> GenerationMetrics:
    from pixyproxy.adapters.driven.metrics_prometheus import PrometheusGenerationMetrics

    return PrometheusGenerationMetrics(registry)


def _idempotency_stale_after(settings: Settings, generator: ImageGenerator) -> timedelta:
    """How long an unfinished idempotent request may run before its claim is taken to be
    its dead owner's: waiting for a slot, then the longest generation, then storing it."""
    longest_s = settings.generation_queue_timeout_s + generator.capabilities().max_duration_s
    return timedelta(seconds=longest_s + 60)


def _pool_in_use(engine: Engine | None) -> int:
    return 0 if engine is None else int(engine.pool.checkedout())  # type: ignore[attr-defined]


class Container(containers.DeclarativeContainer):
    # Thread-safe singletons: requests resolve their use cases in threadpool threads, and a
    # plain Singleton raced there builds two (two generation gates, or two sets of metrics
    # whose second registration fails the request with a 500).
    settings = providers.Dependency(instance_of=Settings)
    # Overridden with True once the schema is the code's; readiness reports it.
    schema_ready = providers.Object(False)

    clock = providers.ThreadSafeSingleton(_system_clock)
    metrics_registry = providers.ThreadSafeSingleton(CollectorRegistry, auto_describe=True)
    generation_metrics = providers.ThreadSafeSingleton(_generation_metrics, metrics_registry)
    engine = providers.Resource(_engine, settings)
    schema_migrator = providers.ThreadSafeSingleton(_schema_migrator, engine)
    db_pool_in_use = providers.Callable(_pool_in_use, engine)
    image_repository = providers.ThreadSafeSingleton(_image_repository, engine)
    api_key_store = providers.ThreadSafeSingleton(_api_key_store, engine)
    blob_store = providers.Selector(
        providers.Callable(lambda s: s.blob_store, settings),
        local=providers.ThreadSafeSingleton(_local_blob_store, settings),
        s3=providers.Resource(_s3_blob_store, settings),
    )
    image_generator = providers.Selector(
        providers.Callable(lambda s: s.effective_generator, settings),
        local=providers.ThreadSafeSingleton(_local_generator, settings),
        openai=providers.ThreadSafeSingleton(_openai_generator, settings),
    )
    generator_capabilities = providers.Callable(lambda g: g.capabilities(), image_generator)
    generation_gate = providers.ThreadSafeSingleton(
        GenerationGate,
        limit=settings.provided.generation_concurrency,
        queue_timeout_s=settings.provided.generation_queue_timeout_s,
    )

    idempotency_store = providers.ThreadSafeSingleton(_idempotency_store, engine)
    idempotent_runner = providers.Factory(
        IdempotentRunner,
        idempotency_store,
        image_repository,
        clock,
        wait=providers.Callable(lambda s: timedelta(seconds=s.idempotency_wait_s), settings),
        stale_after=providers.Callable(_idempotency_stale_after, settings, image_generator),
    )
    # What a driving adapter's caches need to hear of this process's deletes (the web
    # adapter's content cache overrides it); the use case calls it with the deleted content.
    on_image_deleted: providers.Object[Callable[[ImageContent], None] | None] = providers.Object(
        None
    )

    image_renderer = providers.ThreadSafeSingleton(_image_renderer, settings)
    rendition_offer = providers.ThreadSafeSingleton(_rendition_offer, settings, image_renderer)
    render_gate = providers.ThreadSafeSingleton(
        GenerationGate,
        limit=settings.provided.rendition_concurrency,
        queue_timeout_s=settings.provided.rendition_queue_timeout_s,
        work="render",
        exhausted=RenditionCapacityExhausted,
    )
    # One per worker: it knows the renders in flight, so concurrent asks share one.
    renditions = providers.ThreadSafeSingleton(
        Renditions, image_repository, blob_store, image_renderer, rendition_offer, render_gate
    )

    public_images = providers.Factory(PublicImages, image_repository, blob_store)
    private_images = providers.Factory(
        PrivateImages,
        image_repository,
        blob_store,
        image_generator,
        generation_gate,
        clock,
        idempotent_runner,
        generation_metrics,
        log_prompts=settings.provided.log_prompts,
        on_deleted=on_image_deleted,
        renditions=renditions,
    )
    rendition_backfill = providers.Factory(
        RenditionBackfill, image_repository, blob_store, renditions
    )
    api_keys = providers.Factory(ApiKeys, api_key_store, clock)
    garbage_collector = providers.Factory(
        GarbageCollector, image_repository, blob_store, idempotency_store, clock, grace=GC_GRACE
    )


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)


def warm_up(container: Container) -> None:
    """Build every long-lived object the use cases need, now and in this one thread.
    Resource providers (the engine, the S3 store) are not thread-safe, and once serving
    starts they are reached from many threads at once."""
    container.private_images()
    container.public_images()
    container.api_keys()


def prepare_database(container: Container) -> None:
    """Bring the database's schema to the code's, or refuse (`SchemaMigrator.ensure_current`,
    under `PIXYPROXY_AUTO_MIGRATE`). Issues no DDL when it is already current."""
    settings: Settings = container.settings()
    container.schema_migrator().ensure_current(auto_migrate=settings.auto_migrate)
