"""Liveness and readiness: neither needs a key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pixyproxy.adapters.web.deps import container_of
from pixyproxy.adapters.web.problems import problem_response
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
        failing["database"] = "the schema is not created yet"
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
