"""RFC 9457 problem details: one table from exception class to status, one renderer."""

from __future__ import annotations

import logging
import math
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pixyproxy.adapters.driving.web.observability import current_request_id
from pixyproxy.app.validation import describe_validation_errors
from pixyproxy.domain import exceptions as exc

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

# A subclass not listed inherits its nearest listed ancestor's status.
STATUS_BY_EXCEPTION: dict[type[exc.PixyProxyException], int] = {
    exc.PixyProxyException: 500,
    exc.InvalidInput: 422,
    exc.AuthenticationRequired: 401,
    exc.NotImageAuthor: 403,
    exc.NotFound: 404,
    exc.Conflict: 409,
    exc.GenerationError: 502,
    exc.ContentPolicyViolation: 422,
    exc.UpstreamRateLimited: 429,
    exc.UpstreamTimeout: 504,
    exc.ServiceUnavailable: 503,
    exc.BlobNotFound: 500,
    # The image exists but is beyond what we decode: nothing the client can fix by retrying.
    exc.ImageTooLarge: 422,
    exc.UnreadableImage: 500,
}


def status_for(exception_type: type[exc.PixyProxyException]) -> int:
    for klass in exception_type.__mro__:
        if klass in STATUS_BY_EXCEPTION:
            return STATUS_BY_EXCEPTION[klass]
    return 500


def problem_type(name: str) -> str:
    """A stable, relative problem type URI made from a name: `ImageNotFound` ->
    `/problems/image-not-found`."""
    slug = re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
    return f"/problems/{slug}"


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str,
    type_name: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(type_name),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": current_request_id(),
    }
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def exception_problem(request: Request, error: exc.PixyProxyException) -> JSONResponse:
    """The problem answering `error`: what the exception handler sends, and what code that
    answers outside FastAPI's routing (the content fast path) sends for the same error."""
    status = status_for(type(error))
    headers = {}
    if error.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after_s)))
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="pixyproxy"'
    # Missing bytes were logged, as data loss, where they were found missing.
    if status >= 500 and not isinstance(error, exc.BlobNotFound):
        log.warning("%s: %s", type(error).__name__, error.detail)
    return problem_response(
        request,
        status=status,
        title=error.title,
        detail=error.detail,
        type_name=type(error).__name__,
        headers=headers,
    )


async def _pixyproxy_exception(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, exc.PixyProxyException)
    return exception_problem(request, error)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = error.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(
            request,
            status=400,
            title="Malformed JSON body",
            detail="the request body is not valid JSON",
            type_name="MalformedJson",
        )
    return problem_response(
        request,
        status=422,
        title=exc.InvalidInput.title,
        detail=describe_validation_errors(errors),
        type_name=exc.InvalidInput.__name__,
        extra={
            "errors": [
                {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
                for e in errors
            ]
        },
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    phrase = HTTPStatus(error.status_code).phrase
    detail = error.detail if isinstance(error.detail, str) else phrase
    return problem_response(
        request,
        status=error.status_code,
        title=phrase,
        detail=detail,
        type_name=phrase.replace(" ", ""),
        headers=dict(error.headers or {}),
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(exc.PixyProxyException, _pixyproxy_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


def document_problems_as_problem_json(openapi: dict[str, Any]) -> dict[str, Any]:
    """FastAPI files every `model=` response under the route's JSON media type; our errors
    are `application/problem+json`, so move their schema there."""
    problem_ref = "#/components/schemas/Problem"
    for path in openapi.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                schema = content.get("application/json", {}).get("schema", {})
                if status.isdigit() and int(status) >= 400 and schema.get("$ref") == problem_ref:
                    del content["application/json"]
                    content[PROBLEM_MEDIA_TYPE] = {"schema": schema}
    return openapi
