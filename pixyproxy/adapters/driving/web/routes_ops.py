"""Liveness and readiness: neither needs a key."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from pixyproxy.adapters.driving.web.deps import container_of
from pixyproxy.adapters.driving.web.problems import problem_response
from pixyproxy.domain.exceptions import PixyProxyException

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database and the image store answer",
    responses={503: {"description": "A dependency does not answer."}},
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
            status=503,
            title="Not ready",
            detail="; ".join(f"{name}: {why}" for name, why in failing.items()),
            type_name="NotReady",
            extra={"failing": sorted(failing)},
        )
    return JSONResponse({"status": "ready", "checks": dict.fromkeys(checks, "ok")})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = container_of(request).metrics_registry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several workers: sum what every worker wrote, not just the one that answers.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
