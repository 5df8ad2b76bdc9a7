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
from pixyproxy.adapters.driving.web.content.source import CachedContent
from pixyproxy.adapters.driving.web.docs import install_docs
from pixyproxy.adapters.driving.web.loop_lag import LoopLagProbe
from pixyproxy.adapters.driving.web.metrics import HttpMetrics, register_gauges
from pixyproxy.adapters.driving.web.observability import RequestLogMiddleware, configure_logging
from pixyproxy.adapters.driving.web.openapi import complete_openapi, offer_generator_options
from pixyproxy.adapters.driving.web.problems import install_problem_handlers
from pixyproxy.adapters.driving.web.routes_images import CONTENT_PATH
from pixyproxy.adapters.driving.web.routes_images import router as images_router
from pixyproxy.adapters.driving.web.routes_ops import router as ops_router
from pixyproxy.adapters.driving.web.routing import IgnoreTrailingSlash
from pixyproxy.app.settings import Settings
from pixyproxy.bootstrap import Container, build_container, prepare_database, warm_up
from pixyproxy.domain.exceptions import PixyProxyException, SchemaMismatch

log = logging.getLogger(__name__)

SCHEMA_RETRY_S = 2.0

API_DESCRIPTION = """\
Generate images from prompts, keep them, and serve them fast.

Private operations take an API key, as `Authorization: Bearer <key>` or `X-API-Key: <key>`.
Every error is an RFC 9457 problem (`application/problem+json`) whose `type` resolves at
`GET /problems/{slug}`; a 422 lists every error of the request in `errors`. Unknown query
parameters are refused. `GET /capabilities` tells the model, sizes, qualities and limits.
The listing pages with `Link: <...>; rel="next"`, or with `envelope=true` in the body.
"""


async def _ensure_schema(container: Container) -> None:
    """Bring the schema to the code's (`prepare_database`), retrying in the background while
    the database is down or its schema does not match, so the service starts (and reports
    itself not ready) instead of crashing, and becomes ready once an operator has acted."""
    while True:
        try:
            await to_thread.run_sync(prepare_database, container)
            container.schema_ready.override(True)
            return
        except SchemaMismatch as e:
            log.error("database schema unusable (%s); retrying in %.0f s", e.detail, SCHEMA_RETRY_S)
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
    cache = content_cache or ContentCache.from_settings(settings)
    container.on_image_deleted.override(providers.Object(cache.forget))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = settings.threadpool_size
        warm_up(container)
        app.state.content_source = CachedContent(
            container.public_images(), container.renditions(), cache
        )
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
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Never a redirect to add or drop a slash: Starlette would build its absolute URL
        # from the Host header. `IgnoreTrailingSlash` serves `/image/` as `/image`.
        redirect_slashes=False,
    )
    app.openapi = lambda: _complete_openapi(app, container)  # type: ignore[method-assign]
    install_docs(app)
    app.state.container = container
    app.state.settings = settings
    app.state.content_delivery = delivery = ContentDelivery.from_settings(settings)
    app.state.content_source = None  # set when the app starts
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
            source=lambda: content_source_of(app),
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
    app.add_middleware(IgnoreTrailingSlash)
    # Added last, so it is outermost: it sees every request and every escaped exception.
    app.add_middleware(RequestLogMiddleware, metrics=HttpMetrics(registry))
    return app


def content_source_of(app: FastAPI) -> CachedContent:
    source: CachedContent = app.state.content_source
    return source


def _routes_by_method(routes: list[BaseRoute], path: str) -> dict[str, BaseRoute]:
    found: dict[str, BaseRoute] = {}
    for route in routes:
        if isinstance(route, APIRoute) and route.path == path:
            for method in route.methods or ():
                found.setdefault(method, route)
    return found


def _complete_openapi(app: FastAPI, container: Container) -> dict[str, Any]:
    if app.openapi_schema is None:
        spec = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        app.openapi_schema = offer_generator_options(
            complete_openapi(spec), container.generator_capabilities()
        )
    return app.openapi_schema


def create_app_from_env() -> FastAPI:
    """The uvicorn factory: settings come from the environment when a worker starts, before
    it accepts a connection."""
    from pixyproxy.adapters.driving.web.http_guard import GuardedHttpToolsProtocol, HttpLimits

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    GuardedHttpToolsProtocol.configure(HttpLimits.from_settings(settings))
    return create_app(settings)
