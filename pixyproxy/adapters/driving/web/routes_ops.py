"""What operators and client authors ask the service about itself; none of it needs a key."""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import Path, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from pixyproxy.adapters.driving.web.deps import container_of
from pixyproxy.adapters.driving.web.openapi import problem_schema_ref
from pixyproxy.adapters.driving.web.problems import (
    NOT_READY,
    PROBLEM_MEDIA_TYPE,
    problem_response,
    problem_types,
)
from pixyproxy.adapters.driving.web.routing import Endpoints
from pixyproxy.adapters.driving.web.schemas import (
    CAPABILITIES_EXAMPLE,
    PROBLEM_TYPE_EXAMPLE,
    Capabilities,
    Health,
    ProblemTypeDoc,
    Readiness,
)
from pixyproxy.domain.exceptions import NotFound, PixyProxyException

operations = Endpoints("operations")
router = operations.router


def _example(value: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": value}}}}


@operations.get(
    "/healthz",
    operation_id="getHealth",
    summary="The process is up",
    response_model=Health,
    responses=_example({"status": "ok"}),
)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@operations.get(
    "/readyz",
    operation_id="getReadiness",
    summary="The database and the image store answer",
    response_model=Readiness,
    responses={
        **_example({"status": "ready", "checks": {"database": "ok", "blob_store": "ok"}}),
        503: {
            "description": "A dependency does not answer; `failing` names it.",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": problem_schema_ref(503)}},
        },
    },
)
def readyz(request: Request) -> JSONResponse:
    container = container_of(request)
    checks = {
        "database": container.image_repository().ping,
        "blob_store": container.blob_store().ping,
    }
    failing: dict[str, str] = {}
    for name, ping in checks.items():
        try:
            ping()
        except PixyProxyException as e:
            failing[name] = e.detail
    if not failing and not container.schema_ready():
        failing["database"] = "the schema is not at this pixyproxy's revision yet (see the log)"
    if failing:
        return problem_response(
            request,
            status=NOT_READY.status,
            title=NOT_READY.title,
            detail="; ".join(f"{name}: {why}" for name, why in failing.items()),
            type_name=NOT_READY.slug,
            extra={"failing": sorted(failing)},
        )
    return JSONResponse({"status": "ready", "checks": dict.fromkeys(checks, "ok")})


@operations.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text format.",
            "content": {
                CONTENT_TYPE_LATEST: {
                    "schema": {"type": "string"},
                    "example": "pixyproxy_images_stored_total 3.0\n",
                }
            },
        }
    },
)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = container_of(request).metrics_registry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several workers: sum what every worker wrote, not just the one that answers.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@operations.get(
    "/capabilities",
    operation_id="getCapabilities",
    summary="What this server accepts: model, sizes, qualities, limits, tag rules, renditions",
    response_model=Capabilities,
    responses=_example(CAPABILITIES_EXAMPLE),
)
def capabilities(request: Request) -> Capabilities:
    container = container_of(request)
    return Capabilities.of(
        container.generator_capabilities(),
        container.settings().max_body_bytes,
        container.rendition_offer(),
    )


@operations.get(
    "/problems/{slug}",
    operation_id="getProblemType",
    summary="What a problem `type` stands for",
    response_model=ProblemTypeDoc,
    problems={404: "No problem type by this name."},
    responses=_example(PROBLEM_TYPE_EXAMPLE),
)
def problem_type_doc(
    slug: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$", examples=["image-not-found"])],
) -> ProblemTypeDoc:
    kind = problem_types().get(slug)
    if kind is None:
        raise NotFound(f"no problem type is called {slug!r}")
    return ProblemTypeDoc(
        type=kind.uri, title=kind.title, status=kind.status, description=kind.description
    )
