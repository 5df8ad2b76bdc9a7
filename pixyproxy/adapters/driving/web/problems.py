"""RFC 9457 problem details: one table from exception class to status, one renderer.

Every 4xx and 5xx body the service sends is made by `problem_document`, whether it comes from
a route, an exception handler, a middleware or the HTTP protocol guard, so one problem type
has one shape everywhere. Each `type` is a relative URI that resolves (`GET /problems/{slug}`)
to the description kept here, and every 422 lists what was wrong in `errors[]`.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from pixyproxy.adapters.driving.web.request_context import current_request_id
from pixyproxy.app.validation import field_errors
from pixyproxy.domain import exceptions as exc

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEMS_PATH = "/problems"
# Long enough for any message of ours; what a caller sent is never quoted at length.
_MSG_MAX_CHARS = 300
_DETAIL_MAX_CHARS = 1000

# A subclass not listed inherits its nearest listed ancestor's status.
STATUS_BY_EXCEPTION: dict[type[exc.PixyProxyException], int] = {
    exc.PixyProxyException: 500,
    exc.InvalidInput: 422,
    exc.AuthenticationRequired: 401,
    exc.ConflictingCredentials: 400,
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


def slug_of(name: str) -> str:
    """`ImageNotFound` -> `image-not-found`; a slug stays as it is."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem_type(name: str) -> str:
    """The stable, relative problem type URI of a name: `ImageNotFound` ->
    `/problems/image-not-found`."""
    return f"{PROBLEMS_PATH}/{slug_of(name)}"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return f"{PROBLEMS_PATH}/{self.slug}"


# The problems the HTTP layer itself gives; the domain's come from its exception classes.
MALFORMED_JSON = ProblemType(
    "malformed-json", 400, "Malformed JSON body", "The request body is not valid JSON."
)
BAD_REQUEST = ProblemType(
    "bad-request", 400, "Bad request", "The request could not be read as sent."
)
MALFORMED_REQUEST = ProblemType(
    "malformed-request",
    400,
    "Malformed request",
    "The request is not valid HTTP/1.1; the connection is closed.",
)
METHOD_NOT_ALLOWED = ProblemType(
    "method-not-allowed",
    405,
    "Method not allowed",
    "The path exists but not with this method; `Allow` lists the methods it takes.",
)
REQUEST_TIMEOUT = ProblemType(
    "request-timeout",
    408,
    "Request timeout",
    "The request's headers or body did not arrive in time; the connection is closed.",
)
PAYLOAD_TOO_LARGE = ProblemType(
    "payload-too-large",
    413,
    "Request body too large",
    "The request body is over the limit (`max_body_bytes` in `GET /capabilities`). It is "
    "refused before it is read, whether its length was declared or it came in chunks.",
)
UNSUPPORTED_MEDIA_TYPE = ProblemType(
    "unsupported-media-type",
    415,
    "Unsupported media type",
    "Request bodies are JSON: send them with `Content-Type: application/json`.",
)
RANGE_NOT_SATISFIABLE = ProblemType(
    "range-not-satisfiable",
    416,
    "Range not satisfiable",
    "The byte range asked for lies outside the image; `Content-Range: bytes */<size>` "
    "gives its size.",
)
HEADERS_TOO_LARGE = ProblemType(
    "request-header-fields-too-large",
    431,
    "Request header fields too large",
    "The request line and headers are over the server's limit; the connection is closed.",
)
INTERNAL_ERROR = ProblemType(
    "internal-server-error",
    500,
    "Internal server error",
    "The server hit an unexpected error; the request id identifies it in the logs.",
)
NOT_READY = ProblemType(
    "not-ready",
    503,
    "Not ready",
    "A dependency (the database or the image store) does not answer; `failing` names it.",
)
TOO_MANY_CONNECTIONS = ProblemType(
    "too-many-connections",
    503,
    "Too many connections",
    "This worker holds as many connections as it may; retry shortly.",
)
_HTTP_TYPES = (
    BAD_REQUEST,
    MALFORMED_JSON,
    MALFORMED_REQUEST,
    METHOD_NOT_ALLOWED,
    REQUEST_TIMEOUT,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    RANGE_NOT_SATISFIABLE,
    HEADERS_TOO_LARGE,
    INTERNAL_ERROR,
    NOT_READY,
    TOO_MANY_CONNECTIONS,
)


def _exception_classes(root: type[exc.PixyProxyException]) -> list[type[exc.PixyProxyException]]:
    found = [root]
    for sub in root.__subclasses__():
        found += _exception_classes(sub)
    return found


def _exception_type(klass: type[exc.PixyProxyException]) -> ProblemType:
    # The root's docstring is written for developers; every other class's for callers too.
    doc = "" if klass is exc.PixyProxyException else " ".join((klass.__doc__ or "").split())
    return ProblemType(
        slug_of(klass.__name__), status_for(klass), klass.title, doc or f"{klass.title}."
    )


def problem_types() -> dict[str, ProblemType]:
    """Every problem type the service may send, by slug."""
    found = {t.slug: t for t in map(_exception_type, _exception_classes(exc.PixyProxyException))}
    found.update((t.slug, t) for t in _HTTP_TYPES)
    return found


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def problem_document(
    *,
    status: int,
    title: str,
    detail: str,
    type_name: str,
    instance: str,
    errors: Sequence[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of every problem the service sends."""
    body: dict[str, Any] = {
        "type": problem_type(type_name),
        "title": title,
        "status": status,
        "detail": _shorten(detail, _DETAIL_MAX_CHARS),
        "instance": instance,
        "request_id": current_request_id(),
    }
    if status == 422:
        listed = errors or [{"loc": [], "msg": detail, "type": slug_of(type_name)}]
        body["errors"] = [{**e, "msg": _shorten(str(e["msg"]), _MSG_MAX_CHARS)} for e in listed]
    if extra:
        body.update(extra)
    return body


def problem_bytes(kind: ProblemType, detail: str, instance: str = "") -> bytes:
    """A whole problem body for code below the framework (the HTTP protocol guard)."""
    document = problem_document(
        status=kind.status, title=kind.title, detail=detail, type_name=kind.slug, instance=instance
    )
    return json.dumps(document).encode()


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str,
    type_name: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
) -> JSONResponse:
    body = problem_document(
        status=status,
        title=title,
        detail=detail,
        type_name=type_name,
        instance=request.url.path,
        errors=errors,
        extra=extra,
    )
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def problem_of(
    request: Request, kind: ProblemType, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return problem_response(
        request,
        status=kind.status,
        title=kind.title,
        detail=detail,
        type_name=kind.slug,
        headers=headers,
    )


_LOCATIONS = ("body", "query", "header", "path")


def _where(request: Request, loc: tuple[str | int, ...]) -> list[str | int]:
    """A use case names fields as it knows them; the caller needs to know where they sent
    them (`["query", "cursor"]`), as FastAPI's own validation errors say."""
    route = request.scope.get("route")
    if not loc or loc[0] in _LOCATIONS or not isinstance(route, APIRoute):
        return list(loc)
    for kind, fields in _params_by_kind(route).items():
        for field in fields:
            if loc[0] in (field.name, field.alias):
                return [kind, field.alias, *loc[1:]]
    return ["body", *loc] if route.body_field is not None else list(loc)


def _params_by_kind(route: APIRoute) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {"query": [], "header": [], "path": []}
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        found["query"] += dependant.query_params
        found["header"] += dependant.header_params
        found["path"] += dependant.path_params
        pending += dependant.dependencies
    return found


def _errors_of(request: Request, errors: Iterable[exc.FieldError]) -> list[dict[str, Any]]:
    return [{"loc": _where(request, e.loc), "msg": e.msg, "type": e.type} for e in errors]


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
    listed = error.errors if isinstance(error, exc.InvalidInput) else ()
    return problem_response(
        request,
        status=status,
        title=error.title,
        detail=error.detail,
        type_name=type(error).__name__,
        headers=headers,
        errors=_errors_of(request, listed) if listed else None,
    )


async def _pixyproxy_exception(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, exc.PixyProxyException)
    return exception_problem(request, error)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    if any(e.get("type") == "json_invalid" for e in error.errors()):
        return problem_of(request, MALFORMED_JSON, "the request body is not valid JSON")
    invalid = exc.InvalidInput(errors=field_errors(error.errors()))
    return exception_problem(request, invalid)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
        return problem_of(request, METHOD_NOT_ALLOWED, detail, headers)
    if error.status_code == 404:
        detail = "no resource at this path"
        return await _pixyproxy_exception(request, exc.NotFound(detail))
    kind = _BY_STATUS.get(error.status_code)
    if kind is None:
        phrase = HTTPStatus(error.status_code).phrase
        kind = ProblemType(slug_of(phrase.replace(" ", "")), error.status_code, phrase, phrase)
    detail = error.detail if isinstance(error.detail, str) else kind.title
    return problem_of(request, kind, detail, headers)


# What an HTTPException of a status stands for, when the framework (not our code) raised it.
_BY_STATUS = {
    t.status: t
    for t in (
        BAD_REQUEST,
        REQUEST_TIMEOUT,
        PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        HEADERS_TOO_LARGE,
    )
}


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path, in a stable order."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return sorted(methods, key=lambda m: order.index(m) if m in order else len(order))


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(exc.PixyProxyException, _pixyproxy_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
