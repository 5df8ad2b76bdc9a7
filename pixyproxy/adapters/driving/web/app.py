"""`create_app(settings)`: builds the container and the FastAPI app around it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from anyio import to_thread
from dependency_injector import providers
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from pixyproxy.adapters.driving.web.body_limit import BodySizeLimitMiddleware
from pixyproxy.adapters.driving.web.content.cache import ContentCache
from pixyproxy.adapters.driving.web.content.fast_path import ContentFastPath
from pixyproxy.adapters.driving.web.content.response import ContentDelivery
from pixyproxy.adapters.driving.web.content.serving import ContentServing, content_cache_from
from pixyproxy.adapters.driving.web.loop_lag import LoopLagProbe
from pixyproxy.adapters.driving.web.metrics import HttpMetrics, register_gauges
from pixyproxy.adapters.driving.web.observability import RequestLogMiddleware, configure_logging
from pixyproxy.adapters.driving.web.problems import (
    document_problems_as_problem_json,
    install_problem_handlers,
)
from pixyproxy.adapters.driving.web.routes_images import CONTENT_PATH
from pixyproxy.adapters.driving.web.routes_images import router as images_router
from pixyproxy.adapters.driving.web.routes_ops import router as ops_router
from pixyproxy.app.settings import Settings
from pixyproxy.bootstrap import Container, build_container, init_database, warm_up
from pixyproxy.domain.exceptions import PixyProxyException

log = logging.getLogger(__name__)

SCHEMA_RETRY_S = 2.0


async def _ensure_schema(container: Container) -> None:
    """Create the schema, retrying in the background while the database is down, so the
    service starts (and reports itself not ready) instead of crashing."""
    while True:
        try:
            await to_thread.run_sync(init_database, container)
            container.schema_ready.override(True)
            return
        except PixyProxyException as e:
            log.warning("database not ready (%s); retrying in %.0f s", e.detail, SCHEMA_RETRY_S)
            await asyncio.sleep(SCHEMA_RETRY_S)


@contextlib.contextmanager
def _startup_heap_frozen() -> Iterator[None]:
    """Keep what startup built out of the garbage collector's full collections.

    A full collection walks every tracked object, and after startup that is over 150,000 objects
    (modules, schemas, clients) that never become garbage. In a wave of 256 generations one full
    collection ran per wave, took 130-190 ms with the GIL held and found nothing: the worst
    event-loop lag of the wave. With the startup objects frozen it takes 8-30 ms. Unfrozen at
    shutdown, so a process that builds many apps (the tests) keeps no garbage of theirs.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def create_app(
    settings: Settings | None = None,
    container: Container | None = None,
    *,
    content_cache: ContentCache | None = None,
    content_fast_path: bool = True,
) -> FastAPI:
    """The app over `container` (built from `settings` when not given). `content_cache`
    replaces the one built from the settings; `content_fast_path=False` leaves every content
    request to the route (to compare the two)."""
    settings = settings or Settings()
    container = container or build_container(settings)
    registry = container.metrics_registry()
    loop_lag = LoopLagProbe(registry)
    cache = content_cache or content_cache_from(settings)
    container.on_image_deleted.override(providers.Object(cache.forget))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = settings.threadpool_size
        warm_up(container)
        app.state.content = ContentServing.over(container.public_images(), cache)
        schema_task = asyncio.create_task(_ensure_schema(container))
        try:
            with _startup_heap_frozen():
                async with loop_lag.running():
                    yield
        finally:
            schema_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await schema_task
            await container.image_generator().aclose()
            container.shutdown_resources()

    app = FastAPI(
        title="pixyproxy",
        version="0.1.0",
        summary="A self-hostable image-generation gateway.",
        lifespan=lifespan,
    )
    app.openapi = lambda: _problem_aware_openapi(app)  # type: ignore[method-assign]
    app.state.container = container
    app.state.settings = settings
    app.state.content_delivery = delivery = ContentDelivery.from_settings(settings)
    app.state.content = None  # set when the app starts
    install_problem_handlers(app)
    # The routes join the app's own list: FastAPI resolves an included router's "effective
    # route context" on every request, when measured a seventh of a details request's Python
    # work (bench/RESULTS.md). The OpenAPI document is the same either way.
    for router in (images_router, ops_router):
        app.router.routes.extend(router.routes)
    if content_fast_path:
        # Added first, so it is innermost: every other middleware wraps its answers too.
        app.add_middleware(
            ContentFastPath,
            serving=lambda: content_serving_of(app),
            delivery=delivery,
            path=CONTENT_PATH,
            routes=_routes_by_method(images_router.routes, CONTENT_PATH),
        )
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "Idempotency-Key"],
            expose_headers=["Location", "Link", "ETag", "X-Request-ID", "Retry-After"],
        )
    register_gauges(
        registry,
        {
            "pixyproxy_db_pool_in_use": (
                "Database connections checked out.",
                container.db_pool_in_use,
            ),
            "pixyproxy_generations_in_flight": (
                "Generations waiting on the image model in this worker.",
                lambda: container.generation_gate().in_flight,
            ),
            "pixyproxy_content_cache_bytes": (
                "Image bytes this worker keeps in memory to serve content.",
                lambda: cache.data_bytes,
            ),
        },
    )
    # Added last, so it is outermost: it sees every request and every escaped exception.
    app.add_middleware(RequestLogMiddleware, metrics=HttpMetrics(registry))
    return app


def content_serving_of(app: FastAPI) -> ContentServing:
    serving: ContentServing = app.state.content
    return serving


def _routes_by_method(routes: list[BaseRoute], path: str) -> dict[str, BaseRoute]:
    found: dict[str, BaseRoute] = {}
    for route in routes:
        if isinstance(route, APIRoute) and route.path == path:
            for method in route.methods or ():
                found.setdefault(method, route)
    return found


def _problem_aware_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        app.openapi_schema = document_problems_as_problem_json(
            get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
        )
    return app.openapi_schema


def create_app_from_env() -> FastAPI:
    """The uvicorn factory: settings come from the environment when a worker starts."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)
